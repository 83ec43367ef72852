"""Wrappers of the client's commands: one span and one duration per memcached command.

Strategy. :func:`emcache.otel.instrument` replaces the command methods of
:class:`emcache.Client` with these wrappers and :func:`emcache.otel.uninstrument` puts
the originals back, so a process that never instruments runs the client's own methods,
with no check and no extra frame.

A wrapper learns the node before the command runs, by asking the cluster for the key's
pool as the client is about to (a lookup in the cluster's route cache); node commands
name their node. Commands over many keys are one span for the call and one child span
per request to a node, made by the wrapper of ``Client._fetch_many_on_pool`` (or of
``MetaCommands._batch_on`` for the meta batches), which finds its parent in a context
variable (tasks copy it). An autobatched ``get`` learns
the size of the batch it rode in from the wrapper of ``AutoBatcher._start_batch``,
which finds each caller's record by its future.

Invariants: a wrapper returns or raises exactly what the original does; it never
records a key unless ``record_keys`` was asked for, and never a value.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from emcache._batching import AutoBatcher
from emcache._client import Client
from emcache._herd import FetchResult
from emcache._item import Item
from emcache._meta import MetaCommands
from emcache._meta_results import MetaItem
from emcache.otel._names import AUTOBATCHED, FETCH_REFRESHING, FETCH_STALE, HIT, HITS, MISSES
from emcache.otel._telemetry import Attributes, Call, Series, Telemetry, batch_attributes
from emcache_pool import ConnectionPool, Endpoint, MemcachedHostAddress, MemcachedUnixSocketPath
from emcache_protocol import (
    ErrorReply,
    MetaRequest,
    MetaResult,
    MetaStatus,
    RetrievalRequest,
    Value,
)

__all__ = [
    "batched_on_node",
    "batcher_get",
    "fetch",
    "fetched_on_pool",
    "keyed",
    "many_keys",
    "node_command",
    "retrieval",
    "start_batch",
    "storage",
]

Command = Callable[..., Awaitable[Any]]
_VALUE_TYPES = (bytes, bytearray, memoryview)


class _FanOut:
    """A many-key call in flight: the parent of its per-node spans, and their totals.

    ``retrieves`` says whether its requests read values, so have hits and misses.
    """

    __slots__ = ("command", "hits", "keys", "operation", "parent", "retrieves")

    def __init__(self, operation: str, command: str, call: Call, *, retrieves: bool) -> None:
        self.operation = operation
        self.command = command
        self.parent = call.parent
        self.retrieves = retrieves
        self.keys = 0
        self.hits = 0


_FAN_OUT: ContextVar[_FanOut | None] = ContextVar("emcache.otel.fan_out", default=None)
_AUTOBATCHED: ContextVar[Call | None] = ContextVar("emcache.otel.autobatched", default=None)
# future handed out by AutoBatcher.get -> the call waiting on it, until its batch starts
_WAITING_FOR_BATCH: dict[object, Call] = {}


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _route(client: Client, key: object) -> Endpoint | None:
    """The node the client sends ``key`` to; None if it cannot say (the call will raise)."""
    try:
        return client._cluster.pick_pool(key).endpoint  # type: ignore[arg-type]
    except Exception:
        return None


# -- one key ------------------------------------------------------------------------------------
def retrieval(
    telemetry: Telemetry,
    operation: str,
    command: str,
    original: Command,
    key_at: int,
    *,
    batchable: bool,
) -> Command:
    """get, gets, gat, gats, meta_get: the span says whether the key was found (``emcache.hit``)."""

    @functools.wraps(original)
    async def traced(self: Client, *args: Any, **kwargs: Any) -> Any:
        key = _argument(args, kwargs, key_at, "key")
        series = telemetry.series(operation, _route(self, key))
        call = telemetry.begin(series)
        telemetry.query(call, command, (key,))
        token = _AUTOBATCHED.set(call) if batchable and self._batcher is not None else None
        try:
            item: Item | MetaItem | None = await original(self, *args, **kwargs)
        except BaseException as exc:
            telemetry.fail(call, exc)
            raise
        finally:
            if token is not None:
                _AUTOBATCHED.reset(token)
                _WAITING_FOR_BATCH.pop(call.future, None)
        if item is None:
            series.misses += 1
        else:
            series.hits += 1
            series.received += len(item.value)
        if call.span is None:
            telemetry.succeed(call)
        elif token is None:
            telemetry.succeed(call, {HIT: item is not None})
        else:
            attributes = {HIT: item is not None, AUTOBATCHED: True}
            telemetry.succeed(call, attributes | batch_attributes(call.batch_size))
        return item

    return traced


def storage(telemetry: Telemetry, operation: str, command: str, original: Command) -> Command:
    """set, add, replace, append, prepend, cas, meta_set: counts the bytes of the values sent."""
    return _one_node(telemetry, operation, command, original, finish=_count_value_sent)


def keyed(telemetry: Telemetry, operation: str, command: str, original: Command) -> Command:
    """increment, decrement, touch, delete, meta_delete, meta_arithmetic, invalidate."""
    return _one_node(telemetry, operation, command, original)


def node_command(telemetry: Telemetry, operation: str, original: Command) -> Command:
    """flush_all, verbosity, cache_memlimit, version, stats: the node is their argument."""
    return _one_node(
        telemetry, operation, None, original, argument="memcached_host_address", route=_named_node
    )


def fetch(telemetry: Telemetry, original: Command) -> Command:
    """``fetch``: a hit unless this call ran the loader; stale and refreshing as attributes.

    The meta requests a fetch makes (and its loader's time) are inside its duration.
    """
    return _one_node(telemetry, "fetch", "mg", original, finish=_fetched)


Finish = Callable[[Series, tuple[Any, ...], dict[str, Any], Any], Attributes | None]


def _one_node(
    telemetry: Telemetry,
    operation: str,
    command: str | None,
    original: Command,
    *,
    argument: str = "key",
    route: Callable[[Client, Any], Endpoint | None] = _route,
    finish: Finish | None = None,
) -> Command:
    """A command sent to one node, named by its first argument (a key unless ``argument``).

    ``route`` finds the node from that argument. ``command`` is the memcached command
    recorded with the key (None: no key to record). ``finish`` counts what the result
    holds and returns the span's attributes.
    """

    @functools.wraps(original)
    async def traced(self: Client, *args: Any, **kwargs: Any) -> Any:
        first = _argument(args, kwargs, 0, argument)
        series = telemetry.series(operation, route(self, first))
        call = telemetry.begin(series)
        if command is not None:
            telemetry.query(call, command, (first,))
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            telemetry.fail(call, exc)
            raise
        telemetry.succeed(call, None if finish is None else finish(series, args, kwargs, result))
        return result

    return traced


def _named_node(client: Client, node: object) -> Endpoint | None:
    return node if isinstance(node, MemcachedHostAddress | MemcachedUnixSocketPath) else None


def _count_value_sent(
    series: Series, args: tuple[Any, ...], kwargs: dict[str, Any], result: object
) -> None:
    value = _argument(args, kwargs, 1, "value")
    if isinstance(value, _VALUE_TYPES):
        series.sent += len(value)


def _fetched(
    series: Series, args: tuple[Any, ...], kwargs: dict[str, Any], result: FetchResult
) -> Attributes:
    if result.loaded:
        series.misses += 1
    else:
        series.hits += 1
        series.received += len(result.value)
    return {HIT: not result.loaded, FETCH_STALE: result.stale, FETCH_REFRESHING: result.refreshing}


# -- many keys ----------------------------------------------------------------------------------
def many_keys(
    telemetry: Telemetry, operation: str, command: str, original: Command, *, retrieves: bool
) -> Command:
    """The many-key commands: the call's span, parent of one span per request to a node.

    The call itself has no duration measurement: each request to a node has one, and
    counts its hits and misses. ``set_many`` counts its values' bytes here, without a
    node (its requests are sent encoded).
    """

    @functools.wraps(original)
    async def traced(self: Client, *args: Any, **kwargs: Any) -> Any:
        series = telemetry.series(operation, None)
        call = telemetry.begin(series)
        fan_out = _FanOut(operation, command, call, retrieves=retrieves)
        token = _FAN_OUT.set(fan_out)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            telemetry.fail(call, exc, measured=False)
            raise
        finally:
            _FAN_OUT.reset(token)
        attributes = batch_attributes(fan_out.keys)
        if retrieves:
            attributes |= {HITS: fan_out.hits, MISSES: fan_out.keys - fan_out.hits}
        elif operation == "set_many":
            values = _argument(args, kwargs, 0, "items").values()
            series.sent += sum(len(v) for v in values if isinstance(v, _VALUE_TYPES))
        telemetry.succeed(call, attributes, measured=False)
        return result

    return traced


def fetched_on_pool(telemetry: Telemetry, original: Command) -> Command:
    """``Client._fetch_many_on_pool``: one request of a many-key call, to one node."""

    @functools.wraps(original)
    async def traced(self: Client, pool: ConnectionPool, request: RetrievalRequest) -> Any:
        fan_out = _FAN_OUT.get()
        if fan_out is None:
            return await original(self, pool, request)
        series = telemetry.series(fan_out.operation, pool.endpoint)
        call = telemetry.begin(series, fan_out.parent)
        keys = request.keys or ()
        telemetry.query(call, fan_out.command, keys)
        try:
            values: list[Value] = await original(self, pool, request)
        except BaseException as exc:
            telemetry.fail(call, exc)
            raise
        hits = len(values)
        misses = len(keys) - hits
        fan_out.keys += len(keys)
        fan_out.hits += hits
        series.hits += hits
        series.misses += misses
        series.received += sum(len(value[2]) for value in values)  # (key, flags, value, cas)
        telemetry.succeed(call, {HITS: hits, MISSES: misses} | batch_attributes(len(keys)))
        return values

    return traced


def batched_on_node(telemetry: Telemetry, original: Command) -> Command:
    """``MetaCommands._batch_on``: one quiet meta batch of a many-key call, to one node.

    A quiet ``mg`` answers a miss with nothing, so its replies hold None for misses.
    """

    @functools.wraps(original)
    async def traced(
        self: MetaCommands,
        pool: ConnectionPool,
        requests: list[MetaRequest],
        keys: list[bytes],
        write: bool,
    ) -> Any:
        fan_out = _FAN_OUT.get()
        if fan_out is None:
            return await original(self, pool, requests, keys, write)
        series = telemetry.series(fan_out.operation, pool.endpoint)
        call = telemetry.begin(series, fan_out.parent)
        telemetry.query(call, fan_out.command, keys)
        try:
            replies: list[MetaResult | ErrorReply | None] = await original(
                self, pool, requests, keys, write
            )
        except BaseException as exc:
            telemetry.fail(call, exc)
            raise
        fan_out.keys += len(keys)
        attributes = batch_attributes(len(keys))
        if fan_out.retrieves:
            found = [r for r in replies if type(r) is MetaResult and r.status is MetaStatus.VA]
            hits, misses = len(found), replies.count(None)
            fan_out.hits += hits
            series.hits += hits
            series.misses += misses
            series.received += sum(len(r.value or b"") for r in found)
            attributes |= {HITS: hits, MISSES: misses}
        telemetry.succeed(call, attributes)
        return replies

    return traced


# -- autobatching -------------------------------------------------------------------------------
def batcher_get(original: Callable[..., Any]) -> Callable[..., Any]:
    """``AutoBatcher.get``: remember which call waits on the future it hands out."""

    @functools.wraps(original)
    def traced(self: AutoBatcher, key: bytes, return_flags: bool, return_cas: bool) -> Any:
        future = original(self, key, return_flags, return_cas)
        call = _AUTOBATCHED.get()
        if call is not None:
            call.future = future
            _WAITING_FOR_BATCH[future] = call
        return future

    return traced


def start_batch(original: Callable[..., None]) -> Callable[..., None]:
    """``AutoBatcher._start_batch``: tell each call of the batch how many keys it holds."""

    @functools.wraps(original)
    def traced(
        self: AutoBatcher,
        pool: ConnectionPool,
        command: bytes,
        keys: list[bytes],
        waiters: dict[bytes, list[tuple[object, bool]]],
        return_cas: bool,
    ) -> None:
        size = len(keys)
        for key in keys:
            for future, _ in waiters.get(key, ()):
                call = _WAITING_FOR_BATCH.pop(future, None)
                if call is not None:
                    call.batch_size = size
        original(self, pool, command, keys, waiters, return_cas)

    return traced
