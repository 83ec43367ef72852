"""Per-request timeouts with one timer per timeout value instead of one timer per request.

Strategy. Requests that share a timeout value expire in the order they were made, because
their deadlines are ``now + timeout`` with a clock that never goes back. So each distinct
timeout value gets a *lane*: a FIFO of ``(deadline, future)`` and a single timer armed for the
deadline of the oldest entry. When the timer fires, finished entries at the head are dropped,
unfinished entries whose deadline passed get a :class:`TimeoutError`, and the timer is armed
again for the new head. Adding entries also drops finished entries at the head.

A request that never gets its reply stays at the head of its lane until its deadline, and
every entry behind it would stay too, each holding its future and so its reply: memory
would grow with request rate x timeout x reply size. So when a lane has grown to twice the
length it had after its last sweep (at least ``_SWEEP_AT``), finished entries are swept out
of the whole lane. Sweeps cost O(1) per entry, amortized, and a lane stays within twice the
number of requests in flight (plus ``_SWEEP_AT``).

In steady traffic with replies much faster than the timeout, the head is always finished when
the timer fires and the next head is a recent request: the timer fires about once per timeout
period, whatever the request rate. Compare ``loop.call_later`` per request, which pushes to and
cancels from the loop's heap every time, or ``asyncio.wait_for``, which adds a task.

Expiring a future does not touch the connection: the request stays in flight there and its
reply is read and dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["DeadlineQueue"]

# The loop may run a timer a hair before its deadline (clock resolution); treat deadlines that
# close as reached so that the lane never re-arms a timer for the same instant.
_SLACK = 0.0005
# Finished entries at the head are dropped each time a lane reaches a multiple of this length.
_PRUNE_MASK = 63
# The smallest lane length at which finished entries are swept out of the whole lane.
_SWEEP_AT = 256


class _Lane:
    """Requests that share one timeout value, oldest first."""

    __slots__ = ("_loop", "_owner", "_timeout", "_timer", "entries", "sweep_at")

    def __init__(self, owner: DeadlineQueue, timeout: float) -> None:
        self._owner = owner
        self._loop = owner.loop
        self._timeout = timeout
        self.entries: deque[tuple[float, asyncio.Future[Any], object]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.sweep_at = _SWEEP_AT

    def sweep(self) -> None:
        """Drop every finished entry, keeping the order of the others."""
        entries = self.entries
        live = [entry for entry in entries if not entry[1].done()]
        entries.clear()
        entries.extend(live)
        self.sweep_at = max(_SWEEP_AT, 2 * len(live))

    def arm(self, deadline: float) -> None:
        self._timer = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self._loop.time() + _SLACK
        entries = self.entries
        on_expire = self._owner.on_expire
        while entries:
            deadline, fut, holder = entries[0]
            if not fut.done():
                if deadline > now:
                    break
                fut.set_exception(TimeoutError(f"no reply within {self._timeout} s"))
                if holder is not None and on_expire is not None:
                    on_expire(holder)
            entries.popleft()
        if entries:
            self._timer = self._loop.call_at(entries[0][0], self._expire)
        else:
            self._owner.drop(self._timeout, self)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.entries.clear()


class DeadlineQueue:
    """Gives futures a :class:`TimeoutError` when their timeout passes.

    Args:
        loop: The event loop whose clock and timers are used.
        on_expire: Called with the ``holder`` given to :meth:`add` when that future expires.

    Attributes:
        loop: The event loop.
        on_expire: The callback given.
    """

    __slots__ = ("_lanes", "_time", "loop", "on_expire")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_expire: Callable[[Any], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_expire = on_expire
        self._lanes: dict[float, _Lane] = {}
        # The stock loop's clock is time.monotonic: calling it directly skips a method call.
        stock = type(loop).time is asyncio.BaseEventLoop.time
        self._time: Callable[[], float] = time.monotonic if stock else loop.time

    def add(self, fut: asyncio.Future[Any], timeout: float, holder: object = None) -> None:
        """Expire ``fut`` after ``timeout`` seconds unless it is done by then.

        Args:
            fut: The future to expire.
            timeout: Seconds from now.
            holder: Passed to ``on_expire`` if the future expires (the connection it waits on).
        """
        lane = self._lanes.get(timeout)
        if lane is None:
            lane = self._lanes[timeout] = _Lane(self, timeout)
        entries = lane.entries
        deadline = self._time() + timeout
        entries.append((deadline, fut, holder))
        if not len(entries) & _PRUNE_MASK:
            while entries and entries[0][1].done():
                entries.popleft()
            if len(entries) >= lane.sweep_at:
                lane.sweep()
        if lane._timer is None:
            lane.arm(deadline)

    def drop(self, timeout: float, lane: _Lane) -> None:
        """Forget an empty lane (called by the lane itself)."""
        if self._lanes.get(timeout) is lane:
            del self._lanes[timeout]

    def close(self) -> None:
        """Cancel every timer; the futures are left as they are."""
        for lane in self._lanes.values():
            lane.cancel()
        self._lanes.clear()
