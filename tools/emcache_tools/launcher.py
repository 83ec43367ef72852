"""Start and control throwaway memcached processes on loopback.

Used by the test fixtures, the benchmarks and the demo alike. Each process
listens on a free loopback port (or a unix socket in a private temporary
directory), is started with ``PR_SET_PDEATHSIG`` so that it dies with the
Python process that started it even if that process is killed, and is stopped
by :meth:`MemcachedLauncher.close` (also registered with :mod:`atexit`).

Only the standard library is needed, except ``trustme`` for TLS certificates,
imported when a TLS node is asked for.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AuthConfig",
    "MemcachedLauncher",
    "MemcachedNotInstalledError",
    "MemcachedProcess",
    "TLSMaterial",
    "find_memcached",
    "free_port",
]

INSTALL_HINT = (
    "memcached is not installed: install it with `sudo apt-get install -y memcached` "
    "(Debian/Ubuntu) or `brew install memcached` (macOS), or set MEMCACHED_BIN."
)
_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT = 10.0


class MemcachedNotInstalledError(RuntimeError):
    """The memcached binary cannot be found."""


def find_memcached() -> str:
    """Return the path of the memcached binary or raise with an install hint."""
    path = os.environ.get("MEMCACHED_BIN") or shutil.which("memcached")
    if path is None:
        for candidate in ("/usr/bin/memcached", "/usr/local/bin/memcached"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise MemcachedNotInstalledError(INSTALL_HINT)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class TLSMaterial:
    """Certificates of a TLS node: the CA file a client trusts, and the server pair."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    hostname: str

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA (for raw-socket checks)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return ctx


@dataclass(frozen=True)
class AuthConfig:
    """Credentials accepted by an ascii-auth node (``memcached -Y``)."""

    username: str
    password: str = field(repr=False)


@dataclass
class MemcachedProcess:
    """One memcached server. ``host``/``port`` or ``socket_path`` tell where it listens."""

    binary: str
    workdir: Path
    host: str = "127.0.0.1"
    port: int | None = None
    socket_path: str | None = None
    tls: TLSMaterial | None = None
    auth: AuthConfig | None = None
    memory_mb: int = 64
    extra_args: Sequence[str] = ()
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _paused: bool = field(default=False, repr=False)

    # -- command line -------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [self.binary, "-m", str(self.memory_mb), "-c", "1024", "-t", "2", "-U", "0"]
        if os.geteuid() == 0:
            cmd += ["-u", "root"]
        if self.socket_path is not None:
            cmd += ["-s", self.socket_path, "-a", "0600"]
        else:
            cmd += ["-l", self.host, "-p", str(self.port)]
        if self.tls is not None:
            cmd += [
                "-Z",
                "-o",
                f"ssl_chain_cert={self.tls.cert_file}",
                "-o",
                f"ssl_key={self.tls.key_file}",
            ]
        if self.auth is not None:
            auth_file = self.workdir / f"auth-{self.port or 'unix'}.txt"
            auth_file.write_text(f"{self.auth.username}:{self.auth.password}\n")
            auth_file.chmod(0o600)
            cmd += ["-Y", str(auth_file)]
        cmd += list(self.extra_args)
        return cmd

    # -- life cycle ---------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        """Start the process and wait until it accepts connections."""
        if self.is_running:
            return
        self._popen = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        self._paused = False
        self.wait_ready()

    def wait_ready(self, timeout: float = _READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._popen is not None
            if self._popen.poll() is not None:
                err = (
                    self._popen.stderr.read().decode(errors="replace") if self._popen.stderr else ""
                )
                msg = f"memcached exited with {self._popen.returncode}: {err.strip()}"
                raise RuntimeError(msg)
            if self._accepts_connections():
                return
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"memcached at {self.address_text} is not accepting connections")
            time.sleep(0.01)

    def _accepts_connections(self) -> bool:
        try:
            with self.connect(timeout=0.5):
                return True
        except OSError:
            return False

    def _signal(self, sig: signal.Signals) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._popen.send_signal(sig)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 3 s. Idempotent."""
        if self._popen is None:
            return
        if self._paused:
            self.resume()
        self._signal(signal.SIGTERM)
        try:
            self._popen.wait(3)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()
        self._close_pipes()

    def kill(self) -> None:
        """SIGKILL: the node disappears without a goodbye."""
        if self._popen is None:
            return
        self._signal(signal.SIGKILL)
        self._popen.wait()
        self._paused = False
        self._close_pipes()

    def pause(self) -> None:
        """SIGSTOP: the node keeps its sockets open but answers nothing."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def restart(self) -> None:
        """Kill the process and start a new one on the same port or socket (data is lost)."""
        self.kill()
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                # The port may linger for a moment after the kill.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _close_pipes(self) -> None:
        if self._popen is not None and self._popen.stderr is not None:
            self._popen.stderr.close()

    # -- talking to it ------------------------------------------------------
    @property
    def address_text(self) -> str:
        if self.socket_path is not None:
            return self.socket_path
        return f"{self.host}:{self.port}"

    @contextlib.contextmanager
    def connect(self, timeout: float = 2.0) -> Iterator[socket.socket]:
        """A blocking socket to the node (TLS-wrapped for TLS nodes)."""
        sock: socket.socket
        if self.socket_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.socket_path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            if self.tls is not None:
                sock = self.tls.client_context().wrap_socket(
                    sock, server_hostname=self.tls.hostname
                )
            yield sock
        finally:
            sock.close()

    def command_reply(
        self, request: bytes, *, until: bytes = b"\r\n", timeout: float = 2.0
    ) -> bytes:
        """Send raw bytes and read until the reply ends with ``until`` (a test helper)."""
        with self.connect(timeout) as sock:
            if self.auth is not None:
                creds = f"{self.auth.username} {self.auth.password}".encode()
                sock.sendall(b"set _ 0 0 %d\r\n%s\r\n" % (len(creds), creds))
                _read_until(sock, b"\r\n")
            sock.sendall(request)
            return _read_until(sock, until)


def _read_until(sock: socket.socket, until: bytes) -> bytes:
    data = b""
    while not data.endswith(until):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class MemcachedLauncher:
    """Owns every memcached it starts and stops them all on :meth:`close`."""

    def __init__(self, workdir: str | os.PathLike[str] | None = None) -> None:
        self.binary = find_memcached()
        self._own_tmp = workdir is None
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="emcache-mc-"))
        )
        self.processes: list[MemcachedProcess] = []
        self._tls: TLSMaterial | None = None
        atexit.register(self.close)

    def __enter__(self) -> MemcachedLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def tls_material(self) -> TLSMaterial:
        """A CA and a server certificate for ``localhost``/127.0.0.1/::1 made by trustme."""
        if self._tls is None:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
            ca_file = self.workdir / "ca.pem"
            cert_file = self.workdir / "server-chain.pem"
            key_file = self.workdir / "server-key.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            with cert_file.open("wb") as f:
                for blob in cert.cert_chain_pems:
                    f.write(blob.bytes())
            cert.private_key_pem.write_to_path(str(key_file))
            self._tls = TLSMaterial(ca_file, cert_file, key_file, "localhost")
        return self._tls

    def start(
        self,
        count: int = 1,
        *,
        host: str = "127.0.0.1",
        unix: bool = False,
        tls: bool | TLSMaterial = False,
        auth: AuthConfig | None = None,
        memory_mb: int = 64,
        extra_args: Sequence[str] = (),
    ) -> list[MemcachedProcess]:
        """Start ``count`` nodes and wait until each accepts connections."""
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("test nodes listen on loopback only")
        material = self.tls_material() if tls is True else (tls or None)
        started = []
        for _ in range(count):
            proc = self._spawn(host, unix, material, auth, memory_mb, extra_args)
            started.append(proc)
        return started

    def _spawn(
        self,
        host: str,
        unix: bool,
        tls: TLSMaterial | None,
        auth: AuthConfig | None,
        memory_mb: int,
        extra_args: Sequence[str],
    ) -> MemcachedProcess:
        for attempt in range(5):
            proc = MemcachedProcess(
                binary=self.binary,
                workdir=self.workdir,
                host=host,
                port=None if unix else free_port(host),
                socket_path=str(self.workdir / f"mc-{len(self.processes)}-{attempt}.sock")
                if unix
                else None,
                tls=tls,
                auth=auth,
                memory_mb=memory_mb,
                extra_args=extra_args,
            )
            self.processes.append(proc)
            try:
                proc.start()
                return proc
            except RuntimeError:
                # Lost a race for the port with another process: pick another one.
                continue
        raise RuntimeError("could not start memcached after 5 attempts")

    def close(self) -> None:
        """Kill every process and remove the temporary directory. Idempotent.

        Throwaway nodes hold nothing worth a graceful shutdown, and memcached
        takes about a second to leave on SIGTERM, so they get SIGKILL.
        """
        for proc in self.processes:
            with contextlib.suppress(Exception):
                proc.kill()
        self.processes.clear()
        if self._own_tmp:
            shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)
