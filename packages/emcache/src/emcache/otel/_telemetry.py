"""The tracer and the per-operation instruments, and the record of one command in flight.

Strategy. A :class:`Telemetry` is built once by :func:`emcache.otel.instrument`; the
wrappers of the client's commands only call its methods. Each signal is ``None`` when
its provider is the API's no-op one, so a wrapper never pays for a span or a
measurement nobody collects.

Cost decides the rest, since a synchronous measurement through the SDK costs about as
much as a whole memcached round trip of this client. Only the duration histogram is
recorded per command (a distribution cannot be summed up beforehand); hits, misses
and value bytes are plain integers in a :class:`Series` per (thread, operation, node),
which observable counters read when a reader collects. A series belongs to one thread,
so an increment is never lost to another thread's. Attribute dicts are built once per
(operation, node) and shared: the SDK copies span attributes and only reads
measurement attributes, so a dict nobody mutates saves an allocation per command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Literal, NamedTuple

from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from emcache.otel._names import (
    DB_OPERATION_BATCH_SIZE,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_SYSTEM_NAME,
    DURATION_BUCKETS,
    ERROR_TYPE,
    MEMCACHED,
    error_type,
    node_attributes,
)
from emcache_pool import Endpoint

__all__ = [
    "Attributes",
    "Call",
    "Kind",
    "Observable",
    "Series",
    "Telemetry",
    "batch_attributes",
    "create_observables",
    "forget_series",
]

Attributes = dict[str, AttributeValue]
Observe = Callable[[CallbackOptions], Iterable[Observation]]


Kind = Literal["counter", "up_down_counter", "gauge"]


class Observable(NamedTuple):
    """An observable instrument, as :func:`create_observables` creates it."""

    kind: Kind
    name: str
    unit: str
    description: str
    callback: Observe


def create_observables(meter: Meter, observables: Iterable[Observable]) -> None:
    """Create each of ``observables`` on ``meter`` (again is harmless: the SDK keeps the first)."""
    create = {
        "counter": meter.create_observable_counter,
        "up_down_counter": meter.create_observable_up_down_counter,
        "gauge": meter.create_observable_gauge,
    }
    for kind, name, unit, description, callback in observables:
        create[kind](name, [callback], unit=unit, description=description)


class Series:
    """What one thread counted of one operation on one node (the node None: several).

    Attributes:
        attributes: The operation's and node's attributes.
        hits: Keys found.
        misses: Keys not found.
        sent: Bytes of values stored.
        received: Bytes of values retrieved.
    """

    __slots__ = ("attributes", "hits", "misses", "received", "sent")

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes
        self.hits = 0
        self.misses = 0
        self.sent = 0
        self.received = 0


# (thread, operation, node) -> its series; read by the observable counters
_SERIES: dict[tuple[int, str, Endpoint | None], Series] = {}
# the observable counters summing a Series attribute: (name, unit, description, attribute)
_SERIES_COUNTERS = (
    ("emcache.client.hits", "{hit}", "Keys retrievals found.", "hits"),
    ("emcache.client.misses", "{miss}", "Keys retrievals did not find.", "misses"),
    ("emcache.client.value.sent", "By", "Bytes of the values storage commands sent.", "sent"),
    ("emcache.client.value.received", "By", "Bytes of the values retrievals received.", "received"),
)


def forget_series() -> None:
    """Drop every count (when the client is uninstrumented)."""
    _SERIES.clear()


class Call:
    """One command in flight: its span, its start and what was learnt on the way.

    Attributes:
        series: The operation's and node's attributes and counters.
        span: The span while it records, else None (tracing off, or sampled out).
        parent: The span as started, recording or not: the parent of child spans.
        started: ``time.perf_counter()`` when the command started.
        batch_size: For an autobatched get, how many keys its batch asked for.
        future: For an autobatched get, the future the batcher resolves.
    """

    __slots__ = ("batch_size", "future", "parent", "series", "span", "started")

    def __init__(self, series: Series, span: Span | None) -> None:
        self.series = series
        self.parent = span
        self.span = span if span is not None and span.is_recording() else None
        self.batch_size = 0
        self.future: object = None
        self.started = time.perf_counter()


class Telemetry:
    """The signals :func:`emcache.otel.instrument` turned on.

    Args:
        tracer: Where spans go, or None for no spans.
        meter: Where the instruments are created, or None for no metrics.
        record_keys: Put the keys of each command in ``db.query.text``.
    """

    __slots__ = ("_attributes", "duration", "record_keys", "tracer")

    def __init__(self, tracer: Tracer | None, meter: Meter | None, *, record_keys: bool) -> None:
        self.tracer = tracer
        self.record_keys = record_keys
        self._attributes: dict[tuple[str, Endpoint | None], Attributes] = {}
        self.duration: Histogram | None = None
        if meter is not None:
            self._create_instruments(meter)

    def _create_instruments(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of memcached commands, per node and operation.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        create_observables(
            meter,
            (
                Observable("counter", name, unit, description, _summed(attrgetter(field)))
                for name, unit, description, field in _SERIES_COUNTERS
            ),
        )

    def series(self, operation: str, endpoint: Endpoint | None) -> Series:
        """This thread's series of ``operation`` on a node (None: unknown, or many)."""
        key = (threading.get_ident(), operation, endpoint)
        found = _SERIES.get(key)
        if found is None:
            found = _SERIES[key] = Series(self._attributes_of(operation, endpoint))
        return found

    def _attributes_of(self, operation: str, endpoint: Endpoint | None) -> Attributes:
        key = (operation, endpoint)
        found = self._attributes.get(key)
        if found is None:
            found = {DB_SYSTEM_NAME: MEMCACHED, DB_OPERATION_NAME: operation}
            if endpoint is not None:
                found.update(node_attributes(endpoint))
            self._attributes[key] = found
        return found

    # -- one command ----------------------------------------------------------------------------
    def begin(self, series: Series, parent: Span | None = None) -> Call:
        """Start a command: its span is a child of ``parent``, else of the current span."""
        tracer = self.tracer
        if tracer is None:
            return Call(series, None)
        attributes = series.attributes
        context = None if parent is None else trace.set_span_in_context(parent)
        name = str(attributes[DB_OPERATION_NAME])
        return Call(
            series, tracer.start_span(name, context, kind=SpanKind.CLIENT, attributes=attributes)
        )

    def succeed(
        self,
        call: Call,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        measured: bool = True,
    ) -> None:
        """End a command that returned, adding ``attributes`` to its span.

        ``measured`` records its duration.
        """
        if measured and self.duration is not None:
            self.duration.record(time.perf_counter() - call.started, call.series.attributes)
        span = call.span
        if span is not None:
            if attributes:
                span.set_attributes(attributes)
            span.end()

    def fail(self, call: Call, exc: BaseException, *, measured: bool = True) -> None:
        """End a command that raised ``exc``: error status and ``error.type``."""
        kind = error_type(exc)
        if measured and self.duration is not None:
            attributes = {**call.series.attributes, ERROR_TYPE: kind}
            self.duration.record(time.perf_counter() - call.started, attributes)
        span = call.span
        if span is not None:
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, str(exc) or kind))
            span.end()

    # -- span attributes ------------------------------------------------------------------------
    def query(self, call: Call, command: str, keys: Sequence[object]) -> None:
        """With ``record_keys``, the command line without its data: ``get k1 k2``."""
        if not self.record_keys or call.span is None:
            return
        words = [command]
        words += [_key_text(key) for key in keys]
        call.span.set_attribute(DB_QUERY_TEXT, " ".join(words))


def batch_attributes(size: int) -> Attributes:
    """``db.operation.batch.size``, which the conventions leave out for a batch of one."""
    return {DB_OPERATION_BATCH_SIZE: size} if size >= 2 else {}


def _summed(read: Callable[[Series], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """A callback observing ``read(series)`` summed over threads, for series counted yet."""

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        totals: dict[int, tuple[Attributes, int]] = {}
        for series in list(_SERIES.values()):
            value = read(series)
            if value:
                attributes = series.attributes
                earlier = totals.get(id(attributes))
                totals[id(attributes)] = (attributes, value + (earlier[1] if earlier else 0))
        return [Observation(value, attributes) for attributes, value in totals.values()]

    return callback


def _key_text(key: object) -> str:
    if isinstance(key, bytes | bytearray):
        return bytes(key).decode("utf-8", "backslashreplace")
    return repr(key)
