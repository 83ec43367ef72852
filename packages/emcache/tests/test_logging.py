"""Every package logs under one tree, ``emcache``, which governs them all."""

from __future__ import annotations

import ast
import importlib
import logging
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2]
TOP_LEVEL = [
    "emcache",
    "emcache_protocol",
    "emcache_hashing",
    "emcache_auth",
    "emcache_pool",
    "emcache_cluster",
]
# The loggers the packages use today; a new one must be added here and to the docs.
EXPECTED = {"emcache.auth", "emcache.client", "emcache.cluster", "emcache.herd", "emcache.pool"}


def _logger_names_in_sources() -> Iterator[tuple[Path, str]]:
    """(file, name) for every ``logging.getLogger(<literal>)`` of the client packages."""
    for source in sorted(PACKAGES.glob("emcache*/src/**/*.py")):
        if "emcache-testing" in source.parts:
            continue  # the pytest plugin is not part of the client
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"
            ):
                [argument] = node.args
                assert isinstance(argument, ast.Constant), f"{source}: a literal name"
                assert isinstance(argument.value, str)
                yield source, argument.value


def _module_loggers() -> dict[str, logging.Logger]:
    """The Logger objects held by every module of the client packages, by module."""
    found = {}
    for top in TOP_LEVEL:
        package = importlib.import_module(top)
        modules = [package.__name__]
        modules += [info.name for info in pkgutil.walk_packages(package.__path__, f"{top}.")]
        for name in modules:
            if name.startswith("emcache.otel"):
                pytest.importorskip("opentelemetry")
            module = importlib.import_module(name)
            for value in vars(module).values():
                if isinstance(value, logging.Logger):
                    found[name] = value
    return found


def test_every_logger_of_the_sources_is_under_emcache() -> None:
    """Each getLogger call of a client package names a logger under ``emcache.``."""
    names = {name for _, name in _logger_names_in_sources()}
    assert names == EXPECTED
    for source, name in _logger_names_in_sources():
        assert name.startswith("emcache."), f"{source} logs to {name!r}"


def test_module_loggers_are_the_documented_ones() -> None:
    """The loggers the modules hold at run time are the tree's, none outside it."""
    loggers = _module_loggers()
    assert {logger.name for logger in loggers.values()} == EXPECTED
    assert {"emcache_pool", "emcache_cluster", "emcache_auth"}.isdisjoint(
        logging.Logger.manager.loggerDict
    )


@pytest.mark.parametrize("level", [logging.DEBUG, logging.WARNING, logging.CRITICAL])
def test_the_emcache_logger_governs_every_package(level: int) -> None:
    """``logging.getLogger("emcache").setLevel(...)`` sets the level of every package's logger."""
    root = logging.getLogger("emcache")
    before = root.level
    root.setLevel(level)
    try:
        for module, logger in _module_loggers().items():
            assert logger.level == logging.NOTSET, f"{module} sets its own level"
            assert logger.getEffectiveLevel() == level, module
            assert logger.isEnabledFor(level)
            assert not logger.isEnabledFor(level - 1)
    finally:
        root.setLevel(before)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_handler_on_emcache_receives_every_package(caplog: pytest.LogCaptureFixture) -> None:
    """Records of every package propagate to a handler on the ``emcache`` logger."""
    root = logging.getLogger("emcache")
    handler = _Collect()
    root.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="emcache"):
            for logger in _module_loggers().values():
                logger.debug("probe")
    finally:
        root.removeHandler(handler)
    assert {record.name for record in handler.records} == EXPECTED
