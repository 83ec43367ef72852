"""One connection to a memcached node: an :class:`asyncio.BufferedProtocol` that pipelines requests.

Strategy. The caller hands over a typed :class:`~emcache_protocol.Request`. ``enqueue`` appends
its bytes to a write list and a pending entry ``(waiter, request)`` to a FIFO; the first
request of a loop iteration schedules one flush with ``loop.call_soon``, so every request
queued during that iteration leaves in a single ``transport.write``. One exception: a lone
caller, one that waits for each reply before its next request, would pay a whole loop
iteration per request for a flush that has nothing to coalesce. So when the last flush
carried a single request on an otherwise idle connection, a request made while nothing is in
flight is written at once; the requests made after it in the same iteration are coalesced as
usual, and the first flush that carries more turns this off again. What arrives feeds
the sans-IO :class:`~emcache_protocol.ResponseParser` and resolves the pending entries in
order: memcached answers the requests of one connection in the order it read them.

Reading. The connection is a buffered protocol: the transport reads into a buffer the
connection hands it. That is a reusable 64 KiB buffer, copied out as one ``bytes`` per read,
except while the parser reads a large value (see ``emcache_protocol``): then the transport
reads straight into that value's own buffer, so the bytes of a large value are written once
and held once, where asyncio's own reads would allocate 256 KiB each time on top.

Invariants.

* One pending entry per request written, in write order, until its reply is parsed. A caller
  that gives up (cancelled or timed out) leaves its entry in place: its reply is still read
  and then dropped, so it can never be handed to the caller behind it. A ``noreply`` request
  is sent as a normal request with no future; its reply (even an error line) is dropped the
  same way, so it never shifts the replies of others.
* Bytes that do not parse as the reply of the head entry, or bytes that arrive when nothing
  is pending, mean the stream lost its place: the connection is aborted and every pending
  request fails with :class:`~emcache_pool.errors.ServerProtocolError`.
* An error reply that the server gives for a whole burst of requests at once (see
  :attr:`~emcache_protocol.ErrorReply.loses_pairing`, memcached's answer to an unauthenticated
  connection) goes to the head request; the connection is then aborted and every other
  pending request fails with :class:`~emcache_pool.errors.PairingLostError` carrying that
  reply. No later reply can reach the wrong caller, and nobody waits for a reply that the
  server dropped.
* When the connection dies (lost, aborted or closed), every pending request fails at once
  and the owner is told through its close callback, exactly once.
* While the transport asks to pause writing, flushes are held back; ``resume_writing``
  flushes what accumulated. Callers that do not wait for replies (``noreply``) wait in
  :meth:`Connection.drain` instead once too many bytes are queued, so they cannot queue
  without bound nor keep the loop from running.

TLS. memcached before 1.6.39 can leave requests unread in its TLS layer when a data block
ends inside a TLS record: the rest of that record stays decrypted in OpenSSL's buffer while the
server waits for the socket, and if it was the last record of a burst the last replies never
come. So on TLS the queued requests are written in chunks of whole requests of at most one TLS
record (16 KiB), a longer request alone: a record then never ends inside a data block that is
followed by more requests; a request that holds many commands (a quiet meta batch) is cut
between its commands for this. As a safety net, a TLS connection the pool serves with (see
:meth:`Connection.watch_stalls`) that has requests in flight and receives nothing for
``_NUDGE_AFTER`` writes one ``version`` request, whose reply is read and dropped: any new
bytes make the server read its buffer again.

Pending entries are plain tuples: cheaper to build than any object, and immutable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, cast

from emcache_pool.errors import ConnectionLostError, PairingLostError, ServerProtocolError
from emcache_protocol import (
    NEED_DATA,
    ErrorReply,
    ProtocolError,
    Request,
    ResponseParser,
    command_ends,
    version_command,
)

__all__ = ["Connection", "ErrorFactory"]

logger = logging.getLogger("emcache.pool")

# Bytes queued for writing past which a caller that does not wait for its reply waits for
# the queue to be written (see Connection.drain).
_DRAIN_ABOVE = 64 * 1024
# The largest TLS record payload: whole requests are packed into writes of at most this.
_TLS_RECORD = 16 * 1024
# A flush of this many bytes or more is written request by request (see _write_while_taken);
# a request this long or longer is never joined to others.
_JOIN_BELOW = 256 * 1024
# The buffer the transport reads into, except the bytes of a large value: _READ_SIZE, or
# _READ_WIDE while replies arrive faster than that (see Connection.buffer_updated).
_READ_SIZE = 64 * 1024
_READ_WIDE = 256 * 1024
_READ_NARROW_BELOW = 16 * 1024
# Silence, with requests in flight on a watched TLS connection, after which it is nudged.
_NUDGE_AFTER = 0.05
_NUDGE = version_command()

_Pending: TypeAlias = tuple["asyncio.Future[Any] | None", "Request[Any]"]
ErrorFactory: TypeAlias = Callable[[], BaseException]
T = TypeVar("T")


class Connection(asyncio.BufferedProtocol):
    """A pipelined connection to one memcached node.

    Obtain one with :func:`open_connection` (the pool does). Many requests may be in flight at
    once; replies are matched to requests in order.

    Attributes:
        label: The node, as ``host:port`` or a socket path, for messages.
        max_depth: The largest number of requests seen in flight after a write.
        flushes: How many writes were made (the pool uses it to find idle connections).
        reads: How many times bytes arrived (the pool uses it to find silent connections).
        replied: How many replies were read: the request sent ``n``-th (from 0) has its reply
            once ``replied > n`` (the pool uses it to keep writes to one key in order).
    """

    __slots__ = (
        "_closed",
        "_dead",
        "_drained",
        "_error_factory",
        "_flush_scheduled",
        "_into_value",
        "_loop",
        "_nudge_handle",
        "_nudge_position",
        "_nudge_reads",
        "_on_close",
        "_on_drained",
        "_parser",
        "_paused",
        "_pending",
        "_read_buffer",
        "_read_narrow",
        "_read_view",
        "_solo",
        "_tls",
        "_transport",
        "_wbuf",
        "_wbuf_size",
        "flushes",
        "label",
        "max_depth",
        "reads",
        "replied",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        self._loop = loop
        self.label = label
        self._parser = ResponseParser()
        self._read_buffer: memoryview | None = None  # _READ_WIDE bytes, made on the first read
        self._read_narrow: memoryview | None = None  # its first _READ_SIZE bytes
        self._read_view: memoryview | None = None  # the one of the two the next read goes to
        self._into_value = False
        self._pending: deque[_Pending] = deque()
        self._wbuf: list[bytes] = []
        self._wbuf_size = 0
        self._drained: asyncio.Future[None] | None = None
        self._flush_scheduled = False
        self._solo = False
        self._paused = False
        self._transport: asyncio.Transport | None = None
        self._tls = False
        self._nudge_handle: asyncio.TimerHandle | None = None
        self._nudge_reads = -1  # -1: not watched
        self._nudge_position = -1
        self._dead = False
        self._error_factory: ErrorFactory = self._lost_error
        self._closed: asyncio.Future[None] = loop.create_future()
        self._on_close: Callable[[Connection], None] | None = None
        self._on_drained: Callable[[Connection], None] | None = None
        self.max_depth = 0
        self.flushes = 0
        self.reads = 0
        self.replied = 0

    def __repr__(self) -> str:
        state = "closed" if self._dead else "open"
        return f"<Connection {self.label} {state} in_flight={len(self._pending)}>"

    # -- requests ---------------------------------------------------------------------------

    async def execute(self, request: Request[T]) -> T | ErrorReply:
        """Send one request and return its reply (for one-off users: a handshake, a probe).

        Args:
            request: The request, as produced by an ``emcache_protocol`` encoder.

        Returns:
            The typed reply of the request, or the :class:`~emcache_protocol.ErrorReply`
            the node sent instead.

        Raises:
            ConnectionLostError: The connection closed before the reply arrived.
            ServerProtocolError: The node sent bytes that do not fit; the connection closed.
        """
        waiter: asyncio.Future[T | ErrorReply] = self._loop.create_future()
        self.enqueue(request, waiter)
        return await waiter

    def enqueue(self, request: Request[T], waiter: asyncio.Future[T | ErrorReply] | None) -> None:
        """Queue one request; its reply resolves ``waiter``, or is dropped when it is ``None``.

        The waiter may be cancelled or given an exception by its owner meanwhile: the reply
        is then read and dropped just the same, so it never reaches another request.

        Raises:
            ConnectionLostError: The connection is closed (or the error it closed with).
        """
        if self._dead:
            raise self._error_factory()
        self._pending.append((waiter, request))
        data = request[0]
        if self._tls and len(data) > _TLS_RECORD:
            self._wbuf.extend(_whole_commands(request))  # so that records end between them
        else:
            self._wbuf.append(data)
        self._wbuf_size += len(data)
        if not self._flush_scheduled:
            if self._solo and len(self._pending) == 1:
                self._flush()  # a lone caller: its request goes out now (see the module)
                return
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    @property
    def in_flight(self) -> int:
        """Requests written or queued whose reply has not been read yet."""
        return len(self._pending)

    @property
    def is_closed(self) -> bool:
        """Whether the connection stopped serving requests."""
        return self._dead

    def position_of(self, fut: asyncio.Future[Any]) -> int | None:
        """The position (see :attr:`replied`) of the request of ``fut`` while it is in flight.

        ``None`` once its reply was read or the connection closed. Scans the requests in
        flight: meant for the rare caller that gave up on its request.
        """
        if not self._dead:
            for index, entry in enumerate(self._pending):
                if entry[0] is fut:
                    return self.replied + index
        return None

    @property
    def needs_drain(self) -> bool:
        """Whether a caller that queued a request without waiting should :meth:`drain`."""
        return self._paused or self._wbuf_size > _DRAIN_ABOVE

    async def drain(self) -> None:
        """Let the loop write what is queued; wait while the transport asks to pause.

        Returns at once (after one loop iteration) when the connection is closed: the
        requests queued on it have failed already.
        """
        if not self._paused or self._dead:
            await asyncio.sleep(0)
            return
        if self._drained is None:
            self._drained = self._loop.create_future()
        await asyncio.shield(self._drained)

    def _flush(self) -> None:
        self._flush_scheduled = False
        transport = self._transport
        if self._paused or transport is None or self._dead:
            return
        buf = self._wbuf
        if not buf:
            return
        self.flushes += 1
        depth = len(self._pending)
        if depth > self.max_depth:
            self.max_depth = depth
        # One request per flush, written while nothing else was in flight, is how a lone
        # caller looks: its next request on an idle connection is written at once.
        self._solo = len(buf) == 1 and depth == 1
        if self._tls:
            self._write_records(transport, buf)
        elif len(buf) == 1 or self._wbuf_size < _JOIN_BELOW:
            transport.write(buf[0] if len(buf) == 1 else b"".join(buf))
        else:
            self._write_while_taken(transport, buf)
            return
        buf.clear()
        self._wbuf_size = 0

    def _write_while_taken(self, transport: asyncio.Transport, buf: list[bytes]) -> None:
        """Write a flush of large requests piece by piece, while the transport takes them.

        Joining them would copy every byte once more, and what the socket does not take at
        once the transport copies into a buffer of its own (and shifts down after each
        send). So the large requests go out one by one, the small ones between them joined,
        and once the transport asks to pause the rest stays queued here, not copied, until
        ``resume_writing`` flushes again.
        """
        written = 0
        run: list[bytes] = []  # small requests waiting to go out together
        for data in buf:
            if len(data) < _JOIN_BELOW:
                run.append(data)
                continue
            if run:
                transport.write(b"".join(run))
                written += len(run)
                run.clear()
                if self._paused:
                    break
            transport.write(data)
            written += 1
            if self._paused:
                break
        else:
            if run:
                transport.write(b"".join(run))
                written += len(run)
        del buf[:written]
        self._wbuf_size = sum(map(len, buf))

    def _write_records(self, transport: asyncio.Transport, buf: list[bytes]) -> None:
        """Write whole requests in chunks of at most one TLS record (see the module)."""
        chunk: list[bytes] = []
        size = 0
        for request in buf:
            if size and size + len(request) > _TLS_RECORD:
                transport.write(b"".join(chunk))
                chunk.clear()
                size = 0
            chunk.append(request)
            size += len(request)
        if chunk:
            transport.write(b"".join(chunk))
        if self._nudge_reads >= 0 and self._nudge_handle is None:
            self._arm_nudge()

    # -- TLS stalls -------------------------------------------------------------------------

    def watch_stalls(self) -> None:
        """On TLS, nudge the server when requests in flight get no byte back for a while.

        Call it once the connection serves requests (after any handshake): the nudge is a
        ``version`` request, which a server requiring authentication would refuse before.
        """
        if self._tls and not self._dead:
            self._nudge_reads = self.reads
            if self._pending:
                self._arm_nudge()

    def _arm_nudge(self) -> None:
        self._nudge_reads = self.reads
        self._nudge_handle = self._loop.call_later(_NUDGE_AFTER, self._check_nudge)

    def _check_nudge(self) -> None:
        self._nudge_handle = None
        if self._dead or not self._pending:
            return
        if self.reads == self._nudge_reads and self.replied > self._nudge_position:
            logger.debug("%s: no reply for %.2f s on TLS, nudging the server", self, _NUDGE_AFTER)
            self.enqueue(_NUDGE, None)
            self._nudge_position = self.replied + len(self._pending) - 1
        self._arm_nudge()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they only behave like one.
        self._transport = cast(asyncio.Transport, transport)
        self._tls = transport.get_extra_info("ssl_object") is not None
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        view = self._parser.value_buffer()
        self._into_value = view is not None  # a read may also end without a byte
        if view is not None:
            return view
        view = self._read_view
        if view is None:
            self._read_buffer = memoryview(bytearray(_READ_WIDE))
            view = self._read_view = self._read_narrow = self._read_buffer[:_READ_SIZE]
        return view

    def buffer_updated(self, nbytes: int) -> None:
        if self._into_value:
            self._into_value = False
            if self._parser.value_received(nbytes):
                # Replies may be complete. Read them once the transport let go of the value's
                # buffer (uvloop holds it until this returns), so that the value is not copied.
                self._loop.call_soon(self.data_received, b"")
            else:
                self.reads += 1
        elif (view := self._read_view) is not None:
            self.data_received(bytes(view[:nbytes]))
            # A read of _READ_SIZE or more shows replies arriving faster than that: the next
            # may take _READ_WIDE, several replies more per loop iteration. A shorter read,
            # or one that began a large value (its bytes go to a buffer of its own, and a
            # wide read would copy more of them first), brings back _READ_SIZE.
            if nbytes < _READ_NARROW_BELOW or self._parser.reading_large_value:
                self._read_view = self._read_narrow
            else:
                self._read_view = self._read_buffer

    def data_received(self, data: bytes) -> None:
        if self._dead:
            return  # closing: nobody waits for these bytes any more
        self.reads += 1
        parser = self._parser
        pending = self._pending
        replied = self.replied
        try:
            parser.receive_data(data)
            while pending:
                fut, request = pending[0]
                reply = parser.next_reply(request)
                if reply is NEED_DATA:
                    return
                pending.popleft()
                replied += 1
                if fut is not None and not fut.done():
                    fut.set_result(reply)
                if type(reply) is ErrorReply and reply.loses_pairing:
                    self._pairing_lost(reply)
                    return
        except ProtocolError as exc:
            self._abort_stream(f"unparsable reply from {self.label}: {exc}")
            return
        except Exception as exc:  # a parser bug must not leave the stream half-read
            self._abort_stream(f"reply from {self.label} failed to parse: {exc!r}")
            return
        finally:
            self.replied = replied
        if parser.has_buffered_data():
            self._abort_stream(f"{self.label} sent bytes while no request was waiting")
        elif self._on_drained is not None:
            on_drained, self._on_drained = self._on_drained, None
            on_drained(self)

    def eof_received(self) -> bool | None:
        return None  # let the transport close itself; connection_lost follows

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drainers()
        if self._wbuf and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._die(self._lost_error)
        if not self._closed.done():
            self._closed.set_result(None)

    # -- shutting down ----------------------------------------------------------------------

    def close(self, error_factory: ErrorFactory | None = None) -> None:
        """Stop serving: fail every pending request, then close the transport gracefully.

        Args:
            error_factory: Builds the exception given to each pending request (one each);
                defaults to :class:`~emcache_pool.errors.ConnectionLostError`.
        """
        self._die(error_factory or self._lost_error)
        if self._transport is not None:
            self._transport.close()

    def abort(self, error_factory: ErrorFactory | None = None) -> None:
        """Like :meth:`close`, but drop the transport at once without flushing."""
        self._die(error_factory or self._lost_error)
        if self._transport is not None:
            self._transport.abort()

    def set_close_callback(self, callback: Callable[[Connection], None]) -> None:
        """Call ``callback(self)`` once when the connection stops serving (now if it has)."""
        if self._dead:
            callback(self)
        else:
            self._on_close = callback

    def set_drained_callback(self, callback: Callable[[Connection], None] | None) -> None:
        """Call ``callback(self)`` once the next time no request is left in flight."""
        self._on_drained = callback

    async def wait_closed(self) -> None:
        """Wait until the transport is closed (``connection_lost`` was called)."""
        await asyncio.shield(self._closed)

    @property
    def transport_closed(self) -> asyncio.Future[None]:
        """A future done once the transport is closed (``connection_lost`` was called)."""
        return self._closed

    def _abort_stream(self, message: str) -> None:
        logger.warning("closing the connection: %s", message)

        def error() -> BaseException:
            return ServerProtocolError(message)

        self.abort(error)

    def _pairing_lost(self, reply: ErrorReply) -> None:
        text = f"{reply.kind} {reply.message}".rstrip()
        message = f"{self.label} answered a burst of requests with one {text!r}"
        logger.warning("closing the connection: %s", message)

        def error() -> BaseException:
            return PairingLostError(message, reply)

        self.abort(error)

    def _wake_drainers(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _lost_error(self) -> BaseException:
        return ConnectionLostError(f"connection to {self.label} closed")

    def _die(self, error_factory: ErrorFactory) -> None:
        if self._dead:
            return
        self._dead = True
        self._error_factory = error_factory
        self._wbuf.clear()
        self._wbuf_size = 0
        self._wake_drainers()
        if self._nudge_handle is not None:
            self._nudge_handle.cancel()
            self._nudge_handle = None
        pending = self._pending
        while pending:
            fut = pending.popleft()[0]
            if fut is not None and not fut.done():
                fut.set_exception(error_factory())
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)


def _whole_commands(request: Request[Any]) -> list[bytes]:
    """The commands of a request, each whole (one for most, one per member of a batch)."""
    data = request[0]
    ends = command_ends(request)
    if len(ends) == 1:
        return [data]
    return [data[start:end] for start, end in zip([0, *ends], ends, strict=False)]
