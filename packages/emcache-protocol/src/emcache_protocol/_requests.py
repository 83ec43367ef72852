"""Typed requests: the bytes to send, and what their reply will be.

Strategy. A memcached text reply says nothing about which request it answers, so
the reader of a connection must know, for the request at the head of its queue,
what shape of reply to expect. Each encoder therefore returns a :class:`Request`
that carries its bytes *and* its :class:`~emcache_protocol.ReplyKind` (plus, for
retrievals, the keys asked for, so that a value is never handed out under
another key). The type parameter is the reply's type: ``storage_command`` gives
a ``Request[Status]``, ``retrieval_command`` a ``Request[list[Value]]``. The
parser, the connection and the pool are generic over it, so the caller of
``pool.execute(request)`` gets ``Status | ErrorReply`` back, typed, and an
encoder can no longer be paired with the wrong reply kind.

A request is a ``NamedTuple``: one is built per operation on the hot path, and
``tuple.__new__`` is the cheapest way to build an immutable object in CPython.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Generic, NamedTuple, TypeVar

from emcache_protocol._meta_replies import MetaResult, MetaStatus
from emcache_protocol._replies import (
    ClusterConfig,
    ErrorReply,
    ReplyKind,
    StatsReply,
    Status,
    Value,
    VersionReply,
)

__all__ = [
    "ConfigRequest",
    "IncrDecrRequest",
    "MetaBatchRequest",
    "MetaNoopRequest",
    "MetaRequest",
    "Request",
    "RetrievalRequest",
    "StatsRequest",
    "StatusRequest",
    "VersionRequest",
    "new_request",
]

T_co = TypeVar("T_co", covariant=True)


class Request(NamedTuple, Generic[T_co]):
    """One encoded request whose reply is a ``T_co`` (or an :class:`ErrorReply`).

    Build requests with the encoders (``storage_command`` ...), not by hand: the
    encoder is what guarantees that ``data`` is valid and that ``kind`` fits it.

    Attributes:
        data: The bytes to write: the command line, and the data block if any.
        kind: The kind of reply the request expects.
        keys: For retrievals, the keys asked for, in request order; for a meta request, its
            one key; for a meta batch, the key of each of its requests; else ``None``.
    """

    data: bytes
    kind: ReplyKind
    keys: Sequence[bytes] | None = None

    def __repr__(self) -> str:
        # Never the bytes: they may hold values or, for the auth request, credentials.
        keys = "" if self.keys is None else f", {len(self.keys)} keys"
        return f"<Request {self.kind.value} of {len(self.data)} bytes{keys}>"


StatusRequest = Request[Status]
"""Storage, touch, delete, flush_all, verbosity, cache_memlimit and the auth request."""
RetrievalRequest = Request[list[Value]]
"""get, gets, gat, gats: the values found, in request order (misses skipped)."""
IncrDecrRequest = Request[int | Status]
"""incr, decr: the new value, or ``Status.NOT_FOUND``."""
VersionRequest = Request[VersionReply]
"""version."""
StatsRequest = Request[StatsReply]
"""stats."""
ConfigRequest = Request[ClusterConfig | None]
"""``config get cluster``: the configuration, or ``None`` for a bare ``END``."""
MetaRequest = Request[MetaResult]
"""mg, ms, md, ma."""
MetaNoopRequest = Request[MetaStatus]
"""mn: ``MetaStatus.MN``."""
MetaBatchRequest = Request[list[MetaResult | ErrorReply | None]]
"""Quiet meta requests closed by ``mn``: one entry per request, ``None`` where the server
kept its nominal reply to itself (see :func:`~emcache_protocol.meta_batch_command`)."""

new_request: Final = tuple.__new__
"""``new_request(Request, (data, kind, keys))`` builds a request without the Python-level
``__new__`` of the named tuple (encoders only: it checks nothing)."""
