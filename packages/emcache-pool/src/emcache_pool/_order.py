"""The order of writes to one key: given-up requests pin their key to their connection.

A request whose caller gave up (a timeout, a cancellation, or ``noreply``) may still be
applied by the node. If the caller's next write to the same key went out on another
connection, it could be applied first and then be overwritten by the older one: a stale
value that stays. So a request made with a key whose caller gave up *pins* that key to its
connection until its reply arrives, and later requests for the key go to that connection,
behind it. memcached applies the requests of one connection in order, so an acknowledged
write is never overtaken by an earlier one.

A pin is ``(connection, position)``, where the position counts the connection's requests
from 0 (see :attr:`Connection.replied`): it holds while ``connection.replied <= position``
and the connection is open. Pins are looked up only for keys that have one, and swept of
finished ones when they have doubled since the last sweep: O(1) each, amortized, and memory
bounded by the requests given up and still in flight.
"""

from __future__ import annotations

import asyncio
from typing import Any

from emcache_pool._connection import Connection

__all__ = ["KeyPins"]

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

    def connection_for(self, key: bytes) -> Connection | None:
        """The connection that still owes the reply of a given-up request for ``key``."""
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

    def pin_last(self, key: bytes, conn: Connection) -> None:
        """Pin ``key`` behind the request just queued on ``conn`` (a ``noreply`` one)."""
        self.pin(key, conn, conn.replied + conn.in_flight - 1)

    def pin_given_up(self, key: bytes, conn: Connection, fut: asyncio.Future[Any]) -> None:
        """Pin ``key`` behind the request of ``fut`` if it is still in flight on ``conn``."""
        position = conn.position_of(fut)
        if position is not None:
            self.pin(key, conn, position)

    def clear(self) -> None:
        """Forget every pin (the pool is closing)."""
        self.pins.clear()
