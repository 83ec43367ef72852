"""The names the adapter emits: OpenTelemetry semantic conventions first, ``emcache.*`` after.

Attribute and metric names are plain strings here rather than imports from
``opentelemetry-semantic-conventions``: that distribution is not a dependency of the
API, and its incubating modules move between releases. The database conventions used
are those of semantic conventions 1.33 and later (``db.system.name``,
``db.operation.name``, ``db.client.operation.duration``); what they do not cover (hits,
misses, pool state, node health) is named under ``emcache.``.
"""

from __future__ import annotations

import emcache
from emcache_pool import Endpoint, MemcachedHostAddress

__all__ = [
    "AUTOBATCHED",
    "DB_OPERATION_BATCH_SIZE",
    "DB_OPERATION_NAME",
    "DB_QUERY_TEXT",
    "DB_SYSTEM_NAME",
    "DURATION_BUCKETS",
    "ERROR_TYPE",
    "FETCH_REFRESHING",
    "FETCH_STALE",
    "HIT",
    "HITS",
    "MEMCACHED",
    "MISSES",
    "NODE_CHANGE",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "error_type",
    "node_attributes",
]

# -- attributes ---------------------------------------------------------------------------------
DB_SYSTEM_NAME = "db.system.name"
MEMCACHED = "memcached"
DB_OPERATION_NAME = "db.operation.name"
DB_OPERATION_BATCH_SIZE = "db.operation.batch.size"
DB_QUERY_TEXT = "db.query.text"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HIT = "emcache.hit"
HITS = "emcache.hits"
MISSES = "emcache.misses"
AUTOBATCHED = "emcache.autobatched"
FETCH_STALE = "emcache.fetch.stale"
FETCH_REFRESHING = "emcache.fetch.refreshing"
NODE_CHANGE = "emcache.node.change"

# Seconds. memcached answers in tens to hundreds of microseconds on a LAN, so the
# conventions' advisory boundaries (which start at 1 ms) would put nearly every
# operation in the first bucket; these start at 100 us and still reach the timeouts.
DURATION_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


def node_attributes(endpoint: Endpoint) -> dict[str, str | int]:
    """``server.address`` and, for TCP, ``server.port`` of a node (a socket path has no port)."""
    if isinstance(endpoint, MemcachedHostAddress):
        return {SERVER_ADDRESS: endpoint.address, SERVER_PORT: endpoint.port}
    return {SERVER_ADDRESS: endpoint.path}


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of an exception: the name a user catches it by.

    The facade raises the classes it exports, whatever layer failed, so the value is
    one of a short list (``emcache.OperationTimeoutError``,
    ``emcache.ConnectionFailedError``, ``emcache.NotFoundCommandError`` ...), as the
    conventions want; a builtin keeps its bare name (``ValueError``), anything else is
    qualified by its module.
    """
    cls = type(exc)
    name = cls.__qualname__
    if vars(emcache).get(name) is cls:
        return f"emcache.{name}"
    if cls.__module__ == "builtins":
        return name
    return f"{cls.__module__}.{name}"
