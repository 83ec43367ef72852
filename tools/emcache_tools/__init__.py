"""Test, benchmark and demo helpers of the emcache workspace (not distributed)."""

from emcache_tools.fake_autodiscovery import FakeConfigEndpoint
from emcache_tools.launcher import (
    AuthConfig,
    MemcachedLauncher,
    MemcachedNotInstalledError,
    MemcachedProcess,
    TLSMaterial,
    find_memcached,
    free_port,
)

__all__ = [
    "AuthConfig",
    "FakeConfigEndpoint",
    "MemcachedLauncher",
    "MemcachedNotInstalledError",
    "MemcachedProcess",
    "TLSMaterial",
    "find_memcached",
    "free_port",
]
