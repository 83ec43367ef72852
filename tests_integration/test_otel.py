"""``emcache.otel`` against real memcached: spans, their errors, and metric values.

Each test instruments the client with its own SDK providers, an in-memory span
exporter and an in-memory metric reader, and uninstruments it at teardown (after its
clients are closed: the fixture is set up first, so it is torn down last).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import emcache
import emcache.otel
from emcache_testing import MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio

VALUE = b"v" * 10


class Telemetry:
    """What the SDK received: finished spans and collected metric points."""

    def __init__(self, spans: InMemorySpanExporter, reader: InMemoryMetricReader) -> None:
        self._spans = spans
        self._reader = reader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = self._spans.get_finished_spans()
        return [span for span in found if name is None or span.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self._reader.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
        ]

    def total(self, metric: str, **attributes: Any) -> float:
        """The sum of a counter's points (a histogram's counts) whose attributes match."""
        total: float = 0
        for point in self.points(metric):
            if all(point.attributes.get(k.replace("_", ".")) == v for k, v in attributes.items()):
                if isinstance(point, HistogramDataPoint):
                    total += point.count
                else:
                    assert isinstance(point, NumberDataPoint)
                    total += point.value
        return total


@pytest.fixture(name="telemetry")
def _telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    assert emcache.otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Telemetry(spans, reader)
    emcache.otel.uninstrument()
    meter_provider.shutdown()
    tracer_provider.shutdown()


def _attribute(span: ReadableSpan, name: str) -> Any:
    assert span.attributes is not None
    return span.attributes.get(name)


def _node(span: ReadableSpan) -> tuple[object, object]:
    return _attribute(span, "server.address"), _attribute(span, "server.port")


def _where(node: MemcachedNode) -> tuple[str, int | None]:
    return node.host, node.port


async def _run_every_command(client: emcache.Client, node: emcache.MemcachedHostAddress) -> None:
    """Every command of the client once, none failing."""
    await client.set(b"k", VALUE)
    await client.get(b"k")
    await client.get(b"missing")
    assert await client.gets(b"k") is not None
    await client.gat(0, b"k")
    await client.gats(0, b"k")
    await client.add(b"added", VALUE)
    await client.replace(b"k", VALUE)
    await client.append(b"k", b"+")
    await client.prepend(b"k", b"+")
    item = await client.gets(b"k")
    assert item is not None
    assert item.cas is not None
    await client.cas(b"k", VALUE, item.cas)
    await client.set(b"n", b"1")
    await client.increment(b"n", 2)
    await client.decrement(b"n", 1)
    await client.touch(b"k", 100)
    await client.delete(b"added")
    await client.get_many([b"k", b"n", b"missing"])
    await client.gets_many([b"k", b"n"])
    await client.gat_many(0, [b"k"])
    await client.gats_many(0, [b"k", b"missing"])
    await client.version(node)
    await client.stats(node)
    await client.verbosity(node, 1)
    await client.cache_memlimit(node, 64)
    await client.flush_all(node)


class TestSpans:
    async def test_each_command_family_has_its_span(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """Every command is one CLIENT span named by its operation, on the node it went to."""
        client = await make_client([memcached])
        node = address(memcached)
        assert isinstance(node, emcache.MemcachedHostAddress)
        await _run_every_command(client, node)
        spans = telemetry.spans()
        operations = [span.name for span in spans if span.parent is None]
        assert operations == [
            "set", "get", "get", "gets", "gat", "gats", "add", "replace", "append",
            "prepend", "gets", "cas", "set", "increment", "decrement", "touch", "delete",
            "get_many", "gets_many", "gat_many", "gats_many",
            "version", "stats", "verbosity", "cache_memlimit", "flush_all",
        ]  # fmt: skip
        for span in spans:
            assert span.kind is SpanKind.CLIENT
            assert span.status.status_code is StatusCode.UNSET
            assert span.attributes is not None
            assert span.attributes["db.system.name"] == "memcached"
            assert span.attributes["db.operation.name"] == span.name
            assert "db.query.text" not in span.attributes
            if not span.name.endswith("_many") or span.parent is not None:
                assert _node(span) == _where(memcached), span.name

    async def test_retrievals_say_hit_or_miss(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A single-key retrieval has ``emcache.hit``; a many-key one counts hits and misses."""
        client = await make_client([memcached])
        await client.set(b"k", VALUE)
        await client.get(b"k")
        await client.get(b"missing")
        await client.get_many([b"k", b"missing", b"gone"])
        hit, miss = telemetry.spans("get")
        assert _attribute(hit, "emcache.hit") is True
        assert _attribute(miss, "emcache.hit") is False
        [parent] = [s for s in telemetry.spans("get_many") if s.parent is None]
        assert _attribute(parent, "emcache.hits") == 1
        assert _attribute(parent, "emcache.misses") == 2
        assert _attribute(parent, "db.operation.batch.size") == 3

    async def test_many_keys_have_one_child_span_per_node(
        self,
        telemetry: Telemetry,
        memcached_cluster: list[MemcachedNode],
        make_client: ClientFactory,
    ) -> None:
        """get_many over three nodes: the call's span, and one child per node it asked."""
        client = await make_client(memcached_cluster)
        keys = [b"key-%d" % i for i in range(60)]
        for key in keys[:45]:
            await client.set(key, VALUE)
        found = await client.get_many(keys)
        assert len(found) == 45
        many = telemetry.spans("get_many")
        [parent] = [span for span in many if span.parent is None]
        children = [span for span in many if span.parent is not None]
        assert _node(parent) == (None, None)
        assert _attribute(parent, "db.operation.batch.size") == 60
        assert _attribute(parent, "emcache.hits") == 45
        assert {_node(child) for child in children} == {_where(n) for n in memcached_cluster}
        assert len(children) == 3
        parent_context = parent.get_span_context()
        assert parent_context is not None
        for child in children:
            assert child.parent is not None
            assert child.parent.span_id == parent_context.span_id
        assert sum(_attribute(child, "db.operation.batch.size") for child in children) == 60
        assert sum(_attribute(child, "emcache.hits") for child in children) == 45

    async def test_single_keys_name_the_node_they_routed_to(
        self,
        telemetry: Telemetry,
        memcached_cluster: list[MemcachedNode],
        make_client: ClientFactory,
    ) -> None:
        """Each key's span names the node holding the key (asked there directly)."""
        client = await make_client(memcached_cluster)
        for i in range(30):
            await client.set(b"key-%d" % i, VALUE)
        per_node: dict[tuple[object, object], int] = {}
        for span in telemetry.spans("set"):
            per_node[_node(span)] = per_node.get(_node(span), 0) + 1
        assert len(per_node) == 3
        for node in memcached_cluster:
            assert int(node.stats()["curr_items"]) == per_node[_where(node)]

    async def test_an_autobatched_get_records_its_batch(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """Concurrent gets sent as one request each carry the size of that batch."""
        client = await make_client([memcached], autobatching=True)
        await client.set(b"k-0", VALUE)
        await asyncio.gather(*(client.get(b"k-%d" % i) for i in range(10)))
        spans = telemetry.spans("get")
        assert len(spans) == 10
        for span in spans:
            assert _attribute(span, "emcache.autobatched") is True
            assert _attribute(span, "db.operation.batch.size") == 10
            assert _node(span) == _where(memcached)
        assert sum(_attribute(span, "emcache.hit") for span in spans) == 1

    async def test_a_lone_autobatched_get_is_no_batch(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A batch of one key is a single operation: no ``db.operation.batch.size``."""
        client = await make_client([memcached], autobatching=True)
        await client.get(b"alone")
        [span] = telemetry.spans("get")
        assert span.attributes is not None
        assert span.attributes["emcache.autobatched"] is True
        assert "db.operation.batch.size" not in span.attributes

    async def test_spans_are_children_of_the_callers_span(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A command's span is a child of the span current where it is awaited."""
        client = await make_client([memcached])
        tracer = TracerProvider().get_tracer("app")
        with tracer.start_as_current_span("request") as request:
            await client.get(b"k")
        [span] = telemetry.spans("get")
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id


class TestMetaCommands:
    async def test_meta_commands_have_their_spans(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """meta_get/set/delete/arithmetic are spans on their node; meta_get says hit or miss."""
        client = await make_client([memcached])
        await client.meta_set(b"k", VALUE)
        assert await client.meta_get(b"k") is not None
        assert await client.meta_get(b"missing") is None
        await client.meta_arithmetic(b"n", initial=1, vivify_ttl=60)
        await client.meta_delete(b"k")
        names = [span.name for span in telemetry.spans()]
        assert names == ["meta_set", "meta_get", "meta_get", "meta_arithmetic", "meta_delete"]
        for span in telemetry.spans():
            assert _node(span) == _where(memcached)
        hit, miss = telemetry.spans("meta_get")
        assert _attribute(hit, "emcache.hit") is True
        assert _attribute(miss, "emcache.hit") is False
        node = {"server_address": memcached.host, "server_port": memcached.port}
        assert telemetry.total("emcache.client.hits", **node, db_operation_name="meta_get") == 1
        assert telemetry.total("emcache.client.value.sent", **node) == len(VALUE)

    async def test_meta_batches_have_one_child_span_per_node(
        self,
        telemetry: Telemetry,
        memcached_cluster: list[MemcachedNode],
        make_client: ClientFactory,
    ) -> None:
        """set_many and meta_get_many: the call's span and one child per node's quiet batch."""
        client = await make_client(memcached_cluster)
        keys = [b"key-%d" % i for i in range(30)]
        await client.set_many(dict.fromkeys(keys[:20], VALUE))
        found = await client.meta_get_many(keys)
        assert len(found) == 20
        for name in ("set_many", "meta_get_many"):
            spans = telemetry.spans(name)
            [parent] = [span for span in spans if span.parent is None]
            children = [span for span in spans if span.parent is not None]
            size = 20 if name == "set_many" else 30
            assert _attribute(parent, "db.operation.batch.size") == size
            assert {_node(child) for child in children} == {_where(n) for n in memcached_cluster}
        [parent] = [s for s in telemetry.spans("meta_get_many") if s.parent is None]
        assert _attribute(parent, "emcache.hits") == 20
        assert _attribute(parent, "emcache.misses") == 10
        assert telemetry.total("emcache.client.hits", db_operation_name="meta_get_many") == 20
        assert telemetry.total("emcache.client.misses", db_operation_name="meta_get_many") == 10
        assert telemetry.total("emcache.client.value.sent", db_operation_name="set_many") == (
            20 * len(VALUE)
        )

    async def test_fetch_is_a_miss_when_it_loads(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """The fetch that ran the loader is a miss; the next one, served from the cache, a hit."""
        client = await make_client([memcached])

        async def load() -> bytes:
            return VALUE

        assert (await client.fetch(b"k", load, ttl=60)).loaded
        assert not (await client.fetch(b"k", load, ttl=60)).loaded
        loaded, served = telemetry.spans("fetch")
        assert _attribute(loaded, "emcache.hit") is False
        assert _attribute(served, "emcache.hit") is True
        assert _attribute(served, "emcache.fetch.stale") is False
        assert _node(served) == _where(memcached)


class TestKeys:
    async def test_keys_are_recorded_only_when_asked(
        self, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """``record_keys=True`` puts the command line (never the value) in db.query.text."""
        spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        emcache.otel.instrument(tracer_provider=provider, record_keys=True)
        try:
            client = await make_client([memcached])
            await client.set(b"user:42", b"secret-value")
            await client.get_many([b"user:42", b"user:43"])
        finally:
            emcache.otel.uninstrument()
        texts = [
            span.attributes.get("db.query.text")
            for span in spans.get_finished_spans()
            if span.attributes is not None
        ]
        assert texts[0] == "set user:42"
        assert "get user:42 user:43" in texts
        assert not any(b"secret" in str(text).encode() for text in texts)


class TestErrors:
    async def test_a_killed_node_gives_error_spans(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """Commands to a dead node end in ERROR spans with ``error.type``, on that node."""
        client = await make_client([memcached], timeout=0.5)
        await client.set(b"k", VALUE)
        memcached.kill()
        with pytest.raises(emcache.CacheUnavailableError) as raised:
            await client.get(b"k")
        [span] = telemetry.spans("get")
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["error.type"] == f"emcache.{type(raised.value).__name__}"
        assert _node(span) == _where(memcached)
        durations = telemetry.points("db.client.operation.duration")
        failed = [p for p in durations if "error.type" in p.attributes]
        assert [p.attributes["error.type"] for p in failed] == [span.attributes["error.type"]]
        assert failed[0].attributes["server.port"] == memcached.port

    async def test_a_refused_command_is_an_error_of_its_type(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A command the server refuses records the error the caller got."""
        client = await make_client([memcached])
        with pytest.raises(emcache.NotFoundCommandError):
            await client.delete(b"missing")
        [span] = telemetry.spans("delete")
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["error.type"] == "emcache.NotFoundCommandError"


class TestMetrics:
    async def test_a_known_workload(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """100 sets, then 60 hits and 40 misses: every counter and histogram agrees."""
        client = await make_client([memcached])
        for i in range(100):
            await client.set(b"k-%d" % i, VALUE)
        for i in range(100):
            await client.get(b"k-%d" % i if i < 60 else b"missing-%d" % i)
        node = {"server_address": memcached.host, "server_port": memcached.port}
        duration = "db.client.operation.duration"
        assert telemetry.total(duration, **node, db_operation_name="set") == 100
        assert telemetry.total(duration, **node, db_operation_name="get") == 100
        assert telemetry.total("emcache.client.hits", **node, db_operation_name="get") == 60
        assert telemetry.total("emcache.client.misses", **node, db_operation_name="get") == 40
        assert telemetry.total("emcache.client.value.sent", **node) == 100 * len(VALUE)
        assert telemetry.total("emcache.client.value.received", **node) == 60 * len(VALUE)
        assert telemetry.total("emcache.pool.connections", **node) >= 1
        assert telemetry.total("emcache.pool.connections.created", **node) >= 1
        assert telemetry.total("emcache.pool.connections.failed", **node) == 0
        assert telemetry.total("emcache.pool.requests.in_flight", **node) == 0
        assert telemetry.total("emcache.pool.requests.waiting", **node) == 0
        assert telemetry.total("emcache.node.up", **node) == 1
        assert telemetry.total("emcache.cluster.nodes") == 1

    async def test_histogram_buckets_reach_below_a_millisecond(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """The duration histogram has sub-millisecond buckets, in seconds."""
        client = await make_client([memcached])
        await client.get(b"k")
        [point] = telemetry.points("db.client.operation.duration")
        assert point.explicit_bounds[0] == 0.0001
        assert point.sum < 1.0

    async def test_many_key_metrics_are_per_node(
        self,
        telemetry: Telemetry,
        memcached_cluster: list[MemcachedNode],
        make_client: ClientFactory,
    ) -> None:
        """A get_many measures one duration per node asked, and counts hits per node."""
        client = await make_client(memcached_cluster)
        keys = [b"key-%d" % i for i in range(30)]
        for key in keys[:20]:
            await client.set(key, VALUE)
        await client.get_many(keys)
        durations = telemetry.points("db.client.operation.duration")
        many = [p for p in durations if p.attributes["db.operation.name"] == "get_many"]
        assert {p.attributes["server.port"] for p in many} == {n.port for n in memcached_cluster}
        assert telemetry.total("emcache.client.hits", db_operation_name="get_many") == 20
        assert telemetry.total("emcache.client.misses", db_operation_name="get_many") == 10

    async def test_node_health_and_failed_connections(
        self, telemetry: Telemetry, launcher: MemcachedLauncher, make_client: ClientFactory
    ) -> None:
        """A killed node reads as down, with the connection attempts that failed."""
        nodes = launcher.start(2)
        client = await make_client(list(nodes), timeout=0.5, connection_timeout=0.5)
        dead = nodes[0]
        dead.kill()
        for i in range(20):
            with contextlib.suppress(emcache.CacheUnavailableError):
                await client.get(b"key-%d" % i)
        down = {"server_address": dead.host, "server_port": dead.port}
        up = {"server_address": nodes[1].host, "server_port": nodes[1].port}
        for _ in range(50):
            if telemetry.total("emcache.node.up", **down) == 0:
                break
            await asyncio.sleep(0.1)
        assert telemetry.total("emcache.node.up", **down) == 0
        assert telemetry.total("emcache.node.up", **up) == 1
        assert telemetry.total("emcache.pool.connections.failed", **down) >= 1

    async def test_pool_gauges_observe_only_open_clients(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A closed client leaves the pool and node instruments."""
        client = await make_client([memcached])
        await client.get(b"k")
        assert telemetry.total("emcache.cluster.nodes") == 1
        await client.close()
        assert telemetry.total("emcache.cluster.nodes") == 0
        assert telemetry.points("emcache.pool.connections") == []

    async def test_observing_from_the_readers_thread(
        self, telemetry: Telemetry, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A collection from another thread (as a periodic reader does) reads on the loop."""
        client = await make_client([memcached])
        await client.get(b"k")
        node = {"server_address": memcached.host, "server_port": memcached.port}
        total = await asyncio.to_thread(telemetry.total, "emcache.pool.connections", **node)
        assert total >= 1
