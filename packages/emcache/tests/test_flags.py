"""Flags are unsigned 32-bit numbers, the range memcached 1.6 stores."""

from __future__ import annotations

import pytest

import emcache
from emcache_testing import MemcachedNode


@pytest.mark.asyncio
@pytest.mark.parametrize("flags", [0, 2**16, 2**32 - 1])
async def test_flags_round_trip_over_the_32_bit_range(memcached: MemcachedNode, flags: int) -> None:
    """Every flags value from 0 to 2**32-1 (1.x stopped at 2**16) is stored and read back."""
    assert memcached.port is not None
    client = await emcache.create_client(
        [emcache.MemcachedHostAddress(memcached.host, memcached.port)]
    )
    try:
        await client.set(b"key", b"value", flags=flags)
        item = await client.get(b"key", return_flags=True)
        assert item is not None
        assert item.flags == flags
    finally:
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("flags", [-1, 2**32])
async def test_flags_outside_32_bits_are_refused(flags: int) -> None:
    """A value outside 0..2**32-1 raises ValueError before anything is sent."""
    client = await emcache.create_client(
        [emcache.MemcachedHostAddress("127.0.0.1", 1)], min_connections=0
    )
    try:
        with pytest.raises(ValueError, match="flags"):
            await client.set(b"key", b"value", flags=flags)
    finally:
        await client.close()
