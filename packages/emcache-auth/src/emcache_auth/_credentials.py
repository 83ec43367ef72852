"""The username and password a client authenticates with.

memcached's ascii authentication sends ``<username> <password>`` as the data
block of a ``set`` and splits it at the first space, so a username cannot hold
whitespace; an empty token is answered with ``bad authentication token
format``. Both are checked here, when the client is created, along with the
limits of the request encoder (a username of at most 250 bytes).

The password must never reach a repr, a log record or an exception message:
the field is left out of the repr, and validation errors name the field, never
its value.
"""

from __future__ import annotations

import attrs

__all__ = ["Credentials"]

# The username goes where a key goes in a set command, so it obeys the key length limit.
_MAX_USERNAME_BYTES = 250


def _check_username(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        msg = f"username must be a str, got {type(value).__name__}"
        raise TypeError(msg)
    if not value or any(char.isspace() or not char.isprintable() for char in value):
        msg = "username must be a non-empty str without whitespace or control characters"
        raise ValueError(msg)
    if len(value.encode()) > _MAX_USERNAME_BYTES:
        msg = f"username must be at most {_MAX_USERNAME_BYTES} bytes in UTF-8"
        raise ValueError(msg)


def _check_password(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        msg = f"password must be a str, got {type(value).__name__}"
        raise TypeError(msg)
    if not value or any(char in value for char in "\r\n\0"):
        msg = "password must be a non-empty str without line breaks or NUL characters"
        raise ValueError(msg)
    if not _is_utf8_encodable(value):
        # The codec's own message would quote the offending character.
        msg = "password must be encodable as UTF-8"
        raise ValueError(msg)


def _is_utf8_encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@attrs.frozen
class Credentials:
    """A username and password for memcached's ascii authentication (``memcached -Y``).

    The repr shows the username only.

    Attributes:
        username: The user name, as written in the server's auth file.
        password: The password; never shown.

    Raises:
        TypeError: A field is not a str.
        ValueError: The username is empty, longer than 250 bytes or holds
            whitespace, or the password is empty or holds a line break.
    """

    username: str = attrs.field(validator=_check_username)
    password: str = attrs.field(repr=False, validator=_check_password)
