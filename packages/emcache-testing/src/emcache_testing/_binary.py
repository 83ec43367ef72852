"""Finding the memcached binary.

Strategy: an explicit path wins (the ``--memcached-bin`` option or the
``memcached_bin`` ini value, passed in by the plugin), then the environment
variable ``EMCACHE_TESTING_MEMCACHED``, then ``memcached`` on ``PATH``, then the
places package managers put it when ``PATH`` is minimal (CI images, sudo).
Whatever fails produces one line that says what was looked for and how to
install memcached, because that line is all a user sees in a failed setup.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from emcache_testing.errors import MemcachedNotFoundError

__all__ = ["ENV_VAR", "find_memcached", "memcached_version"]

ENV_VAR = "EMCACHE_TESTING_MEMCACHED"
INSTALL_HINT = (
    "install it with `sudo apt-get install memcached` (Debian/Ubuntu) or "
    "`brew install memcached` (macOS), or name the binary with --memcached-bin "
    f"or {ENV_VAR}"
)
_WELL_KNOWN = (
    "/usr/bin/memcached",
    "/usr/local/bin/memcached",
    "/opt/homebrew/bin/memcached",
    "/usr/sbin/memcached",
)


def find_memcached(explicit: str | os.PathLike[str] | None = None) -> str:
    """Return the path of the memcached binary to start.

    Args:
        explicit: A path chosen by the user; it must exist and be executable.

    Raises:
        MemcachedNotFoundError: With a one-line message and the install commands.
    """
    chosen = os.fspath(explicit) if explicit else os.environ.get(ENV_VAR) or None
    if chosen is not None:
        found = shutil.which(chosen)
        if found is None:
            msg = f"memcached binary {chosen!r} is not an executable file: {INSTALL_HINT}"
            raise MemcachedNotFoundError(msg)
        return found
    found = shutil.which("memcached")
    if found is not None:
        return found
    for candidate in _WELL_KNOWN:
        if os.access(candidate, os.X_OK):
            return candidate
    msg = f"memcached is not installed (not on PATH): {INSTALL_HINT}"
    raise MemcachedNotFoundError(msg)


def memcached_version(binary: str, timeout: float = 5.0) -> str:
    """The version ``binary -V`` reports, e.g. ``"1.6.18"``; never waits longer than ``timeout``.

    Raises:
        MemcachedNotFoundError: When the binary does not answer like memcached.
    """
    try:
        done = subprocess.run(
            [binary, "-V"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"{binary} -V failed ({exc}): {INSTALL_HINT}"
        raise MemcachedNotFoundError(msg) from exc
    words = done.stdout.decode(errors="replace").split()
    if len(words) != 2 or words[0] != "memcached":
        printed = done.stdout[:80]
        msg = f"{binary} does not look like memcached (-V printed {printed!r}): {INSTALL_HINT}"
        raise MemcachedNotFoundError(msg)
    return words[1]
