"""Throwaway real memcached nodes for tests, with the faults a cache meets in production.

The pytest fixtures live in :mod:`emcache_testing.plugin`, registered
automatically when the distribution is installed. Everything here also works
without pytest fixtures: a :class:`MemcachedLauncher` starts nodes anywhere
(a benchmark, a demo, a unittest suite).
"""

from emcache_testing.__about__ import __version__
from emcache_testing._binary import find_memcached, memcached_version
from emcache_testing._config_endpoint import FakeConfigEndpoint, Mode
from emcache_testing._hostile import Act, HostileServer, Request, ServerConnection
from emcache_testing._launcher import MemcachedLauncher
from emcache_testing._node import AsciiAuth, MemcachedNode
from emcache_testing._ports import free_port
from emcache_testing._proxy import Delay, DelayProxy
from emcache_testing._thread import AsyncServer, serve_in_thread
from emcache_testing._tls import TLSMaterial, make_tls_material
from emcache_testing.errors import MemcachedNotFoundError, NodeError, TestingError

__all__ = [
    "Act",
    "AsciiAuth",
    "AsyncServer",
    "Delay",
    "DelayProxy",
    "FakeConfigEndpoint",
    "HostileServer",
    "MemcachedLauncher",
    "MemcachedNode",
    "MemcachedNotFoundError",
    "Mode",
    "NodeError",
    "Request",
    "ServerConnection",
    "TLSMaterial",
    "TestingError",
    "__version__",
    "find_memcached",
    "free_port",
    "make_tls_material",
    "memcached_version",
    "serve_in_thread",
]

# Documented and shown where users import them from.
for _cls in (
    Act,
    AsciiAuth,
    DelayProxy,
    FakeConfigEndpoint,
    HostileServer,
    MemcachedLauncher,
    MemcachedNode,
    Request,
    ServerConnection,
    TLSMaterial,
):
    _cls.__module__ = __name__
del _cls
