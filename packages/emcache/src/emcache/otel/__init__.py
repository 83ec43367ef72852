"""OpenTelemetry traces and metrics for emcache: the ``emcache[otel]`` extra.

One call turns it on for every client of the process::

    import emcache.otel

    emcache.otel.instrument()  # after configuring the OpenTelemetry SDK

Each command is then one span of kind CLIENT following the database semantic
conventions (``db.system.name="memcached"``, ``db.operation.name``, ``server.address``
and ``server.port`` of the node the key routed to), and is measured in the
``db.client.operation.duration`` histogram; hits, misses, pools and nodes have their
own instruments. See the Observability page of the documentation for every name.

Nothing else in emcache imports this module or OpenTelemetry: without this call, the
client runs its own methods, unwrapped.
"""

try:
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    msg = "emcache.otel needs the OpenTelemetry API: pip install 'emcache[otel]'"
    raise ModuleNotFoundError(msg, name=exc.name) from exc

from emcache.otel._install import instrument, is_instrumented, uninstrument

__all__ = ["instrument", "is_instrumented", "uninstrument"]
