"""Shared by every test in the workspace: the memcached fixtures from tools/.

Hypothesis runs without per-example deadlines: the suites share a 2-core
machine with the memcached processes they start, and a slow example there
says nothing about the code under test.
"""

from hypothesis import settings

pytest_plugins = ["emcache_tools.pytest_plugin"]

settings.register_profile("emcache", deadline=None)
settings.load_profile("emcache")
