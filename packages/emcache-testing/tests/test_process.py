"""No node outlives the process that started it, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from emcache_testing import MemcachedLauncher, MemcachedNode
from emcache_testing._process import has_death_signal

# A test process that starts nodes, says their pids, then waits to be killed.
_STARTER = textwrap.dedent(
    """
    import sys, time
    from emcache_testing import MemcachedLauncher
    launcher = MemcachedLauncher(sys.argv[1])
    nodes = launcher.start(2, extra_args=sys.argv[2:])
    print(" ".join(str(node.pid) for node in nodes), flush=True)
    time.sleep(60)
    """
)
_USER_TEST = textwrap.dedent(
    """
    import os, time

    def test_waits(memcached_node):
        with open(os.environ["PID_FILE"] + ".tmp", "w") as f:
            f.write(str(memcached_node.pid))
        os.rename(os.environ["PID_FILE"] + ".tmp", os.environ["PID_FILE"])
        time.sleep(60)
    """
)


def _is_gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie not reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if not _is_gone(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def _kill_starter(binary: str, *extra_args: str) -> list[int]:
    """Start nodes in a child Python, SIGKILL it, and return the nodes still alive after 5 s."""
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, binary, *extra_args], stdout=subprocess.PIPE
    )
    assert starter.stdout is not None
    pids = [int(word) for word in starter.stdout.readline().split()]
    assert len(pids) == 2
    starter.kill()
    starter.wait()
    starter.stdout.close()
    alive = _wait_gone(pids)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


@pytest.mark.skipif(not has_death_signal(), reason="no parent-death signal on this system")
def test_nodes_die_with_a_killed_parent(memcached_binary: str) -> None:
    """SIGKILL on the process that started the nodes kills the nodes (parent-death signal)."""
    assert _kill_starter(memcached_binary) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="memcached drops privileges only when run as root")
def test_death_signal_survives_the_privilege_drop(memcached_binary: str) -> None:
    """As root the node passes -u with the current user, so dropping privileges keeps the signal."""
    launcher = MemcachedLauncher(memcached_binary)
    try:
        command = launcher.start()[0].command()
    finally:
        launcher.close()
    assert command[command.index("-u") + 1] == "root"
    assert _kill_starter(memcached_binary) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can start memcached as another user")
def test_nodes_running_as_another_user_die_with_a_killed_parent(memcached_binary: str) -> None:
    """With -u naming another user the signal is cleared, and the watchdog kills the nodes."""
    assert _kill_starter(memcached_binary, "-u", "nobody") == []


def test_a_node_started_from_a_short_lived_thread_outlives_the_thread(
    memcached_launcher: MemcachedLauncher,
) -> None:
    """The death signal follows the forking thread, so nodes are forked from one that stays."""
    started: list[MemcachedNode] = []
    thread = threading.Thread(target=lambda: started.extend(memcached_launcher.start()))
    thread.start()
    thread.join()
    time.sleep(0.2)
    assert started[0].is_running
    assert started[0].command_reply(b"version\r\n").startswith(b"VERSION")


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["plain", "xdist"])
def test_nodes_die_with_a_killed_pytest_session(
    tmp_path: Path, memcached_binary: str, workers: list[str]
) -> None:
    """A pytest run killed with SIGKILL in the middle of a test leaves no node behind."""
    (tmp_path / "test_user.py").write_text(_USER_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    pid_file = tmp_path / "pid"
    env = {**os.environ, "PID_FILE": str(pid_file), "EMCACHE_TESTING_MEMCACHED": memcached_binary}
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            assert session.poll() is None, "the user's session ended early"
            assert time.monotonic() < deadline, "the user's test did not start a node"
            time.sleep(0.05)
    finally:
        session.kill()
        session.wait()
    pid = int(pid_file.read_text())
    assert _wait_gone([pid]) == []
