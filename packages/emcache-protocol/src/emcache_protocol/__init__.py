"""emcache_protocol: see the package README for what it offers."""

from emcache_protocol.__about__ import __version__

__all__ = ["__version__"]
