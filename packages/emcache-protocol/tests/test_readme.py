"""The examples of the package README run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("example", EXAMPLES)
def test_readme_example_runs(example: str) -> None:
    """Each python block of the README executes without error."""
    exec(compile(example, str(README), "exec"), {})
