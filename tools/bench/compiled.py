"""A virtualenv under ``.bench/compiled`` whose emcache-protocol is the compiled build.

The ``ours-compiled`` client of ``bench.run`` and the compiled column of
``bench.protocol`` run with its interpreter. :func:`ensure` creates it on first
use (every workspace package the client needs, editable, except
emcache-protocol, built with its mypyc hook and installed as a wheel) and
builds emcache-protocol again whenever its source changed since: a stamp holds
the hash of the files the build came from.

Usage: ``hatch run python -m bench.compiled`` prints the interpreter's path.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".bench" / "compiled"
PROTOCOL = ROOT / "packages" / "emcache-protocol"
# What the client needs besides emcache-protocol, in dependency order.
MEMBERS = ["emcache-hashing", "emcache-auth", "emcache-pool", "emcache-cluster", "emcache"]
# The builds run without isolation (the compiled one is slow to set up), so their
# requirements live in the venv.
REQUIREMENTS = [
    "attrs>=23.1",
    "editables>=0.5",
    "hatchling>=1.27",
    "hatch-mypyc>=0.16",
    "mypy>=1.11",
    "setuptools>=69",
    "uvloop>=0.19",
]
# Turn the hook on, and remove the compiled files it leaves in the source tree afterwards
# (the editable installs of the workspace would import them).
COMPILE_ENV = {"HATCH_BUILD_HOOK_ENABLE_MYPYC": "1", "HATCH_BUILD_CLEAN_HOOKS_AFTER": "1"}


def python() -> Path:
    """The venv's interpreter."""
    return VENV / "bin" / "python"


def source_stamp() -> str:
    """A hash of every file the compiled build is made from."""
    digest = hashlib.sha256()
    for path in sorted([PROTOCOL / "pyproject.toml", *PROTOCOL.glob("src/**/*.py")]):
        digest.update(str(path.relative_to(PROTOCOL)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _pip(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    command = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*command, *args], check=True, env={**env, **COMPILE_ENV})


def ensure() -> Path:
    """Create or update the venv; return its interpreter."""
    stamp_file = VENV / "protocol.stamp"
    stamp = source_stamp()
    if not python().exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if not stamp_file.exists():  # new, or its first install did not finish
        _pip(*REQUIREMENTS)
        editable = [arg for name in MEMBERS for arg in ("-e", str(ROOT / "packages" / name))]
        _pip("--no-build-isolation", str(PROTOCOL), *editable)
    elif stamp_file.read_text() == stamp:
        return python()
    else:
        _pip("--no-build-isolation", "--no-deps", "--force-reinstall", str(PROTOCOL))
    stamp_file.write_text(stamp)
    return python()


if __name__ == "__main__":
    print(ensure())
    sys.exit(0)
