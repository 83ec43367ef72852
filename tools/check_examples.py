"""Type-check the Python examples of the documentation and the READMEs.

Every ```python block of ``docs/**/*.md``, ``README.md`` and ``packages/*/README.md``
that uses one of the emcache packages (``emcache``, ``emcache_pool``,
``emcache_protocol`` and their siblings) is written out as a module and checked with
``mypy --strict``: an example a user copies must type-check in their code as it is,
with no cast. A block with top-level ``await`` is checked as the body of an
``async def``, which is how a user would place it. The documentation's prose lets its
examples use ``asyncio`` and ``emcache`` without importing them; a README block stands
alone and imports all it uses, as it does on the package index.

    python tools/check_examples.py        # exit status 1 and mypy's report on failure
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent> *)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
USES = re.compile(r"\bemcache(?:_\w+)?\b")
# Names the documentation's examples use without importing them, as the page's prose does.
DOCS_PREAMBLE = "import asyncio\n\nimport emcache\n\n"
# Pages whose examples are the files of a user's pytest project (fixtures, test functions).
PYTEST_PAGES = {"docs/testing.md"}


def sources() -> list[Path]:
    """The Markdown files whose examples are checked."""
    pages = [*ROOT.glob("docs/**/*.md"), ROOT / "README.md", *ROOT.glob("packages/*/README.md")]
    return sorted(p for p in pages if p.relative_to(ROOT).as_posix() not in PYTEST_PAGES)


def as_module(body: str, preamble: str) -> str:
    """The block as a module mypy accepts: top-level ``await`` moves into a coroutine."""
    try:
        compile(body, "<example>", "exec")
    except SyntaxError:
        body = "async def _example() -> None:\n" + textwrap.indent(body, "    ")
    return preamble + body


def examples() -> dict[str, str]:
    """Module name -> source, for every checked example."""
    found = {}
    for page in sources():
        relative = page.relative_to(ROOT)
        preamble = DOCS_PREAMBLE if relative.parts[0] == "docs" else ""
        for number, match in enumerate(FENCE.finditer(page.read_text()), start=1):
            body = textwrap.dedent(match["body"])
            if not USES.search(body):
                continue
            stem = re.sub(r"\W", "_", relative.with_suffix("").as_posix())
            found[f"{stem}_{number}"] = as_module(body, preamble)
    return found


def type_check(modules: dict[str, str]) -> tuple[int, str]:
    """Run ``mypy --strict`` over the modules (name -> source); its exit status and report."""
    with tempfile.TemporaryDirectory() as folder:
        for name, source in modules.items():
            (Path(folder) / f"{name}.py").write_text(source)
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--allow-redefinition",
            folder,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    return result.returncode, result.stdout.replace(folder + "/", "")


def main() -> int:
    modules = examples()
    status, report = type_check(modules)
    print(report, end="")
    print(f"{len(modules)} examples checked")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
