"""The event dispatcher: order, one hook at a time, failures logged, bounded queue."""

from __future__ import annotations

import asyncio
import logging

import pytest

from emcache_cluster import ClusterEvents, ClusterManagement
from emcache_cluster._events import EventDispatcher
from emcache_pool import MemcachedHostAddress

A = MemcachedHostAddress("127.0.0.1", 1)
B = MemcachedHostAddress("127.0.0.1", 2)
C = MemcachedHostAddress("127.0.0.1", 3)


@pytest.mark.asyncio
async def test_dispatcher_runs_hooks_in_order_one_at_a_time():
    """Hooks run in the order their events were put and never overlap."""
    log = []
    running = 0

    async def hook(view, host):
        nonlocal running
        running += 1
        assert running == 1
        log.append(("start", host))
        await asyncio.sleep(0.01)
        log.append(("end", host))
        running -= 1

    dispatcher = EventDispatcher(ClusterManagement({}))
    for host in (A, B, C):
        dispatcher.put(hook, host)
    await asyncio.sleep(0.2)
    await dispatcher.close()
    assert log == [(step, host) for host in (A, B, C) for step in ("start", "end")]


@pytest.mark.asyncio
async def test_dispatcher_logs_a_failing_hook_and_goes_on(caplog):
    """A hook that raises is logged on the emcache_cluster logger and later events still run."""
    seen = []

    async def failing(view, host):
        raise RuntimeError("boom")

    async def recording(view, host):
        seen.append(host)

    dispatcher = EventDispatcher(ClusterManagement({}))
    with caplog.at_level(logging.ERROR, logger="emcache.cluster"):
        dispatcher.put(failing, A)
        dispatcher.put(recording, B)
        await asyncio.sleep(0.05)
    await dispatcher.close()
    assert seen == [B]
    [record] = [r for r in caplog.records if r.name == "emcache.cluster"]
    assert "failing" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.asyncio
async def test_dispatcher_drops_the_oldest_event_when_full(caplog):
    """With the queue full the oldest waiting event is dropped with a warning."""
    seen = []
    release = asyncio.Event()

    async def blocking(view, host):
        await release.wait()
        seen.append(host)

    dispatcher = EventDispatcher(ClusterManagement({}), maxsize=2)
    dispatcher.put(blocking, A)
    await asyncio.sleep(0)  # the task takes A and blocks in its hook
    with caplog.at_level(logging.WARNING, logger="emcache.cluster"):
        for host in (A, B, C):
            dispatcher.put(blocking, host)
    release.set()
    await asyncio.sleep(0.05)
    await dispatcher.close()
    assert seen == [A, B, C]
    assert any("queue is full" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_dispatcher_close_from_inside_a_hook_ends_after_it():
    """A hook may close the dispatcher; the hook completes and later events are dropped."""
    seen = []
    dispatcher: EventDispatcher

    async def closing(view, host):
        await dispatcher.close()
        seen.append(host)

    dispatcher = EventDispatcher(ClusterManagement({}))
    dispatcher.put(closing, A)
    dispatcher.put(closing, B)
    await asyncio.sleep(0.05)
    assert seen == [A]
    await dispatcher.close()


@pytest.mark.asyncio
async def test_cluster_events_defaults_do_nothing():
    """The default hooks accept the view and an endpoint and return None."""
    events = ClusterEvents()
    view = ClusterManagement({})
    for hook in (
        events.on_node_healthy,
        events.on_node_unhealthy,
        events.on_node_added,
        events.on_node_removed,
    ):
        assert await hook(view, A) is None


def test_cluster_management_of_no_nodes_is_empty():
    """A view over an empty node table reports nothing."""
    view = ClusterManagement({})
    assert view.nodes() == []
    assert view.healthy_nodes() == []
    assert view.unhealthy_nodes() == []
    assert view.connection_pool_metrics() == {}
