"""Helpers shared by the integration suites."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import emcache
from node_endpoints import endpoint_of

ClientFactory = Callable[..., Awaitable[emcache.Client]]

# The workspace's node -> endpoint helper, under the name these suites use.
address = endpoint_of
