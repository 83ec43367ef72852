"""DeadlineQueue: one timer per timeout value, futures expired in order."""

from __future__ import annotations

import asyncio

import pytest

from emcache_pool._timeouts import DeadlineQueue


@pytest.mark.asyncio
async def test_deadline_queue_expires_unfinished_futures():
    """A future still pending at its deadline gets TimeoutError; finished ones are untouched."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    slow: asyncio.Future[object] = loop.create_future()
    fast: asyncio.Future[object] = loop.create_future()
    queue.add(slow, 0.02)
    queue.add(fast, 0.02)
    fast.set_result("ok")
    with pytest.raises(TimeoutError):
        await slow
    assert fast.result() == "ok"


@pytest.mark.asyncio
async def test_deadline_queue_honours_each_timeout_value():
    """Futures with different timeouts expire at their own deadlines, shorter first."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    expired: list[str] = []
    futures = {}
    for name, timeout in (("long", 0.08), ("short", 0.02), ("middle", 0.05)):
        fut: asyncio.Future[object] = loop.create_future()
        fut.add_done_callback(lambda _, name=name: expired.append(name))
        queue.add(fut, timeout)
        futures[name] = fut
    await asyncio.sleep(0.12)
    assert expired == ["short", "middle", "long"]


@pytest.mark.asyncio
async def test_deadline_queue_arms_one_timer_per_timeout_value(monkeypatch):
    """Thousands of requests with one timeout value arm a single timer, not one each."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    armed = []
    call_at = loop.call_at

    def counting_call_at(when, callback, *args):
        armed.append(when)
        return call_at(when, callback, *args)

    monkeypatch.setattr(loop, "call_at", counting_call_at)
    for _ in range(5000):
        fut: asyncio.Future[object] = loop.create_future()
        queue.add(fut, 1.0)
        fut.set_result(None)
    assert len(armed) == 1
    queue.close()


@pytest.mark.asyncio
async def test_deadline_queue_keeps_only_unfinished_entries():
    """Entries whose futures finished are dropped as new ones arrive (no growth in steady use)."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    for _ in range(1000):
        fut: asyncio.Future[object] = loop.create_future()
        queue.add(fut, 1.0)
        fut.set_result(None)
    lane = queue._lanes[1.0]
    assert len(lane.entries) <= 64
    queue.close()
    assert queue._lanes == {}


@pytest.mark.asyncio
async def test_deadline_queue_leaves_cancelled_futures_alone():
    """A cancelled future is not given a TimeoutError and its lane is forgotten when empty."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    fut: asyncio.Future[object] = loop.create_future()
    queue.add(fut, 0.01)
    fut.cancel()
    await asyncio.sleep(0.03)
    assert fut.cancelled()
    assert queue._lanes == {}


@pytest.mark.asyncio
async def test_deadline_queue_sweeps_finished_entries_behind_a_stuck_one():
    """A future that never finishes at the head does not keep finished ones behind it."""
    loop = asyncio.get_running_loop()
    queue = DeadlineQueue(loop)
    stuck: asyncio.Future[object] = loop.create_future()
    queue.add(stuck, 60.0)
    for _ in range(10_000):
        fut: asyncio.Future[object] = loop.create_future()
        queue.add(fut, 60.0)
        fut.set_result(b"x" * 100)
    entries = queue._lanes[60.0].entries
    assert entries[0][1] is stuck
    assert len(entries) <= 2 * 1 + 256 + 64
    queue.close()
    stuck.cancel()
