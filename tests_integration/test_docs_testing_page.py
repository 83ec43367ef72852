"""The examples of docs/testing.md run as the user's project they describe.

Each fenced block of that page with a ``title="<file>"`` is a file of a small
project (the application module, pytest.ini, conftest.py, test files, the CI
recipes). They are written into a directory of their own and pytest runs there
with the command of the page's CI recipes, so the recipes' test command, the
xdist section and every test file are exercised together, against real nodes
started by the emcache-testing plugin. The page's other promises are checked
alongside: the header line it shows, the one-line message of a missing
binary, and the install commands of the CI recipes.

These blocks are pytest files rather than scripts, so test_docs_examples.py
leaves this page to this test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PAGE = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
BLOCK = re.compile(
    r'^```(?P<lang>[\w-]+)(?: title="(?P<title>[^"]+)")?\n(?P<body>.*?)^```', re.S | re.M
)


def _blocks() -> list[re.Match[str]]:
    return list(BLOCK.finditer(PAGE.read_text()))


def _files() -> dict[str, str]:
    return {m["title"]: m["body"] for m in _blocks() if m["title"]}


def _text_blocks() -> list[str]:
    return [m["body"] for m in _blocks() if m["lang"] == "text"]


def _test_command() -> list[str]:
    """The test command of the GitHub Actions recipe, e.g. ``["pytest", "-n", "4"]``."""
    workflow: dict[str, Any] = yaml.safe_load(_files()[".github/workflows/tests.yml"])
    steps = workflow["jobs"]["tests"]["steps"]
    return shlex.split(steps[-1]["run"])


def _pytest(project: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", *args, "-p", "no:cacheprovider", "-rA"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environment.pop("PYTHONPATH", None)
    return subprocess.run(
        command,
        cwd=project,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(name="project", scope="module")
def _project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page's files, written where their titles say."""
    project = tmp_path_factory.mktemp("testing-page")
    for name, body in _files().items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return project


def test_every_python_block_is_a_file_of_the_project() -> None:
    """No Python example escapes the run: each names the file it belongs to."""
    untitled = [m["body"][:60] for m in _blocks() if m["lang"] == "python" and not m["title"]]
    assert untitled == []


def test_the_page_s_tests_pass_with_the_ci_command(project: Path) -> None:
    """The recipes' ``pytest -n 4`` runs every test of the page, and all pass."""
    command = _test_command()
    assert command[0] == "pytest"
    done = _pytest(project, command)
    expected = sum(
        len(re.findall(r"^(?:async )?def test_", body, re.M))
        for name, body in _files().items()
        if name.startswith("test_")
    )
    assert f"{expected} passed" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout


def test_the_header_line_is_the_one_shown(project: Path) -> None:
    """The header that the page shows is what pytest prints (up to the version numbers)."""
    shown = next(block for block in _text_blocks() if block.startswith("emcache-testing"))
    done = _pytest(project, ["pytest", "--collect-only", "test_node_options.py"])
    pattern = re.escape(shown.strip())
    pattern = re.sub(r"\d+(?:\\\.\d+)+", r"[0-9.]+", pattern).replace("/usr/bin/memcached", ".+")
    assert re.search(pattern, done.stdout), done.stdout


def test_a_missing_binary_is_the_line_shown(project: Path) -> None:
    """The page's missing-binary line is what a test that needs a node reports."""
    shown = next(block for block in _text_blocks() if "is not an executable file" in block)
    done = _pytest(
        project,
        ["pytest", "test_node_options.py"],
        EMCACHE_TESTING_MEMCACHED="/opt/nowhere/memcached",
    )
    assert done.returncode == 1
    assert shown.strip() in done.stdout, done.stdout


def test_the_ci_recipes_install_memcached_and_run_the_same_command() -> None:
    """Both recipes install memcached from the system packages and run the tested command."""
    files = _files()
    workflow = yaml.safe_load(files[".github/workflows/tests.yml"])
    runs = [step.get("run", "") for step in workflow["jobs"]["tests"]["steps"]]
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])["tests"]
    assert any("apt-get install -y memcached" in run for run in runs)
    assert any("apt-get install -y memcached" in line for line in gitlab["before_script"])
    assert any("emcache-testing" in run for run in runs)
    assert any("emcache-testing" in line for line in gitlab["before_script"])
    assert shlex.split(gitlab["script"][-1]) == _test_command()
