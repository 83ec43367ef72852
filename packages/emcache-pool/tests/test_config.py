"""PoolConfig and the endpoints: defaults, validation, identity, text."""

from __future__ import annotations

import attrs
import pytest

from emcache_pool import (
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    PoolConfig,
    endpoint_text,
    positive_seconds,
)


def test_pool_config_defaults_match_the_client_defaults():
    """The defaults are those of create_client: 2 max, 1 min, purge after 60 s, 5 s connect."""
    config = PoolConfig()
    assert config.max_connections == 2
    assert config.min_connections == 1
    assert config.purge_unused_connections_after == 60.0
    assert config.connection_timeout == 5.0
    assert config.ssl_context is None
    assert config.on_connect is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_connections": 0}, "max_connections"),
        ({"min_connections": -1}, "min_connections"),
        ({"min_connections": 3, "max_connections": 2}, "min_connections"),
        ({"purge_unused_connections_after": 0}, "purge_unused_connections_after"),
        ({"connection_timeout": -1.0}, "connection_timeout"),
    ],
)
def test_pool_config_rejects_bad_settings(settings, message):
    """Out-of-range settings raise ValueError naming the setting."""
    with pytest.raises(ValueError, match=message):
        PoolConfig(**settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_connections": 2.5}, "max_connections must be an int"),
        ({"max_connections": True}, "max_connections must be an int"),
        ({"min_connections": "1"}, "min_connections must be an int"),
        ({"purge_unused_connections_after": "60"}, "purge_unused_connections_after"),
        ({"connection_timeout": False}, "connection_timeout"),
    ],
)
def test_pool_config_rejects_settings_of_the_wrong_type(settings, message):
    """A count that is not an int, or a duration that is not a number, raises TypeError."""
    with pytest.raises(TypeError, match=message):
        PoolConfig(**settings)


def test_pool_config_accepts_none_to_disable_purge_and_connect_timeout():
    """None disables purging and the connect timeout."""
    config = PoolConfig(purge_unused_connections_after=None, connection_timeout=None)
    assert config.purge_unused_connections_after is None
    assert config.connection_timeout is None


@attrs.frozen
class _Durations:
    required: float = attrs.field(default=1.0, validator=positive_seconds())
    optional: float | None = attrs.field(default=None, validator=positive_seconds(optional=True))


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"required": None}, TypeError, "required must be a positive number of seconds, got"),
        ({"required": True}, TypeError, "required must be a positive number of seconds, got"),
        ({"required": 0}, ValueError, "required must be a positive number of seconds, not 0"),
        ({"optional": "1"}, TypeError, "optional must be a positive number of seconds or None"),
        ({"optional": float("nan")}, ValueError, "optional must be .* or None, not nan"),
    ],
)
def test_positive_seconds_names_the_option_it_rejects(settings, error, message):
    """The shared duration validator refuses non-numbers and values not above 0, naming them."""
    with pytest.raises(error, match=message):
        _Durations(**settings)


def test_positive_seconds_accepts_ints_floats_and_none_when_optional():
    """Ints and floats above 0 pass, and None only where it was asked for."""
    assert _Durations(required=2, optional=0.5) == _Durations(2, 0.5)


def test_endpoints_are_positional_values():
    """Endpoints are built positionally and compare and hash by value."""
    assert MemcachedHostAddress("localhost", 11211) == MemcachedHostAddress("localhost", 11211)
    assert len({MemcachedUnixSocketPath("/tmp/a"), MemcachedUnixSocketPath("/tmp/a")}) == 1


def test_endpoint_text_brackets_ipv6_addresses():
    """The text is host:port, an IPv6 address in brackets, or the socket path."""
    assert endpoint_text(MemcachedHostAddress("10.0.0.1", 11211)) == "10.0.0.1:11211"
    assert endpoint_text(MemcachedHostAddress("::1", 11211)) == "[::1]:11211"
    assert endpoint_text(MemcachedUnixSocketPath("/run/mc.sock")) == "/run/mc.sock"
