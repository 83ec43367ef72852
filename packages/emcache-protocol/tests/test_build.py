"""Which build is under test: compiled where the environment expects it, else pure Python."""

import os
from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType

import emcache_protocol
from emcache_protocol import _bulk, _grammar, _large_values, _meta_parser, _parser, _scan


def is_extension(module: ModuleType) -> bool:
    return str(module.__file__).endswith(tuple(EXTENSION_SUFFIXES))


def test_compiled_flag_names_the_build_under_test() -> None:
    """COMPILED is what the environment expects, and the parser's modules agree with it.

    The iso-protocol-compiled environment sets EMCACHE_EXPECT_COMPILED=1; everywhere else
    the pure-Python source runs, and a stray compiled module in the source tree fails here.
    """
    expected = os.environ.get("EMCACHE_EXPECT_COMPILED") == "1"
    assert emcache_protocol.COMPILED is expected
    for module in (_parser, _meta_parser, _large_values, _bulk, _grammar, _scan):
        assert is_extension(module) is expected, module.__file__


def test_parser_reads_whole_replies_with_the_builds_reader() -> None:
    """Compiled, the byte scanner reads whole replies; interpreted, the column reader does."""
    expected = _scan.scan_whole_reply if emcache_protocol.COMPILED else _bulk.read_whole_reply
    assert _parser._read_whole_reply is expected
