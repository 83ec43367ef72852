"""Create one virtualenv per peer client under ``.peers/<name>`` and install it there.

The peer emcache shares its import name with ours, so every client runs in its
own interpreter: the bench worker is started with that interpreter's python.
Running this module again is cheap: an existing venv that already imports the
client is left alone.

Usage: ``python tools/bench/peers.py [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def python_of(name: str) -> Path:
    """The interpreter of a peer's venv."""
    return PEERS_DIR / name / "bin" / "python"


def _has(python: Path, modules: list[str]) -> bool:
    if not python.exists():
        return False
    code = "import " + ", ".join(m.replace("-", "_") for m in modules)
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(PEERS), help="peers to install")
    args = parser.parse_args(argv)
    for name in args.only or sorted(PEERS):
        python = ensure(PEERS[name])
        print(f"{name}: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
