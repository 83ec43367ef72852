"""Whether a node speaks the meta commands: found out once per pool, before the first one is sent.

Why check first. A server without the meta commands answers each of their lines with
``ERROR``; after an ``ms`` line it also reads the data block as one more command line.
One request then draws two replies (and a value is run as a command), so every later
reply of the connection would go to the wrong caller. memcached 1.6.0 to 1.6.9 know the
meta commands, but in an older dialect (``OK`` for ``HD``, the length of ``ms`` given as
an ``S`` flag) that breaks the pairing the same way. So the question must be settled
before the first meta request, not by looking at its reply.

The check. ``mn`` must answer ``MN`` (servers without meta answer ``ERROR``), and
``version`` must not name a memcached older than 1.6.10. A version that is not a
memcached release number (a proxy's, say) is trusted on ``MN`` alone. A definite answer
is kept for the life of the pool; a check that could not finish (timeout, connection
lost) is tried again by the next caller. Concurrent callers share one check. A pool that
closes fails the check's requests, which ends the check with that error.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Final

from emcache_pool.errors import MetaNotSupportedError
from emcache_protocol import ErrorReply, meta_noop_command, version_command

if TYPE_CHECKING:
    from emcache_pool._pool import ConnectionPool

__all__ = ["META_SINCE", "MetaSupport"]

META_SINCE: Final = (1, 6, 10)
"""The first memcached release whose meta commands speak the dialect of emcache_protocol."""
_RELEASE: Final = re.compile(r"(\d{1,4})\.(\d{1,4})\.(\d{1,4})")


class MetaSupport:
    """The outcome of the meta check of one node, and the check in flight.

    Attributes:
        supported: ``True`` or ``False`` once known, ``None`` before.
        version: The version the node reported, once checked (``None`` if it gave none).
    """

    __slots__ = ("_check", "_label", "_refusal", "supported", "version")

    def __init__(self, label: str) -> None:
        self._label = label
        self._check: asyncio.Task[None] | None = None
        self._refusal: str | None = None
        self.supported: bool | None = None
        self.version: str | None = None

    async def require(self, pool: ConnectionPool, timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once the node is known to speak meta; raise if it does not.

        Raises:
            MetaNotSupportedError: The node does not speak the meta commands.
            TimeoutError: The check did not finish within ``timeout``.
            PoolError: The check could not reach the node (it is tried again next time).
        """
        if self.supported:
            return
        if self._refusal is None:
            await self._await_check(pool, timeout)
        if self._refusal is not None:
            raise MetaNotSupportedError(self._refusal, self.version)

    async def _await_check(self, pool: ConnectionPool, timeout: float | None) -> None:  # noqa: ASYNC109
        check = self._check
        joined = check is not None and not check.done()
        if check is None or check.done():
            check = asyncio.get_running_loop().create_task(self._run(pool, timeout))
            check.add_done_callback(self._checked)
            self._check = check
        try:
            await asyncio.wait_for(asyncio.shield(check), timeout)
        except MetaNotSupportedError:
            return  # raised by the caller, as a fresh error for each one
        except Exception:
            if not joined or not check.done():
                raise
            # The check of an earlier caller failed within that caller's time limit (a
            # shorter one than ours, say): it is no answer, so ask again within our own.
            if self._check is check:
                self._check = None
            await self._await_check(pool, timeout)

    async def _run(self, pool: ConnectionPool, timeout: float | None) -> None:  # noqa: ASYNC109
        noop = await pool.execute(meta_noop_command(), timeout=timeout)
        if isinstance(noop, ErrorReply):
            answer = f"{noop.kind} {noop.message}".rstrip()
            self._refuse(f"{self._label} does not know the meta commands (mn: {answer!r})")
        reply = await pool.execute(version_command(), timeout=timeout)
        if isinstance(reply, ErrorReply):
            return
        self.version = reply.version
        release = _RELEASE.match(reply.version)
        if release is not None and tuple(map(int, release.groups())) < META_SINCE:
            self._refuse(
                f"{self._label} runs memcached {reply.version}, whose meta commands predate the"
                " dialect of 1.6.10 (OK for HD, the ms length as a flag)"
            )

    def _refuse(self, reason: str) -> None:
        since = ".".join(map(str, META_SINCE))
        self._refusal = f"{reason}; the meta commands need memcached {since} or later"
        raise MetaNotSupportedError(self._refusal, self.version)

    def _checked(self, check: asyncio.Task[None]) -> None:
        if check.cancelled():
            self._check = None
        elif check.exception() is None:
            self.supported = True
        elif self._refusal is not None:
            self.supported = False
        else:
            self._check = None  # it could not finish: the next caller checks again
