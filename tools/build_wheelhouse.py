"""Build every distribution of packages/ (wheel and sdist) into one wheelhouse.

The facade depends on its siblings by version range, and until they are on the
package index pip can only find them in a folder of built distributions:

    hatch run release:wheels            # into dist/
    hatch run release:wheels /tmp/wh    # into another folder
    hatch run release:wheels --compiled # emcache-protocol compiled with mypyc
    pip install --find-links dist emcache

Each package is built by ``hatch build`` in its own folder, so the artifacts are
exactly what ``hatch build`` would publish. Earlier artifacts of the same
distributions are removed first: the wheelhouse holds one version of each.

The wheels are pure Python unless ``--compiled`` is given: then the build hooks
that are off by default run (``HATCH_BUILD_HOOK_ENABLE_MYPYC``), and
emcache-protocol's wheel is compiled for this interpreter and platform. The
variable set by the caller is ignored without the flag.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
# What turns the mypyc hook on, and cleans the compiled files it leaves in the source tree
# (an editable install of the workspace would import them).
COMPILE_ENV = {"HATCH_BUILD_HOOK_ENABLE_MYPYC": "1", "HATCH_BUILD_CLEAN_HOOKS_AFTER": "1"}


def distributions() -> list[Path]:
    """The folders of packages/ that hold a distribution."""
    return sorted(p for p in PACKAGES.iterdir() if (p / "pyproject.toml").is_file())


def artifact_stem(package: Path) -> str:
    """The normalized name that starts the package's wheel and sdist file names."""
    return package.name.replace("-", "_")


def outside_hatch_environment(compiled: bool = False) -> dict[str, str]:
    """The environment without the calling hatch environment, so each build picks its own.

    Build hooks are enabled only with ``compiled``, whatever the caller's environment says.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HATCH_ENV", "VIRTUAL_ENV", "HATCH_BUILD_HOOK"))
    }
    if compiled:
        env.update(COMPILE_ENV)
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if "/hatch/env/" not in p
    )
    return env


def clear(out: Path, packages: list[Path]) -> None:
    """Remove earlier wheels and sdists of these distributions from ``out``."""
    for package in packages:
        for old in out.glob(f"{artifact_stem(package)}-*"):
            if old.name.endswith((".whl", ".tar.gz")):
                old.unlink()


def build(out: Path, compiled: bool = False) -> list[Path]:
    """Build every distribution into ``out``; the artifacts, sorted."""
    hatch = shutil.which("hatch")
    if hatch is None:
        msg = "hatch is not on PATH: install it with `pip install 'hatch>=1.16'`"
        raise RuntimeError(msg)
    out.mkdir(parents=True, exist_ok=True)
    packages = distributions()
    clear(out, packages)
    env = outside_hatch_environment(compiled)
    for package in packages:
        command = [hatch, "build", "-t", "wheel", "-t", "sdist", str(out)]
        result = subprocess.run(command, cwd=package, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            msg = f"hatch build failed in {package.relative_to(ROOT)}:\n{result.stderr}"
            raise RuntimeError(msg)
    return sorted(p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz")))


def main(argv: list[str]) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("out", nargs="?", type=Path, default=ROOT / "dist", help="the folder")
    cli.add_argument("--compiled", action="store_true", help="compile emcache-protocol (mypyc)")
    args = cli.parse_args(argv)
    out = args.out.resolve()
    try:
        artifacts = build(out, args.compiled)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    for artifact in artifacts:
        print(artifact)
    print(f"{len(artifacts)} artifacts; install with: pip install --find-links {out} emcache")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
