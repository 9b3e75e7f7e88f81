"""Keep a vendor's documented request rate: at most ``requests`` in any ``per_seconds`` window.

Concurrent windows make it easy to exceed a vendor's limit (some allow only 20 requests a minute), so every
page request of a query, whichever window sends it, first takes a slot from the query's limiter. The limiter belongs
to one query: queries running side by side in one service each keep the limit, not their sum (a shared budget per
vendor account is future work).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


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
        self._lock = asyncio.Lock()

    async def acquire(self, sleep: Sleep) -> float:
        """Wait for a slot; returns how long it waited (0.0 when a slot was free)."""
        async with self._lock:
            now = self.clock()
            while self._sent and now - self._sent[0] >= self.per_seconds:
                self._sent.popleft()
            if len(self._sent) < self.requests:
                self._sent.append(now)
                return 0.0
            free_at = self._sent.popleft() + self.per_seconds
            delay = max(0.0, free_at - now)
            await sleep(delay)
            self._sent.append(max(free_at, self.clock()))
            return delay
