"""The barest pipelined memcached client pure Python allows: the ceiling of the benchmarks.

One ``asyncio.Protocol`` per connection; requests queued in a loop iteration go out
in one ``transport.write``; replies are matched in order through a deque of
futures. No validation, routing, timeouts, metrics or error handling: whatever a
real client adds on top of this shows up as the distance to it.
"""

from __future__ import annotations

import asyncio
from collections import deque


class _Conn(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: deque[asyncio.Future[bytes | None]] = deque()
        self.out: list[bytes] = []
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def request(self, data: bytes) -> asyncio.Future[bytes | None]:
        if not self.out:
            self.loop.call_soon(self.flush)
        self.out.append(data)
        fut = self.loop.create_future()
        self.waiters.append(fut)
        return fut

    def flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while self.waiters:
            eol = buf.find(b"\r\n")
            if eol < 0:
                return
            if buf.startswith(b"VALUE "):
                start = eol + 2
                end = start + int(buf[buf.rfind(b" ", 0, eol) + 1 : eol])
                if len(buf) < end + 7:  # value, \r\n, END\r\n
                    return
                result: bytes | None = bytes(buf[start:end])
                del buf[: end + 7]
            else:
                result = None if buf.startswith(b"END") else bytes(buf[:eol])
                del buf[: eol + 2]
            self.waiters.popleft().set_result(result)


class CeilingClient:
    """Round-robins single-key ``get``/``set`` over ``connections`` connections to one node."""

    def __init__(self, conns: list[_Conn]) -> None:
        self.conns = conns
        self.next = 0

    @classmethod
    async def connect(cls, host: str, port: int, connections: int = 2) -> CeilingClient:
        loop = asyncio.get_running_loop()
        conns = []
        for _ in range(connections):
            _, conn = await loop.create_connection(lambda: _Conn(loop), host, port)
            conns.append(conn)
        return cls(conns)

    def _pick(self) -> _Conn:
        self.next = (self.next + 1) % len(self.conns)
        return self.conns[self.next]

    async def get(self, key: bytes) -> bytes | None:
        return await self._pick().request(b"get " + key + b"\r\n")

    async def set(self, key: bytes, value: bytes) -> bytes | None:
        return await self._pick().request(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value))

    async def close(self) -> None:
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()
