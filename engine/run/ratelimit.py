"""Keep a vendor's documented request rate: at most ``requests`` in any ``per_seconds`` window, per vendor account.

Concurrent windows and concurrent queries make it easy to exceed a vendor's limit (some allow only 20 requests a
minute), so every page request first takes a slot from a budget: a query's own :class:`RateLimiter` (the library
and the CLI), or the service's :class:`StoreRateLimiter` per integrated account, whose slots live in the accounts
store, so that every query of that account in every service instance on that store shares them. A slot is reserved
first and waited for after, outside any lock, so one budget serves several event loops, threads and processes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

Sleep = Callable[[float], Awaitable[None]]


class RateBudget(Protocol):
    """What the pipeline needs of a budget: wait (through ``sleep``) until the next request may go."""

    async def acquire(self, sleep: Sleep) -> float: ...


def next_slot(recent: Sequence[float], now: float, requests: int, per_seconds: float) -> float:
    """When the next request may go, given the slots still in the window (oldest first, possibly in the future):
    now while fewer than ``requests`` are booked, else one window after the ``requests``-th most recent."""
    return now if len(recent) < requests else max(now, recent[-requests] + per_seconds)


class RateLimiter:
    """A sliding-window limiter; :meth:`acquire` waits (through ``sleep``) until a request may go.

    The slot is granted at the instant the wait was computed to end, whether or not ``sleep`` really slept, so an
    injected test sleep cannot spin this loop forever.
    """

    def __init__(self, requests: int, per_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.requests = requests
        self.per_seconds = per_seconds
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def _reserve(self) -> tuple[float, float]:
        """Book the next free slot: (when it starts, now)."""
        with self._lock:
            now = self.clock()
            while self._sent and now - self._sent[0] >= self.per_seconds:
                self._sent.popleft()
            start = next_slot(self._sent, now, self.requests, self.per_seconds)
            self._sent.append(start)
            return start, now

    async def acquire(self, sleep: Sleep) -> float:
        """Wait for a slot; returns how long it waited (0.0 when a slot was free)."""
        start, now = self._reserve()
        delay = max(0.0, start - now)
        if delay:
            await sleep(delay)
        return delay


class SlotReserver(Protocol):
    """A store that books request slots (see ``unimeter.store``): seconds to wait before the booked slot starts."""

    def reserve_rate_slot(self, budget: str, *, requests: int, per_seconds: float) -> float: ...


SAFETY_SECONDS = 0.25
SAFETY_SHARE = 0.02


class StoreRateLimiter:
    """The same sliding window as :class:`RateLimiter`, kept in a store that several processes share.

    The store books the slot in one transaction on its own clock, so instances on different machines agree on the
    window; the wait happens here, after the transaction.
    """

    def __init__(self, store: SlotReserver, budget: str, requests: int, per_seconds: float) -> None:
        self.store = store
        self.budget = budget
        self.requests = requests
        # A slot is booked at the store's "now", and the request leaves a little later (the commit, the thread hop,
        # an event loop busy with another query's pages): a slightly longer window keeps a late request and an
        # on-time one a whole window apart.
        self.per_seconds = per_seconds + max(SAFETY_SECONDS, per_seconds * SAFETY_SHARE)

    async def acquire(self, sleep: Sleep) -> float:
        delay = await asyncio.to_thread(
            self.store.reserve_rate_slot, self.budget, requests=self.requests, per_seconds=self.per_seconds
        )
        if delay > 0:
            await sleep(delay)
        return max(0.0, delay)
