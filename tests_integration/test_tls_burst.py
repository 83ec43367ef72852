"""Bursts of concurrent sets over TLS must all be answered.

memcached before 1.6.39 can leave the tail of a pipelined burst unanswered on a
TLS connection: when a set's data block straddles two TLS records, the server
reads the rest of the data block straight from the TLS layer, which decrypts
the whole next record; the requests that follow in that record stay buffered
in OpenSSL while the server waits for the socket to become readable again.
If that record was the last one of the burst, nothing arrives and the last
replies never come (until another request is written on the connection).

Each round writes a burst of sets with unique keys, so the requests straddle
the 16 KB record boundaries at different offsets from one round to the next.
"""

from __future__ import annotations

import asyncio

import pytest

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory

ROUNDS = 30
TIMEOUT = 1.0


@pytest.mark.asyncio
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("burst", "value_size"),
    [(50, 1024), (200, 100), (50, 16384)],
    ids=["50x1KB", "200x100B", "50x16KB"],
)
@pytest.mark.parametrize("max_connections", [1, 2], ids=["1conn", "2conns"])
async def test_tls_burst_of_concurrent_sets_completes(
    memcached_tls: MemcachedNode,
    make_client: ClientFactory,
    burst: int,
    value_size: int,
    max_connections: int,
) -> None:
    """Thirty bursts of concurrent sets over TLS each get every reply within the timeout."""
    assert memcached_tls.tls is not None
    client = await make_client(
        [memcached_tls],
        ssl=True,
        ssl_extra_ca=str(memcached_tls.tls.ca_file),
        timeout=TIMEOUT,
        max_connections=max_connections,
    )
    value = b"v" * value_size
    await client.set(b"warm-up", value)  # the connection exists before the first burst

    failed_rounds = []
    for round_no in range(ROUNDS):
        keys = [b"burst-%d-%d" % (round_no, i) for i in range(burst)]
        results = await asyncio.gather(
            *(client.set(key, value) for key in keys), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            failed_rounds.append((round_no, len(errors), type(errors[0]).__name__))
            # The connection of a timed-out request is not trusted any more; go on with the
            # next round to count how many rounds are affected.
            continue
        # Spot-check that the burst was really stored.
        item = await client.get(keys[-1])
        assert item is not None
        assert item.value == value

    assert not failed_rounds, (
        f"{len(failed_rounds)}/{ROUNDS} bursts of {burst} x {value_size} B sets over TLS "
        f"did not complete within {TIMEOUT} s: (round, failed sets, error) {failed_rounds[:5]}"
    )


@pytest.mark.asyncio
async def test_tls_burst_client_is_usable_after_burst(
    memcached_tls: MemcachedNode, make_client: ClientFactory
) -> None:
    """A get right after a burst sees every value of the burst."""
    assert memcached_tls.tls is not None
    client: emcache.Client = await make_client(
        [memcached_tls],
        ssl=True,
        ssl_extra_ca=str(memcached_tls.tls.ca_file),
        timeout=TIMEOUT,
        max_connections=1,
    )
    value = b"w" * 1024
    keys = [b"after-%d" % i for i in range(50)]
    await asyncio.gather(*(client.set(key, value) for key in keys))
    items = await asyncio.gather(*(client.get(key) for key in keys))
    assert all(item is not None and item.value == value for item in items)
