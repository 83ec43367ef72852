"""Autodiscovery against the fake configuration endpoint and real memcached nodes."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
import pytest_asyncio
from cluster_support import FAST_POOL, RecordingEvents, address, config, set_key, wait_until

from emcache_cluster import AutodiscoveryError, Cluster, ClusterNoAvailableNodes
from emcache_cluster._autodiscovery import Autodiscovery, discovered_endpoints
from emcache_pool import MemcachedHostAddress, PoolConfig
from emcache_protocol import ClusterConfig as ConfigReply
from emcache_protocol import ConfigNode, retrieval_command, storage_command
from emcache_testing import FakeConfigEndpoint

POLL = 0.1


def discovery(**kwargs):
    """A configuration with autodiscovery polling every POLL seconds."""
    kwargs.setdefault("autodiscovery_poll_interval", POLL)
    kwargs.setdefault("autodiscovery_timeout", 1.0)
    return config(autodiscovery=True, **kwargs)


def pairs(nodes):
    return [(node.host, node.port) for node in nodes]


class Workload:
    """Tasks doing set then get of fresh keys through the cluster, recording every outcome."""

    def __init__(self, cluster, tasks=8):
        self.cluster = cluster
        self.failures = []
        self.first_served = {}
        self.served = 0
        self._counter = itertools.count()
        self._stop = False
        self._tasks = [asyncio.create_task(self._run()) for _ in range(tasks)]

    async def _run(self):
        while not self._stop:
            key = b"w-%d" % next(self._counter)
            await self._call(key, storage_command(b"set", key, key))
            await self._call(key, retrieval_command(b"get", [key]))
            await asyncio.sleep(0.001)

    async def _call(self, key, request):
        # Each operation picks its pool afresh, as the client does: a get may
        # land on another node than its set when the node list changed between.
        pool = self.cluster.pick_pool(key)
        try:
            reply = await pool.execute(request, timeout=2.0)
            assert not isinstance(reply, list) or all(v.value == key for v in reply), reply
        except Exception as exc:
            self.failures.append((pool.endpoint, repr(exc)))
        else:
            self.served += 1
            self.first_served.setdefault(pool.endpoint, time.monotonic())

    async def stop(self):
        self._stop = True
        await asyncio.gather(*self._tasks)


@pytest.mark.asyncio
async def test_autodiscovery_grows_and_shrinks_under_load(launcher, config_endpoint):
    """2 -> 3 -> 2 nodes while a workload runs: no operation fails, events fire, traffic follows."""
    nodes = launcher.start(3)
    endpoints = [address(node) for node in nodes]
    config_endpoint.set_nodes(pairs(nodes[:2]))
    events = RecordingEvents()
    cluster = await Cluster.create([address(config_endpoint)], discovery(cluster_events=events))
    view = cluster.management
    workload = Workload(cluster)
    try:
        assert view.nodes() == endpoints[:2]
        await asyncio.sleep(0.3)
        grown_at = time.monotonic()
        config_endpoint.set_nodes(pairs(nodes))
        await wait_until(lambda: endpoints[2] in workload.first_served, limit=5)
        delay = workload.first_served[endpoints[2]] - grown_at
        assert delay < 3 * POLL + 1.0, delay
        assert view.nodes() == endpoints
        await asyncio.sleep(0.3)
        config_endpoint.set_nodes(pairs([nodes[0], nodes[2]]))
        await wait_until(lambda: view.nodes() == [endpoints[0], endpoints[2]], limit=5)
        served = workload.served
        await asyncio.sleep(0.3)
        assert workload.served > served
    finally:
        await workload.stop()
        await cluster.close()
    assert workload.failures == []
    assert events.events == [("added", endpoints[2]), ("removed", endpoints[1])]


@pytest.mark.asyncio
async def test_removed_node_finishes_in_flight_requests(launcher, config_endpoint):
    """A request already sent to a node that autodiscovery removes still gets its reply."""
    nodes = launcher.start(2)
    endpoints = [address(node) for node in nodes]
    config_endpoint.set_nodes(pairs(nodes))
    cluster = await Cluster.create([address(config_endpoint)], discovery())
    try:
        pool = cluster.pool_for(endpoints[1])
        await pool.execute(storage_command(b"set", b"slow", b"x"))
        nodes[1].pause()
        pending = asyncio.ensure_future(pool.execute(retrieval_command(b"get", [b"slow"])))
        await asyncio.sleep(0.05)
        config_endpoint.set_nodes(pairs(nodes[:1]))
        await wait_until(lambda: cluster.management.nodes() == endpoints[:1], limit=5)
        assert all(cluster.pick_pool(b"k%d" % i) is not pool for i in range(50))
        nodes[1].resume()
        [value] = await asyncio.wait_for(pending, 5)
        assert value.value == b"x"
    finally:
        nodes[1].resume()
        await cluster.close()


@pytest.mark.asyncio
async def test_autodiscovery_ignores_older_and_equal_versions(launcher, config_endpoint):
    """A node list whose version is not newer than the applied one changes nothing."""
    nodes = launcher.start(3)
    config_endpoint.set_nodes(pairs(nodes[:2]), version=5)
    cluster = await Cluster.create([address(config_endpoint)], discovery())
    try:
        config_endpoint.set_nodes(pairs(nodes), version=4)
        requests = config_endpoint.requests
        await wait_until(lambda: config_endpoint.requests >= requests + 2)
        config_endpoint.set_nodes(pairs(nodes), version=5)
        requests = config_endpoint.requests
        await wait_until(lambda: config_endpoint.requests >= requests + 2)
        assert cluster.management.nodes() == [address(node) for node in nodes[:2]]
        config_endpoint.set_nodes(pairs(nodes), version=6)
        await wait_until(lambda: len(cluster.management.nodes()) == 3)
    finally:
        await cluster.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "answered ERROR"),
        ("garbage", "unparsable"),
        ("hang", "did not answer"),
    ],
)
async def test_faulty_endpoint_keeps_the_last_node_list(
    launcher, config_endpoint, caplog, mode, reason
):
    """ERROR, garbage or no answer is logged with its reason and the node list stays."""
    nodes = launcher.start(2)
    config_endpoint.set_nodes(pairs(nodes))

    def cluster_records():
        return [r for r in caplog.records if r.name == "emcache.cluster"]

    cluster = await Cluster.create([address(config_endpoint)], discovery(autodiscovery_timeout=0.3))
    try:
        with caplog.at_level(logging.WARNING, logger="emcache.cluster"):
            config_endpoint.mode = mode
            config_endpoint.set_nodes(pairs(nodes[:1]))
            await wait_until(lambda: any(reason in r.getMessage() for r in cluster_records()))
        assert cluster.management.nodes() == [address(node) for node in nodes]
        warning = next(r for r in cluster_records() if reason in r.getMessage())
        assert warning.levelno == logging.WARNING
        assert "keeping the last node list" in warning.getMessage()
        config_endpoint.mode = "ok"
        await wait_until(lambda: len(cluster.management.nodes()) == 1, limit=5)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_empty_node_list_keeps_the_last_node_list(launcher, config_endpoint, caplog):
    """A newer configuration listing no node is refused with a warning."""
    nodes = launcher.start(2)
    config_endpoint.set_nodes(pairs(nodes))
    cluster = await Cluster.create([address(config_endpoint)], discovery())
    try:
        with caplog.at_level(logging.WARNING, logger="emcache.cluster"):
            config_endpoint.set_nodes([])
            await wait_until(
                lambda: any("empty node list" in r.getMessage() for r in caplog.records)
            )
        assert len(cluster.management.nodes()) == 2
    finally:
        await cluster.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "reason"),
    [("error", "answered ERROR"), ("garbage", "unparsable"), ("hang", "did not answer")],
)
async def test_create_starts_without_nodes_when_first_discovery_fails(
    config_endpoint, caplog, mode, reason
):
    """Without a first node list, create returns within the timeout, warns, and routing says why."""
    config_endpoint.set_nodes([("127.0.0.1", 1)])
    config_endpoint.mode = mode
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="emcache.cluster"):
        cluster = await Cluster.create(
            [address(config_endpoint)], discovery(autodiscovery_timeout=0.3)
        )
    try:
        assert time.monotonic() - start < 1.0
        assert cluster.management.nodes() == []
        with pytest.raises(ClusterNoAvailableNodes, match=reason) as info:
            cluster.pick_pool(b"key")
        assert str(info.value).startswith("autodiscovery has found no nodes yet: ")
        with pytest.raises(ClusterNoAvailableNodes, match=reason):
            cluster.pick_pools([b"a", b"b"])
        warning = next(
            r for r in caplog.records if r.name == "emcache.cluster" and reason in r.getMessage()
        )
        assert warning.levelno == logging.WARNING
        assert "starting with no nodes" in warning.getMessage()
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_nodes_are_used_as_soon_as_an_endpoint_answers(memcached, config_endpoint):
    """After a failed start, the first poll that gets a node list routes to its nodes."""
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    config_endpoint.mode = "error"
    events = RecordingEvents()
    cluster = await Cluster.create(
        [address(config_endpoint)],
        discovery(autodiscovery_timeout=0.3, cluster_events=events),
    )
    try:
        with pytest.raises(ClusterNoAvailableNodes, match="answered ERROR"):
            cluster.pick_pool(b"key")
        config_endpoint.mode = "ok"
        await wait_until(lambda: cluster.management.nodes() == [address(memcached)])
        assert await set_key(cluster, b"key") is not None
        await wait_until(lambda: ("added", address(memcached)) in events.events)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_create_starts_without_nodes_against_a_plain_memcached(memcached):
    """A memcached without the extension answers ERROR, and routing says so."""
    cluster = await Cluster.create([address(memcached)], discovery())
    try:
        with pytest.raises(ClusterNoAvailableNodes, match="does not support autodiscovery"):
            cluster.pick_pool(b"key")
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_first_discovery_asks_explicitly_raises_autodiscovery_error(config_endpoint):
    """Asking for the first node list explicitly still raises AutodiscoveryError with the reason."""
    config_endpoint.mode = "error"
    autodiscovery = Autodiscovery(
        [address(config_endpoint)], FAST_POOL, interval=60.0, timeout=0.3, apply=print
    )
    with pytest.raises(AutodiscoveryError, match="answered ERROR"):
        await autodiscovery.first()
    assert autodiscovery.last_failure is not None
    assert "answered ERROR" in autodiscovery.last_failure


@pytest.mark.asyncio
async def test_create_asks_the_next_configuration_endpoint(memcached, config_endpoint):
    """When one configuration endpoint fails, create asks the next one."""
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    endpoints = [address(memcached), address(config_endpoint)]
    cluster = await Cluster.create(endpoints, discovery())
    try:
        assert cluster.management.nodes() == [address(memcached)]
    finally:
        await cluster.close()


class SilentProtocol(asyncio.Protocol):
    """Accepts a connection and never answers: a hung configuration endpoint."""

    def __init__(self, server):
        self.server = server

    def connection_made(self, transport):
        self.server.transports.append(transport)

    def connection_lost(self, exc):
        self.server.lost += 1


class SilentServer:
    """A plain TCP server that accepts connections and never writes a byte."""

    def __init__(self):
        self.transports = []
        self.lost = 0
        self.address = None
        self._server = None

    async def start(self):
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SilentProtocol(self), "127.0.0.1", 0)
        self.address = MemcachedHostAddress("127.0.0.1", self._server.sockets[0].getsockname()[1])

    async def close(self):
        self._server.close()
        for transport in self.transports:
            transport.close()
        await self._server.wait_closed()


@pytest_asyncio.fixture(name="silent_endpoint")
async def _silent_endpoint():
    server = SilentServer()
    await server.start()
    yield server
    await server.close()


@pytest.mark.asyncio
async def test_a_hanging_first_endpoint_leaves_the_first_discovery_to_the_next(
    memcached, config_endpoint, silent_endpoint
):
    """A first endpoint that never answers costs its share of the timeout, then the next answers."""
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    endpoints = [silent_endpoint.address, address(config_endpoint)]
    start = time.monotonic()
    cluster = await Cluster.create(endpoints, discovery(autodiscovery_timeout=3.0))
    try:
        assert time.monotonic() - start < 2.5  # the silent endpoint's share is 1.5 s
        assert cluster.management.nodes() == [address(memcached)]
        # The request to the silent endpoint was given up and its connection closed.
        await wait_until(lambda: silent_endpoint.lost == len(silent_endpoint.transports) == 1)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_a_hanging_endpoint_leaves_every_poll_to_the_next(memcached_cluster, config_endpoint):
    """When the endpoint that answered last starts hanging, polls get the nodes from the next."""
    nodes = memcached_cluster
    async with FakeConfigEndpoint(pairs(nodes[:1])) as second:
        config_endpoint.set_nodes(pairs(nodes[:1]))
        endpoints = [address(config_endpoint), address(second)]
        cluster = await Cluster.create(endpoints, discovery(autodiscovery_timeout=4.0))
        try:
            assert cluster.management.nodes() == [address(nodes[0])]
            config_endpoint.mode = "hang"
            second.set_nodes(pairs(nodes), version=10)
            # The hung endpoint costs its share (2 s), not the whole timeout (4 s).
            await wait_until(lambda: len(cluster.management.nodes()) == 3, limit=3.0)
            # The endpoint that answered is asked first from then on.
            second.set_nodes(pairs(nodes[:2]), version=11)
            await wait_until(lambda: len(cluster.management.nodes()) == 2, limit=1.0)
        finally:
            await cluster.close()


@pytest.mark.asyncio
async def test_every_endpoint_failing_is_reported_with_each_reason(
    config_endpoint, silent_endpoint
):
    """When no endpoint answers, the reason names each of them."""
    config_endpoint.mode = "error"
    endpoints = [silent_endpoint.address, address(config_endpoint)]
    start = time.monotonic()
    cluster = await Cluster.create(endpoints, discovery(autodiscovery_timeout=0.6))
    try:
        assert time.monotonic() - start < 1.5
        with pytest.raises(ClusterNoAvailableNodes) as info:
            cluster.pick_pool(b"key")
        message = str(info.value)
        assert "answered ERROR" in message
        assert f"{silent_endpoint.address.port} did not answer" in message
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_create_lets_an_on_connect_error_through(config_endpoint):
    """An on-connect step refusing the configuration endpoint is not hidden as a discovery error."""

    class Refused(Exception):
        pass

    async def refuse(connection):
        raise Refused("bad credentials")

    config_endpoint.set_nodes([("127.0.0.1", 1)])
    pool = PoolConfig(connection_timeout=1.0, on_connect=refuse)
    with pytest.raises(Refused):
        await Cluster.create([address(config_endpoint)], discovery(pool=pool))


@pytest.mark.asyncio
async def test_close_stops_polling(memcached, config_endpoint):
    """After close the configuration endpoint is not asked any more."""
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    cluster = await Cluster.create([address(config_endpoint)], discovery())
    await wait_until(lambda: config_endpoint.requests >= 3)
    await cluster.close()
    requests = config_endpoint.requests
    await asyncio.sleep(3 * POLL)
    assert config_endpoint.requests == requests


def test_discovered_endpoints_prefer_the_ip():
    """A node's ip is used when present, its host name otherwise; duplicates collapse."""
    reply = ConfigReply(
        version=1,
        nodes=(
            ConfigNode(host="a.example", ip="10.0.0.1", port=11211),
            ConfigNode(host="b.example", ip="", port=11212),
            ConfigNode(host="a.example", ip="10.0.0.1", port=11211),
        ),
    )
    assert discovered_endpoints(reply) == [
        MemcachedHostAddress("10.0.0.1", 11211),
        MemcachedHostAddress("b.example", 11212),
    ]
