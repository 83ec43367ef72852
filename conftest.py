"""Shared by every test in the workspace: the memcached fixtures from tools/."""

pytest_plugins = ["emcache_tools.pytest_plugin"]
