"""emcache_auth: see the package README for what it offers."""

from emcache_auth.__about__ import __version__

__all__ = ["__version__"]
