"""One throwaway memcached process and the faults a test inflicts on it.

Strategy. A TCP node is started with ``-p -1``: memcached binds an ephemeral
port itself and, because ``MEMCACHED_PORT_FILENAME`` is set, writes the port it
got into a file (atomically, by renaming it into place). Nothing else can take
the port between choosing and binding it, which is the race of "bind port 0,
close, pass the number on", and so parallel workers (pytest-xdist) never
clash. ``restart()`` asks for the same port again by number; it retries while
the old socket lingers.

A node is ready when it answers ``version`` (through TLS and after auth for
such nodes): accepting a connection only proves that the kernel listens.
Faults are confirmed, not fired and forgotten: ``kill()`` reaps the process,
``pause()`` and ``resume()`` wait until ``/proc`` shows the process stopped or
running again.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pwd
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from emcache_testing._process import Child, spawn
from emcache_testing._tls import TLSMaterial
from emcache_testing.errors import NodeError

__all__ = ["AsciiAuth", "MemcachedNode"]

_READY_TIMEOUT = 10.0
_RESTART_TIMEOUT = 5.0
# Flags the node sets itself: where it listens, and staying in the foreground.
_OWN_FLAGS = ("-l", "--listen", "-p", "--port", "-s", "--unix-socket", "-d", "--daemon")


@dataclass(frozen=True)
class AsciiAuth:
    """Credentials an ascii-auth node (``memcached -Y``) accepts.

    The password never appears in ``repr()``.
    """

    username: str
    password: str = field(repr=False)


@dataclass(eq=False, kw_only=True)
class MemcachedNode:
    """A memcached process on loopback, made by :class:`MemcachedLauncher`.

    Attributes:
        host: A loopback address: ``"127.0.0.1"`` (the default), another 127.x.y.z, or ``"::1"``.
        port: The TCP port, or None for a unix-socket node.
        socket_path: The unix socket, or None for a TCP node.
        tls: The certificates of a TLS node, or None.
        auth: The credentials of an ascii-auth node, or None.
        memory_mb: ``-m``, the item memory in megabytes.
        threads: ``-t``, the worker threads.
        max_connections: ``-c``, the simultaneous connections allowed.
        extra_args: More command-line flags, passed as they are.
    """

    binary: str = field(repr=False)
    workdir: Path = field(repr=False)
    host: str = "127.0.0.1"
    port: int | None = None
    socket_path: str | None = None
    tls: TLSMaterial | None = field(default=None, repr=False)
    auth: AsciiAuth | None = None
    memory_mb: int = 64
    threads: int = 2
    max_connections: int = 1024
    extra_args: tuple[str, ...] = ()
    _child: Child | None = field(default=None, init=False, repr=False)
    _paused: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not _is_loopback(self.host):
            msg = f"test nodes listen on loopback only (127.0.0.0/8 or ::1), not {self.host!r}"
            raise ValueError(msg)
        for arg in self.extra_args:
            if arg.split("=", 1)[0] in _OWN_FLAGS:
                msg = f"{arg!r} is set by the node itself; use host= or unix= instead"
                raise ValueError(msg)

    # -- where it listens ----------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of a TCP node, once started.

        Raises:
            ValueError: For a unix-socket node, whose address is :attr:`socket_path`.
        """
        if self.socket_path is not None:
            msg = f"a unix-socket node listens on socket_path ({self.socket_path}), not on a port"
            raise ValueError(msg)
        assert self.port is not None, "the port is known once the node started"
        return (self.host, self.port)

    @property
    def address_text(self) -> str:
        """``127.0.0.1:PORT``, ``[::1]:PORT`` or the socket path, for messages."""
        if self.socket_path is not None:
            return self.socket_path
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The process id, or None before the first start."""
        return None if self._child is None else self._child.pid

    @property
    def is_running(self) -> bool:
        """Whether the process exists (a paused node is running)."""
        return self._child is not None and self._child.is_alive()

    @property
    def is_paused(self) -> bool:
        """Whether the node was paused and not resumed since."""
        return self._paused

    def command(self) -> list[str]:
        """The memcached command line of this node."""
        cmd = [self.binary, "-m", str(self.memory_mb), "-c", str(self.max_connections)]
        cmd += ["-t", str(self.threads), "-U", "0"]
        if os.geteuid() == 0 and self._named_user() is None:
            # memcached refuses root without -u; the same user keeps the death signal.
            cmd += ["-u", pwd.getpwuid(os.geteuid()).pw_name]
        if self.socket_path is not None:
            cmd += ["-s", self.socket_path, "-a", "0600"]
        else:
            cmd += ["-l", self.host, "-p", str(-1 if self.port is None else self.port)]
        if self.tls is not None:
            cmd += ["-Z", "-o", f"ssl_chain_cert={self.tls.cert_file}"]
            cmd += ["-o", f"ssl_key={self.tls.key_file}"]
        if self.auth is not None:
            cmd += ["-Y", str(self._auth_file())]
        return cmd + list(self.extra_args)

    def start(self) -> None:
        """Start the process (no-op when running) and wait until it answers.

        Raises:
            NodeError: memcached exited (its error output is in the message) or
                did not answer within 10 s.
        """
        if not self.is_running:
            self.launch()
            self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it; :meth:`wait_ready` waits."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.socket_path is None:
            self._port_file().unlink(missing_ok=True)
            env["MEMCACHED_PORT_FILENAME"] = str(self._port_file())
        self._paused = False
        user = self._named_user()
        command = self.command()
        if user is not None:
            self._hand_over_workdir(user)
        self._child = spawn(command, env=env, output=self._output_file(), watchdog=user is not None)

    def wait_ready(self, timeout: float = _READY_TIMEOUT) -> None:
        """Wait until the node answers ``version``; see :meth:`start`."""
        child = self._child
        assert child is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while not (self._has_bound() and self._answers()):
            if not child.is_alive():
                child.kill()
                msg = f"memcached exited with {child.popen.returncode}: {self._output()}"
                raise NodeError(msg)
            if time.monotonic() > deadline:
                child.kill()
                msg = f"memcached ({' '.join(self.command())}) did not answer within {timeout} s"
                raise NodeError(msg)
            time.sleep(0.005)

    def kill(self) -> None:
        """SIGKILL: the node vanishes without closing its connections. Returns once reaped."""
        if self._child is not None:
            self._child.kill()
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing is answered. Returns once stopped.

        Raises:
            NodeError: The node is not running, or did not stop within 5 s.
        """
        child = self._running_child()
        child.send(signal.SIGSTOP)
        child.wait_stopped(True)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`: queued requests get answered. Returns once running."""
        child = self._running_child()
        child.send(signal.SIGCONT)
        child.wait_stopped(False)
        self._paused = False

    def restart(self) -> None:
        """Kill the process and start a new one on the same port or socket; the data is lost.

        Raises:
            NodeError: The port stayed taken for 5 s, or memcached failed otherwise.
        """
        self.kill()
        if self.socket_path is not None:
            Path(self.socket_path).unlink(missing_ok=True)
        deadline = time.monotonic() + _RESTART_TIMEOUT
        while True:
            try:
                self.start()
                return
            except NodeError as exc:
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # -- talking to it -------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, timeout: float = 2.0) -> Iterator[socket.socket]:
        """A blocking socket to the node, TLS-wrapped for a TLS node (not authenticated).

        The TLS certificate is not verified: this is the test talking to its own
        node, which may serve a certificate meant to fail a client's checks.
        Verify with ``node.tls.ssl_context()`` instead.
        """
        sock = self._open_socket(timeout)
        try:
            if self.tls is not None:
                sock = _UNVERIFIED.wrap_socket(sock, server_hostname=self.tls.hostname)
            yield sock
        finally:
            sock.close()

    def command_reply(
        self, request: bytes, *, until: bytes = b"\r\n", timeout: float = 2.0
    ) -> bytes:
        """Send raw request bytes on a new connection and read until the reply ends with ``until``.

        An auth node is authenticated first. The connection is closed afterwards.
        """
        with self.connect(timeout) as sock:
            if self.auth is not None:
                secret = f"{self.auth.username} {self.auth.password}".encode()
                sock.sendall(b"set _ 0 0 %d\r\n%s\r\n" % (len(secret), secret))
                _read_until(sock, b"\r\n")
            sock.sendall(request)
            return _read_until(sock, until)

    def flush(self) -> None:
        """Drop every item (``flush_all``).

        Raises:
            NodeError: The node did not answer ``OK``.
        """
        reply = self.command_reply(b"flush_all\r\n")
        if reply != b"OK\r\n":
            msg = f"flush_all on {self.address_text} answered {reply!r}"
            raise NodeError(msg)

    def stats(self, group: str | None = None) -> dict[str, str]:
        """The ``STAT`` lines of ``stats`` (or ``stats <group>``, e.g. ``"settings"``) as a dict."""
        request = b"stats\r\n" if group is None else b"stats %s\r\n" % group.encode()
        reply = self.command_reply(request, until=b"END\r\n")
        stats = {}
        for line in reply.split(b"\r\n"):
            parts = line.split(b" ", 2)
            if len(parts) == 3 and parts[0] == b"STAT":
                stats[parts[1].decode()] = parts[2].decode()
        return stats

    # -- details -------------------------------------------------------------------------------
    def _named_user(self) -> str | None:
        """The user of ``-u``/``--user`` in the extra flags, if any."""
        args = self.extra_args
        for i, arg in enumerate(args):
            if arg in ("-u", "--user") and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith("--user="):
                return arg.partition("=")[2]
        return None

    def _hand_over_workdir(self, user: str) -> None:
        """Let ``user`` write the port file and read the auth file once memcached became it."""
        if os.geteuid() != 0:
            return
        entry = pwd.getpwnam(user)
        self.workdir.parent.chmod(0o711)
        for path in (self.workdir, *self.workdir.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _running_child(self) -> Child:
        if self._child is None or not self._child.is_alive():
            msg = f"memcached at {self.address_text} is not running"
            raise NodeError(msg)
        return self._child

    def _port_file(self) -> Path:
        return self.workdir / "ports"

    def _output_file(self) -> Path:
        return self.workdir / "output.log"

    def _output(self) -> str:
        with contextlib.suppress(OSError):
            return " ".join(self._output_file().read_text(errors="replace").split())
        return ""

    def _auth_file(self) -> Path:
        assert self.auth is not None
        path = self.workdir / "auth"
        path.write_text(f"{self.auth.username}:{self.auth.password}\n")
        path.chmod(0o600)
        return path

    def _has_bound(self) -> bool:
        """Whether this process (not another one on the same port) holds its listening socket.

        memcached writes the port file only once it has bound, so the probe that
        follows cannot be answered by some other server on a port asked for by number.
        """
        if self.socket_path is not None:
            return True
        with contextlib.suppress(OSError):
            for line in self._port_file().read_text().splitlines():
                kind, _, port = line.partition(": ")
                if kind.startswith("TCP"):
                    self.port = int(port)
                    return True
        return False

    def _answers(self) -> bool:
        try:
            return bool(self.command_reply(b"version\r\n", timeout=1.0))
        except OSError:  # ssl.SSLError is an OSError
            return False

    def _open_socket(self, timeout: float) -> socket.socket:
        if self.socket_path is None:
            return socket.create_connection(self.address, timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        return sock


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, such as "localhost", which could resolve anywhere
        return False


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED = _unverified_context()


def _read_until(sock: socket.socket, until: bytes) -> bytes:
    data = b""
    while not data.endswith(until):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
