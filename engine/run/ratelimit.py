"""Keep a vendor's documented request rate: at most ``requests`` in any ``per_seconds`` window, per vendor account.

Concurrent windows and concurrent queries make it easy to exceed a vendor's limit (some allow only 20 requests a
minute), so every page request first takes a slot from a limiter: a query's own, or the one the service keeps per
integrated account, which every query of that account in the process shares. A slot is reserved under a thread
lock and waited for outside it, so one limiter serves several event loops and threads. (Service instances on one
store do not share budgets yet.)
"""

from __future__ import annotations

import threading
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
        self._lock = threading.Lock()

    def _reserve(self) -> tuple[float, float]:
        """Book the next free slot: (when it starts, now)."""
        with self._lock:
            now = self.clock()
            while self._sent and now - self._sent[0] >= self.per_seconds:
                self._sent.popleft()
            start = now if len(self._sent) < self.requests else self._sent[-self.requests] + self.per_seconds
            self._sent.append(max(start, now))
            return max(start, now), now

    async def acquire(self, sleep: Sleep) -> float:
        """Wait for a slot; returns how long it waited (0.0 when a slot was free)."""
        start, now = self._reserve()
        delay = max(0.0, start - now)
        if delay:
            await sleep(delay)
        return delay
