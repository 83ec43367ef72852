"""Build every distribution of packages/ (wheel and sdist) into one wheelhouse.

The facade depends on its siblings by version range, and until they are on the
package index pip can only find them in a folder of built distributions:

    hatch run release:wheels            # into dist/
    hatch run release:wheels /tmp/wh    # into another folder
    pip install --find-links dist emcache

Each package is built by ``hatch build`` in its own folder, so the artifacts are
exactly what ``hatch build`` would publish. Earlier artifacts of the same
distributions are removed first: the wheelhouse holds one version of each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"


def distributions() -> list[Path]:
    """The folders of packages/ that hold a distribution."""
    return sorted(p for p in PACKAGES.iterdir() if (p / "pyproject.toml").is_file())


def artifact_stem(package: Path) -> str:
    """The normalized name that starts the package's wheel and sdist file names."""
    return package.name.replace("-", "_")


def outside_hatch_environment() -> dict[str, str]:
    """The environment without the calling hatch environment, so each build picks its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCH_ENV", "VIRTUAL_ENV"))}
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


def build(out: Path) -> list[Path]:
    """Build every distribution into ``out``; the artifacts, sorted."""
    hatch = shutil.which("hatch")
    if hatch is None:
        msg = "hatch is not on PATH: install it with `pip install 'hatch>=1.16'`"
        raise RuntimeError(msg)
    out.mkdir(parents=True, exist_ok=True)
    packages = distributions()
    clear(out, packages)
    env = outside_hatch_environment()
    for package in packages:
        command = [hatch, "build", "-t", "wheel", "-t", "sdist", str(out)]
        result = subprocess.run(command, cwd=package, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            msg = f"hatch build failed in {package.relative_to(ROOT)}:\n{result.stderr}"
            raise RuntimeError(msg)
    return sorted(p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz")))


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else ROOT / "dist"
    try:
        artifacts = build(out)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    for artifact in artifacts:
        print(artifact)
    print(f"{len(artifacts)} artifacts; install with: pip install --find-links {out} emcache")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
