"""The fake servers, in the test's own event loop and in a thread of their own.

No asyncio plugin is needed: the in-loop checks run their own loop with
``asyncio.run``, as a test under any plugin would run inside its loop.
"""

from __future__ import annotations

import asyncio
import socket
import time

from emcache_testing import (
    Act,
    DelayProxy,
    FakeConfigEndpoint,
    HostileServer,
    MemcachedNode,
    Request,
    serve_in_thread,
)


def _exchange(address: tuple[str, int], request: bytes, until: bytes = b"\r\n") -> bytes:
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        data = b""
        while not data.endswith(until):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


class TestFakeConfigEndpoint:
    def test_serves_the_node_list_and_bumps_the_version(self) -> None:
        """config get cluster answers the nodes; set_nodes serves a newer version."""

        async def scenario() -> tuple[bytes, bytes, bytes]:
            async with FakeConfigEndpoint([("127.0.0.1", 11211)]) as endpoint:
                reader, writer = await asyncio.open_connection(*endpoint.address)
                writer.write(b"config get cluster\r\n")
                first = await reader.readuntil(b"END\r\n")
                endpoint.set_nodes([("127.0.0.1", 1), ("127.0.0.1", 2)])
                writer.write(b"config get cluster\r\nget foo\r\n")
                second = await reader.readuntil(b"END\r\n")
                other = await reader.readline()
                writer.close()
                await writer.wait_closed()
                return first, second, other

        first, second, other = asyncio.run(scenario())
        assert first == b"CONFIG cluster 0 28\r\n1\n127.0.0.1|127.0.0.1|11211\n\r\nEND\r\n"
        assert b"\r\n2\n127.0.0.1|127.0.0.1|1 127.0.0.1|127.0.0.1|2\n\r\nEND\r\n" in second
        assert other == b"ERROR\r\n"

    def test_fixture_runs_in_a_thread_and_follows_changes(
        self, memcached_config_endpoint: FakeConfigEndpoint, memcached_node: MemcachedNode
    ) -> None:
        """The fixture answers from its own thread; the test changes nodes, version and mode."""
        endpoint = memcached_config_endpoint
        endpoint.set_nodes([memcached_node.address], version=7)
        reply = _exchange(endpoint.address, b"config get cluster\r\n", b"END\r\n")
        assert f"\r\n7\n127.0.0.1|127.0.0.1|{memcached_node.port}\n".encode() in reply
        endpoint.mode = "error"
        assert _exchange(endpoint.address, b"config get cluster\r\n") == b"ERROR\r\n"
        assert endpoint.requests == 2

    def test_comes_back_on_the_same_port(self) -> None:
        """Started again after close, the endpoint listens where clients knew it."""

        async def scenario() -> tuple[int, int, bytes]:
            endpoint = FakeConfigEndpoint([("127.0.0.1", 1)])
            await endpoint.start()
            first = endpoint.port
            await endpoint.close()
            await endpoint.start()
            try:
                reader, writer = await asyncio.open_connection(*endpoint.address)
                writer.write(b"config get cluster\r\n")
                reply = await reader.readuntil(b"END\r\n")
                writer.close()
            finally:
                await endpoint.close()
            return first, endpoint.port, reply

        first, second, reply = asyncio.run(scenario())
        assert first == second
        assert reply.startswith(b"CONFIG cluster 0 ")

    def test_leaving_hang_mode_answers_the_next_requests(self) -> None:
        """A held request stays unanswered; once the mode changes the next ones are answered."""
        with serve_in_thread(FakeConfigEndpoint([("127.0.0.1", 1)])) as endpoint:
            endpoint.mode = "hang"
            with socket.create_connection(endpoint.address, timeout=2) as held:
                held.sendall(b"config get cluster\r\n")
                deadline = time.monotonic() + 2
                while endpoint.requests == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                endpoint.mode = "ok"
                held.sendall(b"config get cluster\r\n")
                reply = held.recv(4096)
        assert reply.startswith(b"CONFIG cluster 0 ")
        assert reply.count(b"END") == 1

    def test_hanging_endpoint_answers_nothing(self) -> None:
        """In hang mode a request stays unanswered, and closing the endpoint still works."""
        with serve_in_thread(FakeConfigEndpoint()) as endpoint:
            endpoint.mode = "hang"
            with socket.create_connection(endpoint.address, timeout=0.2) as sock:
                sock.sendall(b"config get cluster\r\n")
                try:
                    data = sock.recv(100)
                except TimeoutError:
                    data = b""
        assert data == b""


class TestHostileServer:
    def test_is_an_honest_memcached_until_attacked(
        self, memcached_hostile_server: HostileServer
    ) -> None:
        """Storage and retrieval work as on memcached, then a scripted key gets garbage."""
        server = memcached_hostile_server
        assert _exchange(server.address, b"set k 5 0 2\r\nhi\r\n") == b"STORED\r\n"
        assert (
            _exchange(server.address, b"get k\r\n", b"END\r\n") == b"VALUE k 5 2\r\nhi\r\nEND\r\n"
        )
        server.attack(b"k", [Act(data=b"VALUE k 5 99\r\nhi\r\nEND\r\n")])
        assert _exchange(server.address, b"get k\r\n", b"END\r\n").startswith(b"VALUE k 5 99")
        assert _exchange(server.address, b"get k\r\n", b"END\r\n").startswith(b"VALUE k 5 2")

    def test_records_requests_and_who_closed(self) -> None:
        """Every request is recorded; a closing script marks the connection closed by the server."""

        async def scenario() -> HostileServer:
            async with HostileServer() as server:
                server.attack(lambda r: r.command == b"delete", [Act(close=True)], times=None)
                reader, writer = await asyncio.open_connection(*server.address)
                writer.write(b"version\r\ndelete k\r\n")
                assert await reader.readline() == b"VERSION 1.6.18-hostile\r\n"
                assert await reader.read() == b""
                await asyncio.wait_for(server.connections[0].closed.wait(), 2)
                writer.close()
                return server

        server = asyncio.run(scenario())
        conn = server.connections[0]
        assert conn.requests == [Request(b"version", ()), Request(b"delete", (b"k",))]
        assert (conn.closed_by_server, conn.closed_by_peer) == (True, False)

    def test_push_writes_unasked_bytes(self) -> None:
        """push() reaches every open connection without a request."""

        async def scenario() -> bytes:
            async with HostileServer() as server:
                reader, writer = await asyncio.open_connection(*server.address)
                writer.write(b"version\r\n")
                await reader.readline()
                await server.push(b"VALUE forged 0 1\r\nx\r\nEND\r\n")
                data = await reader.readuntil(b"END\r\n")
                writer.close()
                return data

        assert asyncio.run(scenario()).startswith(b"VALUE forged")


class TestDelayProxy:
    def test_forwards_and_delays_one_connection(self, memcached_node: MemcachedNode) -> None:
        """Connection 0 is held back by its delay; connection 1 goes straight through."""

        async def scenario() -> tuple[float, float]:
            host, port = memcached_node.address
            async with DelayProxy(host, port, lambda n: 0.3 if n == 0 else 0.0) as proxy:
                slow = await asyncio.open_connection(*proxy.address)
                fast = await asyncio.open_connection(*proxy.address)
                times = []
                for reader, writer in (slow, fast):
                    started = time.monotonic()
                    writer.write(b"version\r\n")
                    assert (await reader.readline()).startswith(b"VERSION")
                    times.append(time.monotonic() - started)
                    writer.close()
                return times[0], times[1]

        slow, fast = asyncio.run(scenario())
        assert slow >= 0.3
        assert fast < 0.3
