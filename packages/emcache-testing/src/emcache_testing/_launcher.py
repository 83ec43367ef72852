"""The owner of every node a test starts.

A launcher keeps its nodes, their sockets, auth files and certificates in one
private temporary directory (short, so that unix socket paths fit the 104-byte
limit of some systems), and kills every node and removes the directory on
:meth:`MemcachedLauncher.close`, which also runs at interpreter exit. Nodes of
one :meth:`~MemcachedLauncher.start` call are launched together and then
waited for, so a cluster starts about as fast as one node.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from emcache_testing._binary import find_memcached
from emcache_testing._node import AsciiAuth, MemcachedNode
from emcache_testing._tls import TLSMaterial, make_tls_material

__all__ = ["MemcachedLauncher"]


class MemcachedLauncher:
    """Starts memcached nodes on loopback and stops them all on :meth:`close`.

    Args:
        binary: The memcached binary; found by :func:`find_memcached` when None.
        workdir: Where the nodes' files go; a private temporary directory,
            removed on close, when None.

    Attributes:
        binary: The memcached binary in use.
        nodes: Every node started so far, in order.

    Raises:
        MemcachedNotFoundError: No memcached binary was found.
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.binary = find_memcached(binary)
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="mc-") if workdir is None else workdir)
        self.nodes: list[MemcachedNode] = []
        self._tls: TLSMaterial | None = None
        atexit.register(self.close)

    def __enter__(self) -> MemcachedLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def tls_material(self) -> TLSMaterial:
        """The launcher's CA and server certificate (made on first use, then reused)."""
        if self._tls is None:
            directory = self.workdir / "tls"
            directory.mkdir(exist_ok=True)
            self._tls = make_tls_material(directory)
        return self._tls

    def start(
        self,
        count: int = 1,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        unix: bool = False,
        tls: bool | TLSMaterial = False,
        auth: AsciiAuth | None = None,
        memory_mb: int = 64,
        threads: int = 2,
        max_connections: int = 1024,
        extra_args: Sequence[str] = (),
    ) -> list[MemcachedNode]:
        """Start ``count`` nodes and return them once each answers.

        Args:
            count: How many nodes.
            host: A loopback address (127.0.0.0/8 or ``"::1"``); nothing else is accepted.
            port: A fixed port for a single node, such as 11211 on ``127.0.0.2``; by
                default memcached picks a free one, which never clashes.
            unix: Listen on a unix socket instead of TCP.
            tls: Serve TLS with :meth:`tls_material` (True) or with the given material.
            auth: Require ascii auth with these credentials (``memcached -Y``).
            memory_mb: Item memory (``-m``).
            threads: Worker threads (``-t``).
            max_connections: Simultaneous connections (``-c``).
            extra_args: More memcached flags, e.g. ``["-o", "modern", "-I", "2m"]``.

        Raises:
            ValueError: A host that is not loopback, a flag the node sets itself, or a
                fixed port for more than one node.
            NodeError: A node did not start (for a fixed port: also when it is taken).
        """
        if port is not None and count != 1:
            msg = f"a fixed port is for one node, not {count}"
            raise ValueError(msg)
        material = self.tls_material() if tls is True else (tls or None)
        nodes = []
        for _ in range(count):
            workdir = self.workdir / f"node-{len(self.nodes)}"
            node = MemcachedNode(
                binary=self.binary,
                workdir=workdir,
                host=host,
                port=port,
                socket_path=str(workdir / "mc.sock") if unix else None,
                tls=material,
                auth=auth,
                memory_mb=memory_mb,
                threads=threads,
                max_connections=max_connections,
                extra_args=tuple(extra_args),
            )
            self.nodes.append(node)
            nodes.append(node)
            node.launch()
        for node in nodes:
            node.wait_ready()
        return nodes

    def close(self) -> None:
        """Kill every node and remove the launcher's own directory. Idempotent.

        Throwaway nodes hold nothing worth a graceful shutdown, and memcached
        takes about a second to leave on SIGTERM, so they get SIGKILL.
        """
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()
        self.nodes.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)
