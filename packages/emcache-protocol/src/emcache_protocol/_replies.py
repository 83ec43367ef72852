"""The typed results the parser produces, and the kinds of reply it can expect.

A memcached text reply says nothing about which request it answers, so the
caller tells the parser what it expects (:class:`ReplyKind`) for the request at
the head of its queue. Results are small immutable values; :class:`Value` is a
``NamedTuple`` because the parser builds one per hit on the hot path.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, NamedTuple

import attrs

__all__ = [
    "NEED_DATA",
    "ClusterConfig",
    "ConfigNode",
    "ErrorReply",
    "NeedData",
    "ReplyKind",
    "StatsReply",
    "Status",
    "Value",
    "VersionReply",
]


class ReplyKind(enum.Enum):
    """The shape of the reply a request expects.

    Attributes:
        STORAGE: set/add/replace/append/prepend/cas and the auth request; a :class:`Status`
            among STORED, NOT_STORED, EXISTS and NOT_FOUND.
        RETRIEVAL: get/gat; a list of :class:`Value` in server order (maybe empty).
        RETRIEVAL_CAS: gets/gats; like ``RETRIEVAL``, and every ``VALUE`` line must carry a
            cas unique (a line without one raises :class:`ProtocolError`).
        INCR_DECR: the new value as an ``int``, or ``Status.NOT_FOUND``.
        TOUCH: ``Status.TOUCHED`` or ``Status.NOT_FOUND``.
        DELETE: ``Status.DELETED`` or ``Status.NOT_FOUND``.
        OK: flush_all, verbosity, cache_memlimit; ``Status.OK``.
        VERSION: a :class:`VersionReply`.
        STATS: a :class:`StatsReply`; an :class:`ErrorReply` for a reply over the parser's
            size bound, which is read to its end and dropped.
        CONFIG: ``config get cluster``; a :class:`ClusterConfig`, or ``None`` when the
            server answers a bare ``END``.
        META_GET: ``mg``; a :class:`MetaResult` with status ``VA``, ``HD`` or ``EN``.
        META_SET: ``ms``; a :class:`MetaResult` with status ``HD``, ``NS``, ``EX`` or ``NF``.
        META_DELETE: ``md``; a :class:`MetaResult` with status ``HD``, ``NF`` or ``EX``.
        META_ARITHMETIC: ``ma``; a :class:`MetaResult` with status ``HD``, ``VA``, ``NF``,
            ``NS`` or ``EX``.
        META_NOOP: ``mn``; ``MetaStatus.MN``.
        META_BATCH: quiet meta requests closed by ``mn``; a list with one entry per request
            (see :func:`meta_batch_command`).
    """

    STORAGE = "storage"
    RETRIEVAL = "retrieval"
    RETRIEVAL_CAS = "retrieval_cas"
    INCR_DECR = "incr_decr"
    TOUCH = "touch"
    DELETE = "delete"
    OK = "ok"
    VERSION = "version"
    STATS = "stats"
    CONFIG = "config"
    META_GET = "meta_get"
    META_SET = "meta_set"
    META_DELETE = "meta_delete"
    META_ARITHMETIC = "meta_arithmetic"
    META_NOOP = "meta_noop"
    META_BATCH = "meta_batch"


class Status(enum.Enum):
    """A one-word reply line."""

    STORED = "STORED"
    NOT_STORED = "NOT_STORED"
    EXISTS = "EXISTS"
    NOT_FOUND = "NOT_FOUND"
    TOUCHED = "TOUCHED"
    DELETED = "DELETED"
    OK = "OK"


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA` (a one-member enum, so that ``is`` narrows it)."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"

    __str__ = __repr__


NEED_DATA: Final = NeedData.NEED_DATA
"""Returned by :meth:`ResponseParser.next_reply` until the expected reply is complete."""


class Value(NamedTuple):
    """One item of a retrieval reply.

    Attributes:
        key: The key, as the caller requested it.
        flags: The client flags stored with the item (0..2**32-1).
        value: The data block.
        cas: The CAS unique for gets/gats, ``None`` for get/gat.
    """

    key: bytes
    flags: int
    value: bytes
    cas: int | None


@attrs.frozen
class ErrorReply:
    """An error line; any request may get one instead of its normal reply.

    The stream stays in sync after an error reply: it is the whole reply, except for the
    lines :attr:`loses_pairing` names.

    Attributes:
        kind: ``"ERROR"`` (unknown command), ``"CLIENT_ERROR"`` (bad request) or
            ``"SERVER_ERROR"`` (the server failed to serve a good request).
        message: The text after the kind, empty when there is none.
    """

    kind: Literal["ERROR", "CLIENT_ERROR", "SERVER_ERROR"]
    message: str

    @property
    def loses_pairing(self) -> bool:
        """Whether this line may answer several requests at once, so that the stream is lost.

        memcached 1.6 answers the commands of a connection that has not authenticated to a
        server started with ``-Y`` with one ``CLIENT_ERROR unauthenticated`` per read and
        drops every other command of that read. After such a line, replies no longer match
        requests one to one: the connection must be closed and every request on it failed.
        """
        return self.kind == "CLIENT_ERROR" and self.message == "unauthenticated"


@attrs.frozen
class VersionReply:
    """The answer to ``version``.

    Attributes:
        version: The server version string, e.g. ``"1.6.21"``.
    """

    version: str


@attrs.frozen
class StatsReply:
    """The answer to ``stats``: every line of the reply, in order.

    Each line maps its first token to the rest of the line, as raw text:
    ``STAT <name> <value>`` gives ``name -> value``; ``stats cachedump`` answers
    ``ITEM <key> [<size> b; <exptime> s]``, giving ``key -> "[<size> b; <exptime> s]"``;
    ``stats detail dump`` answers ``PREFIX <prefix> get <n> hit <n> set <n> del <n>``,
    giving ``prefix -> "get <n> hit <n> set <n> del <n>"``.

    Attributes:
        stats: Names mapped to their raw text values.
    """

    stats: dict[str, str]


@attrs.frozen
class ConfigNode:
    """One node of an autodiscovery configuration.

    Attributes:
        host: The node host name.
        ip: The node IP address (may be empty).
        port: The node TCP port.
    """

    host: str
    ip: str
    port: int


@attrs.frozen
class ClusterConfig:
    """The answer to ``config get cluster`` (AWS ElastiCache / GCP Memorystore).

    Attributes:
        version: The configuration version; it grows when the node list changes.
        nodes: The cache nodes, in the endpoint's order.
    """

    version: int
    nodes: tuple[ConfigNode, ...]
