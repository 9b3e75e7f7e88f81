"""Fault injection: ``VENDOR=KIND[:COUNT]`` makes the first COUNT requests to that simulator fail that way.

Generic kinds are produced by the HTTP layer for every vendor; ``loop_cursor`` and ``expired_cursor`` need the vendor's
own pagination, so the simulator produces them (a vendor without expiring cursors answers normally).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAULT_KINDS = (
    "rate_limit",  # 429 with Retry-After
    "server_error",  # 500, 502, 503 in turn
    "timeout",  # the answer comes after SandboxConfig.slow_seconds
    "reset",  # the connection is dropped without an answer
    "malformed",  # 200 with a body that is not JSON
    "truncated",  # 200 with valid JSON cut in half
    "loop_cursor",  # the next cursor (or page) repeats the current one
    "expired_cursor",  # 410 where the vendor has expiring cursors
    "unauthorized",  # 401 in the vendor's error shape
)


def parse_fault(text: str) -> tuple[str, str, int]:
    """``"cursor=rate_limit:2"`` -> ``("cursor", "rate_limit", 2)``; ValueError naming the problem otherwise."""
    vendor, sep, rest = text.partition("=")
    if not sep or not vendor or not rest:
        raise ValueError(f"--fault expects VENDOR=KIND[:COUNT], got {text!r}")
    kind, _, count_text = rest.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of: {', '.join(FAULT_KINDS)}")
    try:
        count = int(count_text) if count_text else 1
    except ValueError:
        raise ValueError(f"fault count {count_text!r} is not an integer") from None
    if count < 1:
        raise ValueError("fault count must be at least 1")
    return vendor, kind, count


@dataclass
class FaultPlan:
    """The faults still to inject for one simulator, consumed in request order (thread-safe)."""

    remaining: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, count: int) -> None:
        with self._lock:
            self.remaining.extend([kind] * count)

    def next_fault(self) -> str | None:
        with self._lock:
            return self.remaining.pop(0) if self.remaining else None
