"""emcache_pool: see the package README for what it offers."""

from emcache_pool.__about__ import __version__

__all__ = ["__version__"]
