"""Render the Sphinx roles of our docstrings as code in the API reference.

Docstrings name other objects with ``:class:`X```, ``:meth:`X``` and the like.
mkdocstrings reads docstrings as Markdown, where those roles would show up
verbatim; this griffe extension turns each one into an inline code span with
the object's name (the last component only for the ``~`` form). A paragraph
ending in ``::`` (reStructuredText's mark for the indented code block that
follows) ends in a plain colon instead, and the indented block becomes a fenced
``python`` block, so that the example is highlighted like those of the pages.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|exc|attr|data|mod|obj|const):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"\s*::\n\n(?P<block>(?:(?: {4}.*)?\n)*(?: {4}.*)(?:\n|$))")
LITERAL_MARKER = re.compile(r"\s*::$", re.M)


def _code(match: re.Match[str]) -> str:
    name = match[2]
    if match[1]:
        name = name.rpartition(".")[2]
    return f"`{name}`"


def _fenced(match: re.Match[str]) -> str:
    block = textwrap.dedent(match["block"]).strip("\n")
    return f":\n\n```python\n{block}\n```\n"


class SphinxRoles(griffe.Extension):
    """Replaces Sphinx cross-reference roles in every docstring by code spans."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            value = ROLE.sub(_code, obj.docstring.value)
            value = LITERAL_BLOCK.sub(_fenced, value)
            obj.docstring.value = LITERAL_MARKER.sub(":", value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self.on_instance(obj=pkg)
