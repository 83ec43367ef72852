"""The order of writes to one key: given-up requests pin their key to their connection.

A request whose caller gave up (a timeout, a cancellation, or ``noreply``) may still be
applied by the node. If the caller's next write to the same key went out on another
connection, it could be applied first and then be overwritten by the older one: a stale
value that stays. So a request made with a key whose caller gave up *pins* that key to its
connection until its reply arrives, and later requests for the key go to that connection,
behind it. memcached applies the requests of one connection in order, so an acknowledged
write is never overtaken by an earlier one.

A request for many keys (a quiet meta batch) goes behind the first of its keys found pinned,
and when given up pins every one of them. Should its keys be pinned to two connections at
once (two earlier given-up writes, on two connections), it can only follow one of them.

A pin is ``(connection, position)``, where the position counts the connection's requests
from 0 (see :attr:`Connection.replied`): it holds while ``connection.replied <= position``
and the connection is open. Pins are looked up only for keys that have one, and swept of
finished ones when they have doubled since the last sweep: O(1) each, amortized, and memory
bounded by the requests given up and still in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeAlias

from emcache_pool._connection import Connection

__all__ = ["KeyPins", "Keys"]

Keys: TypeAlias = bytes | Sequence[bytes]
"""One key, or the keys of a request for many."""

# The pins are swept of finished ones when they grow past this many (or twice as many as
# the last sweep left).
_SWEEP_AT = 1024


class KeyPins:
    """The keys whose given-up request is still in flight, and the connection of each.

    Attributes:
        pins: ``key -> (connection, position)``; empty most of the time, which is what the
            hot path tests before anything else.
    """

    __slots__ = ("_sweep_at", "pins")

    def __init__(self) -> None:
        self.pins: dict[bytes, tuple[Connection, int]] = {}
        self._sweep_at = _SWEEP_AT

    def connection_for(self, key: Keys) -> Connection | None:
        """The connection that still owes the reply of a given-up request for ``key``.

        For many keys, the connection of the first one that has such a request.
        """
        if isinstance(key, bytes):
            return self._connection_for(key)
        for one in key:
            conn = self._connection_for(one)
            if conn is not None:
                return conn
        return None

    def _connection_for(self, key: bytes) -> Connection | None:
        pin = self.pins.get(key)
        if pin is None:
            return None
        conn, position = pin
        if conn.is_closed or conn.replied > position:
            del self.pins[key]
            return None
        return conn

    def pin(self, key: bytes, conn: Connection, position: int) -> None:
        """Send later requests for ``key`` to ``conn`` until its request at ``position`` ends."""
        if conn.is_closed or conn.replied > position:
            return  # its reply arrived, or it can never arrive: nothing left to overtake
        pins = self.pins
        pins[key] = (conn, position)
        if len(pins) >= self._sweep_at:
            for stale in [k for k, (c, p) in pins.items() if c.is_closed or c.replied > p]:
                del pins[stale]
            self._sweep_at = max(_SWEEP_AT, 2 * len(pins))

    def pin_last(self, key: Keys, conn: Connection) -> None:
        """Pin ``key`` (or each key) behind the request just queued on ``conn`` (``noreply``)."""
        self._pin_all(key, conn, conn.replied + conn.in_flight - 1)

    def pin_given_up(self, key: Keys, conn: Connection, fut: asyncio.Future[Any]) -> None:
        """Pin ``key`` (or each key) behind the request of ``fut`` if it is still in flight."""
        position = conn.position_of(fut)
        if position is not None:
            self._pin_all(key, conn, position)

    def _pin_all(self, key: Keys, conn: Connection, position: int) -> None:
        if isinstance(key, bytes):
            self.pin(key, conn, position)
        else:
            for one in key:
                self.pin(one, conn, position)

    def clear(self) -> None:
        """Forget every pin (the pool is closing)."""
        self.pins.clear()
