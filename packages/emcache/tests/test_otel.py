"""``emcache.otel``: what instrumenting wraps, what it leaves alone, and how it is undone.

The spans and metrics themselves are checked against real memcached in
``tests_integration/test_otel.py``.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider

import emcache
import emcache.otel
from emcache._batching import AutoBatcher
from emcache._meta import MetaCommands
from emcache.otel import _install
from emcache.otel._names import error_type

COMMANDS = [
    *_install._RETRIEVALS,
    *_install._STORAGE,
    *_install._KEYED,
    *_install._MANY,
    *_install._META_MANY,
    *_install._NODE,
    "fetch",
]


def _method(name: str) -> Any:
    """The function ``Client`` runs for ``name``, wherever in its classes it is defined."""
    return inspect.getattr_static(emcache.Client, name)


@pytest.fixture(name="originals")
def _originals() -> Iterator[dict[str, object]]:
    """The client's own methods; the test leaves the client uninstrumented."""
    saved = {name: _method(name) for name in [*COMMANDS, "__init__", "close"]}
    yield saved
    emcache.otel.uninstrument()
    assert all(_method(name) is saved[name] for name in saved)


def _sdk_providers() -> tuple[TracerProvider, MeterProvider]:
    return TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()])


def test_every_public_command_is_wrapped(originals: dict[str, object]) -> None:
    """Each command of the client has a wrapper, and only commands and plumbing are wrapped."""
    public = {
        name
        for name, value in inspect.getmembers_static(emcache.Client)
        if inspect.iscoroutinefunction(value) and not name.startswith("_")
    }
    unwrapped = public - {"close"} - set(COMMANDS)
    assert not unwrapped, f"commands emcache.otel._install does not wrap: {sorted(unwrapped)}"
    assert set(COMMANDS) <= public


def test_instrument_wraps_and_uninstrument_restores(originals: dict[str, object]) -> None:
    """With an SDK, the commands are wrappers; uninstrument puts the very originals back."""
    tracer_provider, meter_provider = _sdk_providers()
    assert emcache.otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    assert emcache.otel.is_instrumented()
    for name in COMMANDS:
        wrapper = _method(name)
        assert wrapper is not originals[name]
        assert wrapper.__wrapped__ is originals[name]
        assert wrapper.__name__ == name
        assert wrapper.__doc__ == getattr(originals[name], "__doc__", None)
    emcache.otel.uninstrument()
    assert not emcache.otel.is_instrumented()
    for name, original in originals.items():
        assert _method(name) is original


def test_instrument_twice_replaces_the_first(originals: dict[str, object]) -> None:
    """A second instrument() wraps the originals, not the first wrappers."""
    tracer_provider, meter_provider = _sdk_providers()
    emcache.otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    emcache.otel.instrument(tracer_provider=tracer_provider, record_keys=True)
    assert _method("get").__wrapped__ is originals["get"]


def test_no_sdk_wraps_nothing(originals: dict[str, object]) -> None:
    """The API's no-op providers (no SDK configured) leave every method as it is."""
    assert not emcache.otel.instrument()
    assert not emcache.otel.instrument(
        tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    assert not emcache.otel.is_instrumented()
    for name, original in originals.items():
        assert _method(name) is original
    assert AutoBatcher.__dict__["get"].__name__ == "get"
    assert not hasattr(AutoBatcher.__dict__["get"], "__wrapped__")


def test_traces_only_leaves_the_pool_registry_alone(originals: dict[str, object]) -> None:
    """Without metrics, creating and closing clients is not wrapped."""
    tracer_provider, _ = _sdk_providers()
    assert emcache.otel.instrument(tracer_provider=tracer_provider)
    assert _method("__init__") is originals["__init__"]
    assert _method("close") is originals["close"]
    assert hasattr(AutoBatcher.__dict__["_start_batch"], "__wrapped__")


def test_metrics_only_leaves_the_batcher_alone(originals: dict[str, object]) -> None:
    """Without traces, the autobatcher (whose batch is only a span attribute) is not wrapped."""
    _, meter_provider = _sdk_providers()
    assert emcache.otel.instrument(meter_provider=meter_provider)
    assert not hasattr(AutoBatcher.__dict__["_start_batch"], "__wrapped__")
    assert _method("__init__") is not originals["__init__"]


@pytest.mark.parametrize(("name", "spec"), sorted(_install._RETRIEVALS.items()))
def test_retrievals_take_the_key_where_the_wrapper_reads_it(
    name: str, spec: tuple[str, int, bool]
) -> None:
    """The wrappers read the key by position and name: the signatures must agree."""
    parameters = list(inspect.signature(_method(name)).parameters)[1:]
    assert parameters[spec[1]] == "key"


@pytest.mark.parametrize("name", [*_install._STORAGE, *_install._KEYED, "fetch"])
def test_keyed_commands_take_the_key_first(name: str) -> None:
    """Storage and other keyed commands take ``key`` (then ``value`` for storage) first."""
    parameters = list(inspect.signature(_method(name)).parameters)[1:]
    assert parameters[0] == "key"
    if name in _install._STORAGE:
        assert parameters[1] == "value"


@pytest.mark.parametrize("name", [*_install._MANY, *_install._META_MANY])
def test_many_key_commands_take_their_keys_first(name: str) -> None:
    """``set_many`` takes its items first (the wrapper counts their bytes)."""
    parameters = list(inspect.signature(_method(name)).parameters)[1:]
    keys_at = 1 if name.startswith("gat") else 0
    assert parameters[keys_at] == ("items" if name == "set_many" else "keys")


@pytest.mark.parametrize("name", _install._NODE)
def test_node_commands_take_the_node_first(name: str) -> None:
    """Node commands take the node as their first argument."""
    parameters = list(inspect.signature(_method(name)).parameters)[1:]
    assert parameters[0] == "memcached_host_address"


def test_plumbing_the_wrappers_rely_on_is_there() -> None:
    """The private methods and attributes the adapter hooks into still exist as it expects."""
    fetch = inspect.signature(emcache.Client.__dict__["_fetch_many_on_pool"])
    assert list(fetch.parameters) == ["self", "pool", "request"]
    start = inspect.signature(AutoBatcher.__dict__["_start_batch"])
    assert list(start.parameters) == ["self", "pool", "command", "keys", "waiters", "return_cas"]
    get = inspect.signature(AutoBatcher.__dict__["get"])
    assert list(get.parameters) == ["self", "key", "return_flags", "return_cas"]
    batch_on = inspect.signature(MetaCommands.__dict__["_batch_on"])
    assert list(batch_on.parameters) == ["self", "pool", "requests", "keys", "write"]
    assert {"_batcher", "_cluster"} <= set(emcache.Client.__slots__)


def test_error_type_names_what_users_catch() -> None:
    """``error.type`` is the exported name of an emcache error, the bare name of a builtin."""
    assert error_type(emcache.OperationTimeoutError()) == "emcache.OperationTimeoutError"
    assert error_type(emcache.ClusterNoAvailableNodes()) == "emcache.ClusterNoAvailableNodes"
    assert error_type(ValueError()) == "ValueError"
    assert error_type(subprocess.SubprocessError()) == "subprocess.SubprocessError"


def test_missing_api_says_which_extra_to_install() -> None:
    """Without opentelemetry installed, importing emcache.otel names the extra."""
    script = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "opentelemetry":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, Block())
        import emcache
        try:
            import emcache.otel
        except ModuleNotFoundError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'emcache[otel]'" in done.stdout, done.stdout + done.stderr
