"""Errors raised by emcache-testing."""

from __future__ import annotations

__all__ = ["MemcachedNotFoundError", "NodeError", "TestingError"]


class TestingError(Exception):
    """Base class of the errors of this package."""

    __test__ = False  # not a test class, whatever pytest's name patterns say


class MemcachedNotFoundError(TestingError):
    """The memcached binary cannot be found or does not run.

    The message is one line that names what was looked for and how to install
    memcached.
    """


class NodeError(TestingError):
    """A node did not start, stop, pause or resume as asked.

    The message carries what memcached printed on its standard error, if anything.
    """
