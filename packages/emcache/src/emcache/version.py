"""The version of the package, where emcache 1.x code reads it from."""

from emcache.__about__ import __version__

__all__ = ["__version__"]
