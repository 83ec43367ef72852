"""emcache_hashing: see the package README for what it offers."""

from emcache_hashing.__about__ import __version__

__all__ = ["__version__"]
