"""Peer clients in virtualenvs of their own under ``.peers/<name>``, and running code there.

The peer emcache shares its import name with ours, so every peer client lives in
its own interpreter. Benchmarks and compat checks that set a peer's figures next
to ours go through here: :func:`ensure` creates (or completes) a peer's venv,
:func:`python_of` names its interpreter, and :func:`run_in` runs a piece of code
with it, in a clean environment (no ``PYTHONPATH`` or ``VIRTUAL_ENV`` of ours, so
that our ``emcache`` never shadows the peer's), and returns what it printed.
Running ``python -m peers`` again is cheap: an existing venv that already imports
the client is left alone.

Usage: ``hatch run python -m peers [--only NAME ...]`` (tools/ is on the path of
the hatch environments).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = ROOT / ".peers"


@dataclass(frozen=True)
class Peer:
    """A peer client: its venv name, what pip installs, and the module that proves it."""

    name: str
    requirements: tuple[str, ...]
    module: str


PEERS: dict[str, Peer] = {
    "emcache-1.3.3": Peer("emcache-1.3.3", ("emcache==1.3.3", "uvloop>=0.19"), "emcache"),
    "aiomcache": Peer("aiomcache", ("aiomcache==0.8.2", "uvloop>=0.19"), "aiomcache"),
    "memcachio": Peer("memcachio", ("memcachio==0.5.1", "uvloop>=0.19"), "memcachio"),
    "pymemcache": Peer("pymemcache", ("pymemcache==4.0.0",), "pymemcache"),
}
EMCACHE_1 = "emcache-1.3.3"


def python_of(name: str) -> Path:
    """The interpreter of a peer's venv."""
    return PEERS_DIR / name / "bin" / "python"


def peer_env() -> dict[str, str]:
    """This process's environment without what would put our packages before the peer's."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run_in(python: Path | str, code: str, stdin: str = "") -> bytes:
    """Run ``code`` (``python -c``) with the peer interpreter ``python``; return its stdout.

    Args:
        python: the peer's interpreter (:func:`python_of`).
        code: the program; it reads its input from standard input.
        stdin: the input, e.g. JSON of the keys and node ids.

    Raises:
        subprocess.CalledProcessError: the code failed (its stderr is on the error).
    """
    done = subprocess.run(
        [str(python), "-c", code],
        input=stdin.encode(),
        check=True,
        capture_output=True,
        env=peer_env(),
    )
    return done.stdout


def _has(python: Path, modules: list[str]) -> bool:
    if not python.exists():
        return False
    code = "import " + ", ".join(m.replace("-", "_") for m in modules)
    try:
        run_in(python, code)
    except subprocess.CalledProcessError:
        return False
    return True


def ensure(peer: Peer) -> Path:
    """Create (or complete) the venv of ``peer`` and return its python."""
    python = python_of(peer.name)
    wanted = [peer.module] + (["uvloop"] if any("uvloop" in r for r in peer.requirements) else [])
    if _has(python, wanted):
        return python
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(PEERS_DIR / peer.name)
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*cmd, *peer.requirements], check=True)
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(PEERS), help="peers to install")
    args = parser.parse_args(argv)
    for name in args.only or sorted(PEERS):
        python = ensure(PEERS[name])
        print(f"{name}: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
