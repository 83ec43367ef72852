"""Turning the instrumentation on and off: which methods are wrapped, and by what.

Strategy. The wrappers replace methods on the classes (:class:`~emcache.Client` and the
autobatcher) for as long as the process is instrumented, the way OpenTelemetry's
instrumentations of other clients do; the originals are kept in :data:`_ORIGINALS` and
put back by :func:`uninstrument`. Nothing is wrapped when both providers are the API's
no-op ones (no SDK configured): then a process that ships the extra pays nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace

from emcache.__about__ import __version__
from emcache._batching import AutoBatcher
from emcache._client import Client
from emcache._meta import MetaCommands
from emcache.otel import _commands, _pools
from emcache.otel._telemetry import Telemetry, forget_series

__all__ = ["install", "instrument", "is_instrumented", "uninstrument"]

logger = logging.getLogger("emcache.client")

_SCOPE = "emcache"
# method -> (memcached command, key position, batchable)
_RETRIEVALS = {
    "get": ("get", 0, True),
    "gets": ("gets", 0, True),
    "gat": ("gat", 1, False),
    "gats": ("gats", 1, False),
    "meta_get": ("mg", 0, False),
}
# method -> memcached command
_STORAGE = {
    "set": "set",
    "add": "add",
    "replace": "replace",
    "append": "append",
    "prepend": "prepend",
    "cas": "cas",
    "meta_set": "ms",
}
_KEYED = {
    "increment": "incr",
    "decrement": "decr",
    "touch": "touch",
    "delete": "delete",
    "meta_delete": "md",
    "meta_arithmetic": "ma",
    "invalidate": "md",
}
_MANY = {"get_many": "get", "gets_many": "gets", "gat_many": "gat", "gats_many": "gats"}
# method -> (memcached command, whether it reads values)
_META_MANY = {
    "meta_get_many": ("mg", True),
    "set_many": ("ms", False),
    "delete_many": ("md", False),
    "touch_many": ("mg", False),
}
_NODE = ("flush_all", "verbosity", "cache_memlimit", "version", "stats")

# (class, attribute) -> the original, while instrumented
_ORIGINALS: dict[tuple[type, str], Any] = {}


def instrument(
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    record_keys: bool = False,
) -> bool:
    """Trace and measure every command of every :class:`~emcache.Client` of the process.

    Call it once at start-up, after configuring the OpenTelemetry SDK and before
    creating clients (the pool and node instruments observe the clients created
    afterwards; spans and operation metrics cover every client). Calling it again
    replaces the earlier settings.

    Args:
        tracer_provider: Where spans go; the global provider when None.
        meter_provider: Where metrics go; the global provider when None.
        record_keys: Record the keys of each command in ``db.query.text``. Off by default:
            keys can hold personal data. Values are never recorded.

    Returns:
        Whether the client is now instrumented: False when neither provider is more
        than the API's no-op (no SDK configured), in which case nothing is wrapped.
    """
    uninstrument()
    tracer = _tracer(tracer_provider or trace.get_tracer_provider())
    meter = _meter(meter_provider or metrics.get_meter_provider())
    if tracer is None and meter is None:
        logger.info("OpenTelemetry: no SDK configured, emcache is not instrumented")
        return False
    install(Telemetry(tracer, meter, record_keys=record_keys), meter)
    logger.info(
        "OpenTelemetry: emcache instrumented (traces %s, metrics %s)",
        "on" if tracer is not None else "off",
        "on" if meter is not None else "off",
    )
    return True


def install(telemetry: Telemetry, meter: metrics.Meter | None) -> None:
    """Wrap the methods with ``telemetry``'s signals, whatever they are (no check of them).

    :func:`instrument` is the way in; this is also how the overhead benchmark measures
    the wrappers over the API's no-op tracer and meter, which ``instrument`` never wraps.
    """
    uninstrument()
    if meter is not None:
        _pools.create_instruments(meter)
    for (cls, name), wrapper in _wrappers(telemetry).items():
        owner = _owner(cls, name)
        _ORIGINALS[(owner, name)] = owner.__dict__[name]
        setattr(owner, name, wrapper)


def _owner(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO that defines ``name`` (``Client`` inherits its meta methods)."""
    return next(base for base in cls.__mro__ if name in base.__dict__)


def _defined(cls: type, name: str) -> Any:
    """The function ``cls`` runs for ``name``, as defined (no descriptor bound)."""
    return _owner(cls, name).__dict__[name]


def uninstrument() -> None:
    """Put the client's own methods back and stop observing pools. Idempotent."""
    while _ORIGINALS:
        (cls, name), original = _ORIGINALS.popitem()
        setattr(cls, name, original)
    _pools.forget_all()
    forget_series()


def is_instrumented() -> bool:
    """Whether :func:`instrument` wrapped the client's methods."""
    return bool(_ORIGINALS)


def _tracer(provider: trace.TracerProvider) -> trace.Tracer | None:
    if isinstance(provider, trace.NoOpTracerProvider | trace.ProxyTracerProvider):
        return None
    tracer = provider.get_tracer(_SCOPE, __version__)
    return None if isinstance(tracer, trace.NoOpTracer) else tracer


def _meter(provider: metrics.MeterProvider) -> metrics.Meter | None:
    # The API's proxy provider (no SDK set yet) is private; it lives beside NoOpMeterProvider.
    if type(provider).__module__.startswith("opentelemetry.metrics"):
        return None
    meter = provider.get_meter(_SCOPE, __version__)
    return None if isinstance(meter, metrics.NoOpMeter) else meter


def _wrappers(telemetry: Telemetry) -> dict[tuple[type, str], Callable[..., Any]]:
    """Every method to replace while instrumented, with its replacement."""
    wrap: dict[tuple[type, str], Callable[..., Any]] = {}
    tracing = telemetry.tracer is not None
    for name, (command, key_at, batchable) in _RETRIEVALS.items():
        original = _defined(Client, name)
        wrap[Client, name] = _commands.retrieval(
            telemetry, name, command, original, key_at, batchable=batchable and tracing
        )
    for name, command in _STORAGE.items():
        wrap[Client, name] = _commands.storage(telemetry, name, command, _defined(Client, name))
    for name, command in _KEYED.items():
        wrap[Client, name] = _commands.keyed(telemetry, name, command, _defined(Client, name))
    for name, command in _MANY.items():
        original = _defined(Client, name)
        wrap[Client, name] = _commands.many_keys(telemetry, name, command, original, retrieves=True)
    for name, (command, retrieves) in _META_MANY.items():
        original = _defined(Client, name)
        wrap[Client, name] = _commands.many_keys(
            telemetry, name, command, original, retrieves=retrieves
        )
    for name in _NODE:
        wrap[Client, name] = _commands.node_command(telemetry, name, _defined(Client, name))
    wrap[Client, "fetch"] = _commands.fetch(telemetry, _defined(Client, "fetch"))
    original = Client.__dict__["_fetch_many_on_pool"]
    wrap[Client, "_fetch_many_on_pool"] = _commands.fetched_on_pool(telemetry, original)
    batch_on = MetaCommands.__dict__["_batch_on"]
    wrap[MetaCommands, "_batch_on"] = _commands.batched_on_node(telemetry, batch_on)
    if tracing:  # the batch an autobatched get rode in is a span attribute
        wrap[AutoBatcher, "get"] = _commands.batcher_get(AutoBatcher.__dict__["get"])
        start = AutoBatcher.__dict__["_start_batch"]
        wrap[AutoBatcher, "_start_batch"] = _commands.start_batch(start)
    if telemetry.duration is not None:
        wrap[Client, "__init__"] = _pools.initialising(Client.__dict__["__init__"])
        wrap[Client, "close"] = _pools.closing(Client.__dict__["close"])
    return wrap
