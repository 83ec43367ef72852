"""10,000 meta requests, quiet batches among them, with random cancellations, on real memcached.

Workers share one pool (two pipelined connections) and each owns its keys, so that it can
keep a model of them: for each key, the values it may hold. A completed write makes the
model exact; a write whose caller gave up (cancelled, or timed out) may or may not have
been applied, so it only adds a possibility until the next completed write of the key,
which the pool's write-order pins (``key=``) put after it on the wire.

Every reply is checked against its own request: single requests carry an opaque token
unique in the run and ask for their key back, values name their key, and every hit and
every miss must be among the possibilities of the model at that moment. Quiet batches
mix gets, sets, deletes and increments of several keys; their silent entries are checked
as the nominal outcome (a miss, a store, a delete).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest

from emcache_pool import ConnectionPool, PoolConfig
from emcache_protocol import (
    ErrorReply,
    MetaResult,
    MetaStatus,
    Request,
    Value,
    meta_arithmetic_command,
    meta_batch_command,
    meta_delete_command,
    meta_get_command,
    meta_set_command,
    retrieval_command,
)
from emcache_testing import MemcachedNode
from tests_integration.helpers import address

TOTAL_REQUESTS = 10_000
WORKERS = 16
KEYS_PER_WORKER = 12
CANCEL_SHARE = 0.12
ABSENT = None
Possible = set[bytes | int | None]


class Worker:
    """One caller: its keys, its model of them, and the checks of every reply it gets."""

    def __init__(self, number: int, pool: ConnectionPool, rng: random.Random) -> None:
        self.number = number
        self.pool = pool
        self.rng = rng
        self.keys = [b"w%d:k%d" % (number, i) for i in range(KEYS_PER_WORKER)]
        self.counter = b"w%d:counter" % number
        # Each key: the values it may hold now (ABSENT: missing). Counters hold ints.
        self.model: dict[bytes, Possible] = {key: {ABSENT} for key in self.keys}
        self.model[self.counter] = {ABSENT}
        self.sequence = itertools.count()
        self.sent = 0
        self.cancelled = 0
        self.completed = 0

    def value(self, key: bytes) -> bytes:
        return b"%s=%d" % (key, next(self.sequence))

    def opaque(self) -> bytes:
        return b"%x.%x" % (self.number, next(self.sequence))

    async def run(self, requests: int) -> None:
        while self.sent < requests:
            operation = self.rng.choice(
                [self.get, self.get, self.set, self.delete, self.incr, self.classic_get, self.batch]
            )
            await operation()

    # -- giving up at random --------------------------------------------------------------

    async def perform(
        self, request: Request[Any], key: bytes | list[bytes] | None = None
    ) -> tuple[bool, Any]:
        """Run ``request``; cancel it at a random moment now and then.

        Returns:
            (completed, reply): whether its reply reached this caller, and the reply.
        """
        task = asyncio.ensure_future(self.pool.execute(request, timeout=5.0, key=key))
        if self.rng.random() < CANCEL_SHARE:
            # Before it is written, once written, or while its reply arrives.
            pause = self.rng.choice([0, 1, 2, 3, 4])
            if pause == 4:
                await asyncio.sleep(self.rng.random() / 1000)
            for _ in range(pause):
                await asyncio.sleep(0)
            task.cancel()
        try:
            reply = await task
        except asyncio.CancelledError:
            self.cancelled += 1
            return False, None
        self.completed += 1
        assert not isinstance(reply, ErrorReply), reply
        return True, reply

    # -- single requests ------------------------------------------------------------------

    async def get(self) -> None:
        key = self.rng.choice(self.keys)
        opaque = self.opaque()
        self.sent += 1
        done, reply = await self.perform(
            meta_get_command(key, return_key=True, opaque=opaque, return_flags=True)
        )
        if done:
            assert reply.opaque == opaque, "a reply of another request"
            assert reply.key == key
            self.check_read(key, reply)

    async def set(self) -> None:
        key = self.rng.choice(self.keys)
        value = self.value(key)
        opaque = self.opaque()
        self.sent += 1
        done, reply = await self.perform(
            meta_set_command(key, value, flags=7, opaque=opaque, return_key=True), key
        )
        self.written(key, value, done)
        if done:
            assert reply == MetaResult(MetaStatus.HD, key=key, opaque=opaque)

    async def delete(self) -> None:
        key = self.rng.choice(self.keys)
        opaque = self.opaque()
        self.sent += 1
        done, reply = await self.perform(meta_delete_command(key, opaque=opaque), key)
        if done:
            assert reply.opaque == opaque
            if reply.status is MetaStatus.NF:
                assert ABSENT in self.model[key], "a miss the model does not allow"
            else:
                assert reply.status is MetaStatus.HD
                assert self.model[key] - {ABSENT}, "a delete of a key the model says is missing"
        self.written(key, ABSENT, done)

    async def incr(self) -> None:
        key = self.counter
        opaque = self.opaque()
        self.sent += 1
        request = meta_arithmetic_command(
            key, vivify_ttl=0, initial=0, return_value=True, opaque=opaque
        )
        done, reply = await self.perform(request, key)
        after = {0 if before is ABSENT else before + 1 for before in self.model[key]}  # type: ignore[operator]
        if not done:
            self.model[key] |= after
            return
        assert reply.opaque == opaque
        assert reply.status is MetaStatus.VA
        number = int(reply.value)
        assert number in after, f"{number} not among {after}"
        self.model[key] = {number}

    async def classic_get(self) -> None:
        """A classic get between the meta requests: the two kinds share the stream."""
        key = self.rng.choice(self.keys)
        self.sent += 1
        done, reply = await self.perform(retrieval_command(b"get", [key]))
        if done:
            found = reply[0].value if reply else ABSENT
            assert found in self.model[key], f"{key!r}: {found!r} not in {self.model[key]}"
            if reply:
                assert reply == [Value(key, 7, reply[0].value, None)]

    # -- quiet batches --------------------------------------------------------------------

    async def batch(self) -> None:
        members: list[tuple[str, bytes, bytes | None]] = []
        for _ in range(self.rng.randrange(1, 16)):
            key = self.rng.choice(self.keys)
            kind = self.rng.choice(["get", "get", "set", "delete"])
            members.append((kind, key, self.value(key) if kind == "set" else None))
        requests = []
        for kind, key, value in members:
            if kind == "get":
                requests.append(meta_get_command(key, return_key=True))
            elif kind == "set":
                assert value is not None
                requests.append(meta_set_command(key, value, flags=7))
            else:
                requests.append(meta_delete_command(key))
        self.sent += len(members)
        written = sorted({key for kind, key, _ in members if kind != "get"})
        done, replies = await self.perform(meta_batch_command(requests), written)
        if not done:
            for kind, key, value in members:
                if kind != "get":
                    self.model[key].add(value)
            return
        assert len(replies) == len(members)
        for (kind, key, value), reply in zip(members, replies, strict=True):
            if kind == "get":
                if reply is None:
                    assert ABSENT in self.model[key], f"{key!r}: a miss the model does not allow"
                else:
                    assert reply.key == key, "a value under another key"
                    self.check_read(key, reply)
            elif kind == "set":
                assert reply is None, reply
                self.model[key] = {value}
            else:
                if reply is not None:
                    assert reply.status is MetaStatus.NF
                    assert ABSENT in self.model[key]
                self.model[key] = {ABSENT}

    # -- the model ------------------------------------------------------------------------

    def check_read(self, key: bytes, reply: MetaResult) -> None:
        if reply.status is MetaStatus.EN:
            assert ABSENT in self.model[key], f"{key!r}: a miss the model does not allow"
            return
        assert reply.status is MetaStatus.VA
        assert reply.value is not None
        assert reply.value.startswith(key + b"="), "a value of another key"
        assert reply.value in self.model[key], f"{key!r}: {reply.value!r} not in the model"

    def written(self, key: bytes, value: bytes | None, done: bool) -> None:
        if done:
            self.model[key] = {value}
        else:
            self.model[key].add(value)


async def final_check(pool: ConnectionPool, workers: list[Worker]) -> None:
    """Once everything settled, each key holds one of the values its model allows."""
    await asyncio.sleep(0.2)  # replies of given-up requests have been read by now
    for worker in workers:
        keys = worker.keys
        batch = meta_batch_command([meta_get_command(key, return_key=True) for key in keys])
        replies = await pool.execute(batch, timeout=5.0)
        assert isinstance(replies, list)
        for key, reply in zip(keys, replies, strict=True):
            found = ABSENT if reply is None else reply.value  # type: ignore[union-attr]
            assert found in worker.model[key], f"{key!r}: {found!r} not in {worker.model[key]}"


async def run_storm(node: MemcachedNode, seed: int) -> list[Worker]:
    pool = ConnectionPool(address(node), PoolConfig(max_connections=2))
    try:
        await pool.require_meta(timeout=5.0)
        rng = random.Random(seed)
        workers = [Worker(n, pool, random.Random(rng.random())) for n in range(WORKERS)]
        await asyncio.gather(*(w.run(TOTAL_REQUESTS // WORKERS) for w in workers))
        await final_check(pool, workers)
        metrics = pool.metrics()
        assert metrics.connections_created - metrics.connections_closed >= 1
        return workers
    finally:
        await pool.close()


@pytest.mark.asyncio
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
async def test_meta_pipeline_every_reply_to_its_caller(memcached: MemcachedNode, seed: int) -> None:
    """10,000 mixed meta requests, cancelled at random: every reply fits its own request."""
    workers = await run_storm(memcached, seed)
    sent = sum(w.sent for w in workers)
    cancelled = sum(w.cancelled for w in workers)
    completed = sum(w.completed for w in workers)
    print(f"\n{sent} requests, {completed} round trips completed, {cancelled} cancelled")
    assert sent >= TOTAL_REQUESTS
    assert cancelled > 100
    assert completed > cancelled
