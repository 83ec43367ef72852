"""Quiet batches of meta requests: encoding them, and filing their replies.

Strategy. A batch is one :class:`~emcache_protocol.Request` whose bytes are its meta
requests, each in quiet mode (``q``) with the opaque token of its position, and a
closing ``mn``. memcached processes the requests of a connection in order, keeps the
nominal replies of quiet requests to itself, and answers ``mn`` with ``MN`` once every
request before it is processed (protocol.txt, "Meta No-Op"). So the batch's reply is
every reply up to ``MN``, and a connection can queue the batch as one request: the
pairing of replies to requests, cancellation and timeouts work as for any other.

Invariants. A reply is filed under the position its opaque token names; positions
only grow (memcached answers in order), so a reply out of order, twice for one
request, or for no request of the batch means the stream is lost and raises
:class:`~emcache_protocol.ProtocolError`. Error lines carry no token: the ones read
since the last reply belong to the silent requests since that reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from emcache_protocol._grammar import shown
from emcache_protocol._meta_replies import MetaResult
from emcache_protocol._replies import ErrorReply, ReplyKind
from emcache_protocol._requests import (
    MetaBatchRequest,
    MetaNoopRequest,
    MetaRequest,
    Request,
    new_request,
)
from emcache_protocol.errors import ProtocolError, ProtocolValidationError

__all__ = ["BatchReplies", "command_ends", "meta_batch_command", "meta_noop_command"]

# Where the flags of each request that may join a batch start among the tokens of its line.
_FIRST_FLAG: Final = {
    ReplyKind.META_GET: 2,
    ReplyKind.META_SET: 3,
    ReplyKind.META_DELETE: 2,
    ReplyKind.META_ARITHMETIC: 2,
}
_NOOP: Final = new_request(Request, (b"mn\r\n", ReplyKind.META_NOOP, None))


def meta_noop_command() -> MetaNoopRequest:
    """Encode ``mn``; its reply is ``MetaStatus.MN`` (``ERROR`` from a server without meta)."""
    return _NOOP


def meta_batch_command(requests: Iterable[MetaRequest]) -> MetaBatchRequest:
    """Encode meta requests as one quiet batch, closed by ``mn``.

    Each request is sent in quiet mode (``q``) with its position as opaque token
    (``O0``, ``O1``, ...). memcached keeps the nominal replies to itself (the ``EN``
    of a missed ``mg``, the ``HD`` of a stored ``ms``, a deleted ``md``, a done ``ma``)
    and sends every other one, then ``MN`` once it has processed the whole batch. The
    parser puts each reply at the position its opaque token names; a reply for no
    request of the batch, or out of order, raises :class:`ProtocolError`.

    Error lines carry no opaque token. One that falls between the replies of two
    requests belongs to one of the silent requests between them: when there are as
    many error lines as silent requests there, each gets its own; otherwise each of
    those requests gets an :class:`ErrorReply` saying that it may have failed.

    Args:
        requests: Requests built by :func:`meta_get_command`, :func:`meta_set_command`,
            :func:`meta_delete_command` or :func:`meta_arithmetic_command`, without an
            opaque token of their own. Any number, none included.

    Returns:
        The request; its reply is a list with one entry per request, in order: the
        request's :class:`MetaResult`, its :class:`ErrorReply`, or ``None`` when the
        server kept the nominal reply to itself.

    Raises:
        TypeError: An entry is not a request.
        ProtocolValidationError: An entry is not a mg/ms/md/ma request, or carries an
            opaque token (a ``ValueError``).
    """
    parts: list[bytes] = []
    keys: list[bytes] = []
    for index, request in enumerate(requests):
        given: object = request  # callers without type checking may pass anything
        if not isinstance(given, Request):
            msg = f"a batch holds requests, not {type(given).__name__}"
            raise TypeError(msg)
        data, kind, request_keys = request
        first_flag = _FIRST_FLAG.get(kind)
        if first_flag is None or not request_keys:
            msg = f"a batch holds mg, ms, md and ma requests, not {kind.value}"
            raise ProtocolValidationError(msg)
        eol = data.index(b"\r\n")
        line = data[:eol]
        for token in line.split(b" ")[first_flag:]:
            if token[:1] in (b"O", b"q"):
                msg = "a request in a batch must not carry its own opaque token"
                raise ProtocolValidationError(msg)
        parts.append(line)
        parts.append(b" q O%d" % index)
        parts.append(data[eol:])
        keys.append(request_keys[0])
    parts.append(b"mn\r\n")
    return new_request(Request, (b"".join(parts), ReplyKind.META_BATCH, keys))


def command_ends(request: Request[Any]) -> list[int]:
    """The offsets in ``request.data`` just past each command it holds, in order.

    Most requests hold one command; a meta batch holds one per request and the closing
    ``mn``. A writer that must cut a long request (memcached before 1.6.39 can leave the
    end of a TLS record unread when a data block ends inside it) cuts it at these offsets,
    so that every piece ends with a whole command.

    Args:
        request: A request built by an encoder of this package.

    Returns:
        The offsets, increasing; the last is ``len(request.data)``.
    """
    data, kind, _ = request
    if kind is not ReplyKind.META_BATCH:
        return [len(data)]
    ends = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\r\n", pos) + 2
        if data.startswith(b"ms ", pos):  # ms <key> <length> ...: the data block follows
            end += int(data[pos:end].split(b" ", 3)[2]) + 2
        ends.append(end)
        pos = end
    return ends


class BatchReplies:
    """The replies of a quiet batch read so far, and the error lines not yet placed."""

    __slots__ = ("errors", "next", "results", "seen_errors")

    def __init__(self, count: int) -> None:
        self.results: list[MetaResult | ErrorReply | None] = [None] * count
        self.next = 0  # the first position that may still get a reply
        self.errors: list[ErrorReply] = []  # error lines since the last reply
        self.seen_errors = 0

    def add_error(self, error: ErrorReply) -> None:
        self.seen_errors += 1
        if self.seen_errors > len(self.results):
            msg = f"more error lines than the {len(self.results)} requests of a meta batch"
            raise ProtocolError(msg)
        self.errors.append(error)

    def add(self, result: MetaResult, keys: Sequence[bytes]) -> None:
        opaque = result.opaque
        if opaque is None or not opaque.isdigit() or len(opaque) > 10:
            msg = f"a reply in a meta batch without a token of the batch: {result.status.value}"
            raise ProtocolError(msg)
        index = int(opaque)
        if index >= len(self.results) or index < self.next:
            msg = f"a reply in a meta batch for request {index}, expected one from {self.next}"
            raise ProtocolError(msg)
        if result.key is not None and result.key != keys[index]:
            msg = f"a reply in a meta batch for key {shown(result.key)}, not {shown(keys[index])}"
            raise ProtocolError(msg)
        if self.errors:
            self._place_errors(index)
        self.results[index] = result
        self.next = index + 1

    def finish(self) -> list[MetaResult | ErrorReply | None]:
        if self.errors:
            self._place_errors(len(self.results))
        return self.results

    def _place_errors(self, stop: int) -> None:
        """Give the error lines read since the last reply to the silent requests before ``stop``."""
        errors = self.errors
        low = self.next
        silent = stop - low
        if len(errors) > silent:
            msg = f"{len(errors)} error lines for {silent} silent requests of a meta batch"
            raise ProtocolError(msg)
        if len(errors) == silent:
            self.results[low:stop] = errors
        else:
            messages = "; ".join(dict.fromkeys(f"{e.kind} {e.message}".rstrip() for e in errors))
            note = (
                f"{messages} ({len(errors)} error lines for {silent} quiet requests"
                " of a batch: this one may have failed)"
            )
            self.results[low:stop] = [ErrorReply(errors[0].kind, note)] * silent
        self.errors = []
