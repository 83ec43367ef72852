"""The plugin as a user meets it: a pytest run in a directory of the user's own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SMOKE = textwrap.dedent(
    """
    def test_node(memcached_node):
        assert memcached_node.command_reply(b"version\\r\\n").startswith(b"VERSION")

    def test_without_memcached():
        assert True
    """
)


def _run(
    directory: Path, *args: str, memcached: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EMCACHE_TESTING_MEMCACHED"}
    if memcached is not None:
        env["EMCACHE_TESTING_MEMCACHED"] = memcached
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args, str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(name="project")
def _project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_smoke.py").write_text(_SMOKE)
    return tmp_path


def test_missing_memcached_fails_the_tests_that_need_it(project: Path) -> None:
    """Without memcached the node test errors with the one-line hint; the others pass."""
    done = _run(project, memcached="/nonexistent/memcached")
    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 error" in done.stdout
    lines = [line for line in done.stdout.splitlines() if "apt-get install memcached" in line]
    assert lines, done.stdout
    assert "brew install memcached" in lines[0]
    assert "Traceback" not in done.stdout
    assert "During handling" not in done.stdout


def test_missing_memcached_skips_when_asked_on_the_command_line(project: Path) -> None:
    """--memcached-skip-missing turns the failure into a skip with the same hint."""
    done = _run(project, "--memcached-skip-missing", memcached="/nonexistent/memcached")
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    assert "apt-get install memcached" in done.stdout


def test_missing_memcached_skips_when_asked_in_the_ini_file(project: Path) -> None:
    """memcached_skip_missing = true in the ini file does the same."""
    (project / "pytest.ini").write_text("[pytest]\nmemcached_skip_missing = true\n")
    done = _run(project, memcached="/nonexistent/memcached")
    assert "1 passed, 1 skipped" in done.stdout, done.stdout


def test_the_command_line_names_the_binary(project: Path, memcached_binary: str) -> None:
    """--memcached-bin wins over a wrong environment variable, and the header shows the binary."""
    done = _run(project, f"--memcached-bin={memcached_binary}", memcached="/nonexistent/memcached")
    assert "2 passed" in done.stdout, done.stdout
    assert f"at {memcached_binary}" in done.stdout


def test_the_ini_file_names_the_binary(project: Path, memcached_binary: str) -> None:
    """memcached_bin in the ini file is used when nothing else names a binary."""
    (project / "pytest.ini").write_text(f"[pytest]\nmemcached_bin = {memcached_binary}\n")
    done = _run(project)
    assert "2 passed" in done.stdout, done.stdout


def test_an_unknown_node_option_is_reported(project: Path, memcached_binary: str) -> None:
    """A misspelt memcached_options keyword fails the test with the known names."""
    (project / "test_smoke.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.memcached_options(memory=8)\n"
        "def test_node(memcached_node):\n    pass\n"
    )
    done = _run(project, memcached=memcached_binary)
    assert "unknown memory; use memory_mb" in done.stdout, done.stdout


def test_fixtures_are_listed(project: Path, memcached_binary: str) -> None:
    """pytest --fixtures shows every fixture of the plugin."""
    done = _run(project, "--fixtures", memcached=memcached_binary)
    for name in (
        "memcached_node",
        "memcached_cluster_nodes",
        "memcached_unix_node",
        "memcached_tls_node",
        "memcached_auth_node",
        "memcached_launcher",
        "memcached_config_endpoint",
        "memcached_hostile_server",
        "memcached_binary",
    ):
        assert name in done.stdout, name
