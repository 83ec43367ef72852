"""TLS settings and the client ``ssl.SSLContext`` built from them.

The context is built once, when the client is created, so a wrong setting (a
CA file that is missing, unreadable or holds no certificate) fails there with a
:class:`~emcache_auth.errors.TLSConfigError` instead of at the first operation.

Verification is on unless turned off explicitly: the default context checks
the certificate chain against the system trust store and the certificate's
names against the hostname the caller connects to (``server_hostname``). An
extra CA file is added on top of the system store, never instead of it.
"""

from __future__ import annotations

import os
import ssl

import attrs

from emcache_auth.errors import TLSConfigError

__all__ = ["TLSConfig", "build_ssl_context"]

_PathType = (str, os.PathLike)


@attrs.frozen(kw_only=True)
class TLSConfig:
    """How a client talks TLS to memcached.

    Attributes:
        ssl: Use TLS. When false the other settings are ignored.
        ssl_verify: Verify the server certificate chain and hostname. Turning
            it off accepts any certificate (and so any server).
        ssl_extra_ca: Path of a PEM file with CA certificates trusted in
            addition to the system trust store.
    """

    ssl: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    ssl_verify: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    ssl_extra_ca: str | os.PathLike[str] | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(_PathType))
    )


def build_ssl_context(config: TLSConfig) -> ssl.SSLContext | None:
    """Build the client SSL context described by ``config``.

    Args:
        config: The TLS settings.

    Returns:
        ``None`` when ``config.ssl`` is false, otherwise a client context:
        ``CERT_REQUIRED`` with hostname checking, or ``CERT_NONE`` without it
        when ``config.ssl_verify`` is false.

    Raises:
        TLSConfigError: ``config.ssl_extra_ca`` cannot be loaded.
    """
    if not config.ssl:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if config.ssl_extra_ca is not None:
        _load_extra_ca(context, os.fspath(config.ssl_extra_ca))
    if not config.ssl_verify:
        # check_hostname must go first: CERT_NONE is refused while it is on.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_extra_ca(context: ssl.SSLContext, path: str) -> None:
    try:
        context.load_verify_locations(cafile=path)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or str(exc)
        msg = f"cannot load the CA file {path!r} given as ssl_extra_ca: {reason}"
        raise TLSConfigError(msg) from exc
