"""Show the values of named defaults in the API reference.

Signatures read ``timeout=DEFAULT_TIMEOUT`` in the source, and the ``DEFAULT_*``
constants are read off the configuration classes (``_CLIENT.timeout``), so one
place holds each default. A reader of the reference wants the number: this
griffe extension imports the module and, where a parameter's default or a
module constant is an upper-case name or expression whose run-time value is a
plain literal (``None``, a bool, a number or a string), shows that value
instead.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import griffe

CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
LITERALS = (type(None), bool, int, float, str)


def _runtime_value(module_path: str, name: str) -> str | None:
    """``repr`` of ``module_path.name`` when it is a plain literal, else None."""
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        return None
    value = getattr(module, name, _MISSING)
    if value is _MISSING or not isinstance(value, LITERALS):
        return None
    return repr(value)


_MISSING = object()


class DefaultValues(griffe.Extension):
    """Replaces named defaults and computed constants by their literal values."""

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        for parameter in func.parameters:
            default = str(parameter.default) if parameter.default is not None else ""
            if CONSTANT.match(default):
                value = _runtime_value(func.module.path, default)
                if value is not None:
                    parameter.default = value

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs: Any) -> None:
        if not (attr.parent is not None and attr.parent.is_module and CONSTANT.match(attr.name)):
            return
        value = _runtime_value(attr.module.path, attr.name)
        if value is not None:
            attr.value = value
