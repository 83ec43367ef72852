"""Errors raised by emcache_protocol.

Two families: bad input handed to an encoder (a programming error of the caller,
raised as ``TypeError`` or as :class:`ProtocolValidationError`, a ``ValueError``),
and bytes from the server that cannot be a reply (:class:`ProtocolError`, after
which the stream can no longer be trusted and the connection must be closed).
"""

from __future__ import annotations

__all__ = ["ProtocolError", "ProtocolValidationError"]


class ProtocolError(Exception):
    """The server sent bytes that cannot be a valid reply to the expected request."""


class ProtocolValidationError(ValueError):
    """An encoder argument has the right type but a value the protocol cannot carry."""
