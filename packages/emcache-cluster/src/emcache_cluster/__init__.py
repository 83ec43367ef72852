"""emcache_cluster: see the package README for what it offers."""

from emcache_cluster.__about__ import __version__

__all__ = ["__version__"]
