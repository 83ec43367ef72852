"""The public surface of emcache_protocol."""

import emcache_protocol


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_protocol.__all__:
        assert hasattr(emcache_protocol, name), name
    assert len(set(emcache_protocol.__all__)) == len(emcache_protocol.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_protocol.__version__, str)
    assert emcache_protocol.__version__.count(".") == 2


def test_meta_names_are_exported() -> None:
    """The meta encoders, their result types and modes are public: the facade builds on them."""
    expected = {
        "MAX_BINARY_KEY_LENGTH",
        "MAX_OPAQUE_LENGTH",
        "MetaArithmeticMode",
        "MetaBatchRequest",
        "MetaNoopRequest",
        "MetaRequest",
        "MetaResult",
        "MetaSetMode",
        "MetaStatus",
        "command_ends",
        "meta_arithmetic_command",
        "meta_batch_command",
        "meta_delete_command",
        "meta_get_command",
        "meta_noop_command",
        "meta_set_command",
    }
    assert expected <= set(emcache_protocol.__all__)
    assert emcache_protocol.__all__ == sorted(emcache_protocol.__all__)
