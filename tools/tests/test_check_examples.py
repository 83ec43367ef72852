"""The documentation's example checker finds the examples and fails on a wrong one."""

from __future__ import annotations

import textwrap

import check_examples


def test_as_module_moves_top_level_await_into_a_coroutine() -> None:
    """A block with top-level ``await`` becomes the body of an ``async def``."""
    module = check_examples.as_module("await asyncio.sleep(0)\n", "import asyncio\n")
    assert module.splitlines() == [
        "import asyncio",
        "async def _example() -> None:",
        "    await asyncio.sleep(0)",
    ]


def test_examples_give_the_docs_preamble_to_docs_pages_only() -> None:
    """Docs examples get ``import emcache``; README examples must import what they use."""
    modules = check_examples.examples()
    assert any(name.startswith("docs_operations_") for name in modules)
    readme_blocks = {
        check_examples.as_module(textwrap.dedent(match["body"]), "")
        for page in check_examples.sources()
        if page.name == "README.md"
        for match in check_examples.FENCE.finditer(page.read_text())
    }
    for name, source in modules.items():
        if name.startswith("docs_"):
            assert source.startswith(check_examples.DOCS_PREAMBLE), name
        else:
            # A README block is checked exactly as written, even when it opens with
            # the same imports as the preamble.
            assert source in readme_blocks, name


def test_type_check_reports_an_item_used_without_a_check() -> None:
    """Reading ``.value`` from ``get`` without ruling out ``None`` is an error."""
    body = "client = await emcache.create_client([])\nprint((await client.get(b'k')).value)\n"
    status, report = check_examples.type_check(
        {"wrong": check_examples.as_module(body, check_examples.DOCS_PREAMBLE)}
    )
    assert status == 1
    assert 'Item "None" of "Item | None" has no attribute "value"' in report
