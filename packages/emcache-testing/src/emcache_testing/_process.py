"""Child processes that never outlive the test process, and their run state.

Strategy. On Linux a child asks the kernel, between fork and exec, to be sent
SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``). That covers a test
process killed with SIGKILL, where no cleanup code runs. Three traps:

* The "parent" is the thread that forked, not the process: a node started from
  a thread that ends (a sync fixture's helper thread, an executor) would die
  with it. Children are forked from the main thread, or else from one spawner
  thread that lives as long as the process.
* The kernel clears the setting when the child's effective user or group
  changes. memcached refuses to run as root without ``-u`` and then calls
  ``setuid``; the node passes ``-u`` with the current user, so that call
  changes nothing and the setting survives. A ``-u`` naming another user
  clears it.
* Other systems (macOS) have no such signal.

For the last two a watchdog process takes over: it reads a pipe whose only
writer is the test process. The kernel closes that end when the test process
dies, however it dies; the watchdog then kills the node.

Process state (running or stopped) is read from ``/proc`` (or ``ps`` where
there is no ``/proc``): SIGSTOP and SIGCONT take effect asynchronously, so
``pause()`` and ``resume()`` wait until the state confirms them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from emcache_testing.errors import NodeError

__all__ = ["Child", "has_death_signal", "spawn"]

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
_WATCHDOG = """\
import os, signal, sys
try:
    sys.stdin.buffer.read()
finally:
    try:
        os.kill(int(sys.argv[1]), signal.SIGKILL)
    except ProcessLookupError:
        pass
"""


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Resolved once in the parent: the child must not load libraries between fork and exec.
_PRCTL = _load_prctl()


def has_death_signal() -> bool:
    """Whether this system sends children a signal when their parent dies."""
    return _PRCTL is not None


def _death_signal_setter(parent_pid: int) -> Callable[[], None]:
    def set_death_signal() -> None:  # pragma: no cover - runs in the child
        assert _PRCTL is not None
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the call above
            os._exit(1)

    return set_death_signal


class _Spawner:
    """Runs ``fork`` from the main thread, or else from one thread that never ends."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, job: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            return job()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="emcache-testing-spawner", daemon=True
                )
                self._thread.start()
        self._jobs.put((job, future))
        return future.result()

    def _run(self) -> None:  # pragma: no cover - exercised through call() from threads
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as exc:
                future.set_exception(exc)


_SPAWNER = _Spawner()


class Child:
    """A started process, and its watchdog when the death signal cannot be relied on."""

    def __init__(self, popen: subprocess.Popen[bytes], watchdog: subprocess.Popen[bytes] | None):
        self.popen = popen
        self.watchdog = watchdog

    @property
    def pid(self) -> int:
        return self.popen.pid

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.is_alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the process and wait until it is reaped; end the watchdog first."""
        if self.watchdog is not None:
            # First, so that it can never kill a recycled pid.
            self.watchdog.kill()
            self.watchdog.wait()
            assert self.watchdog.stdin is not None
            self.watchdog.stdin.close()
        self.send(signal.SIGKILL)
        self.popen.wait()

    def wait_stopped(self, stopped: bool, timeout: float = 5.0) -> None:
        """Wait until every thread of the process is stopped (or none is).

        Raises:
            NodeError: When the state does not come within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while _is_stopped(self.pid) != stopped:
            if not self.is_alive() or time.monotonic() > deadline:
                word = "stopped" if stopped else "running again"
                msg = f"process {self.pid} is not {word} after {timeout} s"
                raise NodeError(msg)
            time.sleep(0.002)


def spawn(
    command: Sequence[str], *, env: Mapping[str, str], output: Path, watchdog: bool = False
) -> Child:
    """Start ``command`` so that it dies with this process.

    Args:
        command: The program and its arguments.
        env: The environment of the child.
        output: The file that receives its standard output and error (a pipe
            nobody reads would block a chatty ``-vv`` process).
        watchdog: Also start a watchdog process; done anyway where there is no
            death signal.
    """
    watch = watchdog or not has_death_signal()
    return _SPAWNER.call(lambda: _spawn(command, env, output, watch))


def _spawn(command: Sequence[str], env: Mapping[str, str], output: Path, watchdog: bool) -> Child:
    preexec = _death_signal_setter(os.getpid()) if has_death_signal() else None
    with output.open("wb") as sink:
        popen = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env),
            preexec_fn=preexec,
            process_group=0,  # Ctrl-C reaches pytest, which then stops the nodes itself
        )
    guard = None
    if watchdog:
        guard = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(popen.pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            process_group=0,
        )
    return Child(popen, guard)


def _is_stopped(pid: int) -> bool:
    tasks = Path(f"/proc/{pid}/task")
    if tasks.is_dir():
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                stat = (task / "stat").read_text()
                states.append(stat[stat.rindex(")") + 2])
        return bool(states) and all(state in "Tt" for state in states)
    done = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, check=False, timeout=5
    )
    return done.stdout.strip()[:1] == b"T"
