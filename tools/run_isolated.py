"""Run each package's tests in an environment holding only that package and its
declared dependencies (the iso-* environments of hatch.toml). An import of a
sibling that is not declared fails there, which keeps the layering honest."""

from __future__ import annotations

import os
import subprocess
import sys

ENVIRONMENTS = [
    "iso-protocol",
    "iso-protocol-compiled",
    "iso-hashing",
    "iso-auth",
    "iso-pool",
    "iso-cluster",
    "iso-testing",
]


def main() -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCH_ENV", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if ".local/share/hatch/env" not in p and "/hatch/env/" not in p
    )
    for name in sys.argv[1:] or ENVIRONMENTS:
        print(f"== {name}", flush=True)
        code = subprocess.call(
            ["hatch", "run", f"{name}:test", "-q", "-p", "no:cacheprovider"], env=env
        )
        if code != 0:
            print(f"{name}: tests failed with exit code {code}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
