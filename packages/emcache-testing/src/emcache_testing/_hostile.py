"""A fake memcached whose replies a test scripts.

Strategy. The server reads requests as memcached does (a command line, plus a
data block for storage commands) and by default answers them as a tiny
in-memory memcached would (``get``/``gets``/``gat``/``gats``, the storage
commands, ``delete``, ``touch``, ``version``, ``flush_all``, ``verbosity``),
so that a client works against it. A test then turns it hostile for chosen
requests: :meth:`HostileServer.attack` registers a rule that, for each request
it matches, replaces the honest reply with a list of :class:`Act` steps --
bytes to write (garbage, a truncated reply, a wrong length), a pause, a flood,
closing or resetting the connection mid-reply. :meth:`HostileServer.push`
writes bytes nobody asked for.

Every accepted connection is recorded with its requests and with who closed
it, so a test can check that a client dropped a connection it could no longer
trust.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from emcache_testing._listening import LoopbackServer

__all__ = ["Act", "HostileServer", "Request", "ServerConnection"]

_STORAGE = frozenset({b"set", b"add", b"replace", b"append", b"prepend", b"cas"})
_RETRIEVAL = frozenset({b"get", b"gets", b"gat", b"gats"})
_ONE_KEY = frozenset({b"incr", b"decr", b"delete", b"touch"})
_WITH_CAS = frozenset({b"gets", b"gats"})
_TOUCHING = frozenset({b"gat", b"gats"})


@dataclass(frozen=True)
class Request:
    """One request as read from the wire.

    Attributes:
        command: The command word, e.g. ``b"get"``.
        args: The other words of the command line.
        data: The data block of a storage command, without its ``\\r\\n``.
    """

    command: bytes
    args: tuple[bytes, ...]
    data: bytes | None = None

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The keys the request names (none for node commands)."""
        if self.command in _TOUCHING:
            return self.args[1:]
        if self.command in _RETRIEVAL:
            return self.args
        if self.command in _STORAGE or self.command in _ONE_KEY:
            return self.args[:1]
        return ()


@dataclass(frozen=True)
class Act:
    """One step of a scripted reply.

    Attributes:
        data: Bytes written as they are.
        delay: Seconds to wait before writing ``data``, answering nothing
            meanwhile (cut short when the server closes).
        flood: Write this many more bytes of ``flood_byte``, in 64 KiB chunks.
        flood_byte: The byte a flood is made of.
        close: Close the connection after this step; the rest is dropped.
        reset: Abort the connection (RST) instead of closing it cleanly.
    """

    data: bytes = b""
    delay: float = 0.0
    flood: int = 0
    flood_byte: bytes = b"x"
    close: bool = False
    reset: bool = False


Matcher = Callable[[Request], bool]
Script = Sequence[Act] | Callable[[Request, bytes], Sequence[Act]]
"""Steps, or a function of (request, honest reply) that returns them."""


@dataclass(eq=False)
class ServerConnection:
    """What the server knows about one accepted connection.

    Attributes:
        number: Its rank among the accepted connections, from 0.
        requests: The requests read from it, in order.
        closed_by_peer: The client closed it (or broke it).
        closed_by_server: A script closed or reset it.
        closed: Set once it is closed, whoever closed it.
    """

    number: int
    writer: asyncio.StreamWriter = field(repr=False)
    requests: list[Request] = field(default_factory=list)
    closed_by_peer: bool = False
    closed_by_server: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass
class _Rule:
    match: Matcher
    script: Script
    remaining: int | None


class HostileServer(LoopbackServer):
    """A scripted fake memcached on a free loopback port.

    Use it as ``async with HostileServer() as server`` in the test's event loop,
    or through :func:`serve_in_thread` (the ``memcached_hostile_server`` fixture).

    Attributes:
        host: The loopback address it listens on.
        port: The port, once started.
        store: The honest memcached's items: key to (flags, value).
        connections: Every accepted connection, in order.
    """

    _read_limit = 1 << 20

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.store: dict[bytes, tuple[int, bytes]] = {}
        self.connections: list[ServerConnection] = []
        self._rules: list[_Rule] = []
        self._cas = 0

    # -- scripting -----------------------------------------------------------------------------
    def attack(self, match: Matcher | bytes, script: Script, *, times: int | None = 1) -> None:
        """Answer the matching requests with ``script`` instead of the honest reply.

        Args:
            match: A key (matches the requests that name it) or a predicate on the request.
            script: The steps, or a function of (request, honest reply) returning them.
            times: How many requests the rule applies to; None for every one.
        """
        matcher = _key_matcher(match) if isinstance(match, bytes) else match
        self._rules.append(_Rule(matcher, script, times))

    def clear(self) -> None:
        """Forget every attack: the server is honest again."""
        self._rules.clear()

    def open_connections(self) -> list[ServerConnection]:
        """The connections not closed yet."""
        return [conn for conn in self.connections if not conn.closed.is_set()]

    async def push(self, data: bytes, connection: ServerConnection | None = None) -> None:
        """Write ``data`` now, unasked, on one connection (default: every open one)."""
        targets = [connection] if connection is not None else self.open_connections()
        for conn in targets:
            conn.writer.write(data)
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()

    # -- serving -------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConnection(len(self.connections), writer)
        self.connections.append(conn)
        try:
            while (request := await _read_request(reader)) is not None:
                conn.requests.append(request)
                if not await self._answer(conn, request):
                    conn.closed_by_server = True
                    break
            else:
                conn.closed_by_peer = True
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            conn.closed_by_peer = not conn.closed_by_server
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            conn.closed.set()

    async def _answer(self, conn: ServerConnection, request: Request) -> bool:
        """Reply to ``request``; False when the connection is to be dropped."""
        honest = self._honest_reply(request)
        for rule in self._rules:
            if rule.remaining != 0 and rule.match(request):
                if rule.remaining is not None:
                    rule.remaining -= 1
                script = rule.script
                return await self._play(
                    conn, script(request, honest) if callable(script) else script
                )
        if honest:
            conn.writer.write(honest)
            await conn.writer.drain()
        return True

    async def _play(self, conn: ServerConnection, acts: Sequence[Act]) -> bool:
        writer = conn.writer
        for act in acts:
            if act.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), act.delay)
                if self._closing.is_set():
                    return False
            if act.data:
                writer.write(act.data)
                await writer.drain()
            await _flood(writer, act.flood_byte, act.flood)
            if act.reset:
                transport = writer.transport
                assert isinstance(transport, asyncio.WriteTransport)
                transport.abort()
                return False
            if act.close:
                return False
        return True

    # -- the honest memcached ------------------------------------------------------------------
    def _honest_reply(self, request: Request) -> bytes:
        command, args = request.command, request.args
        if command in _RETRIEVAL:
            return self._retrieve(command, request.keys)
        if command in _STORAGE and request.data is not None:
            self._cas += 1
            self.store[args[0]] = (int(args[1]), request.data)
            return b"" if args[-1] == b"noreply" else b"STORED\r\n"
        if command == b"delete" and args:
            return b"DELETED\r\n" if self.store.pop(args[0], None) else b"NOT_FOUND\r\n"
        if command == b"touch" and args:
            return b"TOUCHED\r\n" if args[0] in self.store else b"NOT_FOUND\r\n"
        if command == b"version":
            return b"VERSION 1.6.18-hostile\r\n"
        if command == b"flush_all":
            self.store.clear()
            return b"OK\r\n"
        if command == b"verbosity":
            return b"OK\r\n"
        return b"ERROR\r\n"

    def _retrieve(self, command: bytes, keys: Sequence[bytes]) -> bytes:
        out = []
        cas = b" %d" % self._cas if command in _WITH_CAS else b""
        for key in keys:
            if key in self.store:
                flags, value = self.store[key]
                out.append(b"VALUE %s %d %d%s\r\n%s\r\n" % (key, flags, len(value), cas, value))
        return b"".join(out) + b"END\r\n"


def _key_matcher(key: bytes) -> Matcher:
    def names_key(request: Request) -> bool:
        return key in request.keys

    return names_key


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None
    words = line.split()
    if not words:
        return Request(b"", ())
    command, args = words[0], tuple(words[1:])
    data = None
    if command in _STORAGE and len(args) >= 4 and args[3].isdigit():
        data = (await reader.readexactly(int(args[3]) + 2))[:-2]
    return Request(command, args, data)


async def _flood(writer: asyncio.StreamWriter, byte: bytes, size: int) -> None:
    chunk = byte * 65536
    while size > 0:
        writer.write(chunk[:size])
        size -= len(chunk)
        await writer.drain()
