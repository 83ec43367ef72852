"""Credentials: validation, and a password that never shows."""

from __future__ import annotations

import pickle

import pytest

from emcache_auth import Credentials

PASSWORD = "Hunter2-never-shown"


def test_credentials_repr_shows_username_only() -> None:
    """repr and str name the user and leave the password out."""
    credentials = Credentials("alice", PASSWORD)
    for text in (repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}"):
        assert "alice" in text
        assert PASSWORD not in text
    assert repr(credentials) == "Credentials(username='alice')"


def test_credentials_repr_inside_containers_hides_password() -> None:
    """Containers holding credentials do not show the password either."""
    text = repr({"creds": [Credentials("alice", PASSWORD)]})
    assert PASSWORD not in text


def test_credentials_keep_both_fields() -> None:
    """The fields hold what was given, positionally or by name."""
    credentials = Credentials(username="alice", password=PASSWORD)
    assert credentials.username == "alice"
    assert credentials.password == PASSWORD
    assert credentials == Credentials("alice", PASSWORD)


def test_credentials_are_frozen() -> None:
    """Credentials cannot be changed after they are created."""
    credentials = Credentials("alice", PASSWORD)
    with pytest.raises(AttributeError):
        credentials.password = "other"  # type: ignore[misc]


def test_credentials_survive_pickling() -> None:
    """Credentials can be pickled, e.g. to hand a client config to a worker process."""
    credentials = Credentials("alice", PASSWORD)
    assert pickle.loads(pickle.dumps(credentials)) == credentials


@pytest.mark.parametrize(
    "username", ["", "al ice", "alice\n", "tab\tbed", "nul\0", "del\x7f", "u" * 251, "é" * 126]
)
def test_credentials_reject_bad_username(username: str) -> None:
    """A username that memcached could not read back is refused."""
    with pytest.raises(ValueError, match="username") as info:
        Credentials(username, PASSWORD)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    "password", ["", "line\nbreak" + PASSWORD, PASSWORD + "\r\n", PASSWORD + "\0"]
)
def test_credentials_reject_bad_password_without_showing_it(password: str) -> None:
    """A password memcached could never accept is refused with a message that does not quote it."""
    with pytest.raises(ValueError, match="password") as info:
        Credentials("alice", password)
    assert str(info.value) == (
        "password must be a non-empty str without line breaks or NUL characters"
    )


@pytest.mark.parametrize(("username", "password"), [(b"alice", PASSWORD), ("alice", None)])
def test_credentials_reject_wrong_types(username: object, password: object) -> None:
    """Both fields must be str; the message names the type, not the value."""
    with pytest.raises(TypeError) as info:
        Credentials(username, password)  # type: ignore[arg-type]
    assert "alice" not in str(info.value)


def test_credentials_allow_spaces_in_password() -> None:
    """A password may hold spaces: recent memcached splits the block at its first space only."""
    credentials = Credentials("alice", "correct horse battery staple")
    assert credentials.password == "correct horse battery staple"


def test_credentials_accept_longest_username() -> None:
    """A username of exactly 250 bytes in UTF-8 is accepted."""
    assert Credentials("é" * 125, PASSWORD).username == "é" * 125


def test_credentials_reject_unencodable_password_without_showing_it() -> None:
    """A password with a lone surrogate is refused without quoting any of it."""
    with pytest.raises(ValueError, match="UTF-8") as info:
        Credentials("alice", PASSWORD + "\ud800")
    assert PASSWORD not in str(info.value)
    assert info.value.__context__ is None
