"""Finding the memcached binary, and the one line that says how to install it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from emcache_testing import MemcachedNotFoundError, find_memcached, memcached_version
from emcache_testing._binary import ENV_VAR


def _fake_binary(directory: Path, name: str, output: str) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_explicit_path_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path given by the caller is used even when the environment variable names another."""
    chosen = _fake_binary(tmp_path, "mc-chosen", "memcached 1.6.99")
    monkeypatch.setenv(ENV_VAR, str(_fake_binary(tmp_path, "mc-env", "memcached 1.6.1")))
    assert find_memcached(chosen) == str(chosen)


def test_environment_variable_wins_over_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EMCACHE_TESTING_MEMCACHED is used before a memcached found on PATH."""
    env_binary = _fake_binary(tmp_path, "mc-env", "memcached 1.6.1")
    monkeypatch.setenv(ENV_VAR, str(env_binary))
    assert find_memcached() == str(env_binary)


def test_a_named_binary_that_does_not_exist_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrong path is reported with the path and the install commands, on one line."""
    monkeypatch.setenv(ENV_VAR, "/nonexistent/memcached")
    with pytest.raises(MemcachedNotFoundError) as info:
        find_memcached()
    message = str(info.value)
    assert "/nonexistent/memcached" in message
    assert "apt-get install memcached" in message
    assert "brew install memcached" in message
    assert "\n" not in message


def test_missing_memcached_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without memcached anywhere the error says how to install it."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(os, "access", lambda *_: False)
    with pytest.raises(MemcachedNotFoundError, match="apt-get install memcached") as info:
        find_memcached()
    assert "\n" not in str(info.value)


def test_version_of_the_installed_memcached(memcached_binary: str) -> None:
    """The binary in use reports a 1.x version."""
    assert memcached_version(memcached_binary).startswith("1.")


def test_a_binary_that_is_not_memcached_is_refused(tmp_path: Path) -> None:
    """Something that does not answer -V like memcached is reported, not started."""
    impostor = _fake_binary(tmp_path, "impostor", "hello")
    with pytest.raises(MemcachedNotFoundError, match="does not look like memcached"):
        memcached_version(str(impostor))
