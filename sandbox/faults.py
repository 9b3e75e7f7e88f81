"""Fault injection: ``VENDOR=KIND[:COUNT][@AFTER]`` makes COUNT requests to that simulator fail that way, after
AFTER good ones (default 0: the first requests), so a fault can hit a page in the middle of a result.

Generic kinds are produced by the HTTP layer for every vendor; ``loop_cursor``, ``restart_cursor`` and
``expired_cursor`` need the vendor's own pagination, so the simulator produces them (a vendor that does not page, or
has no expiring cursors, answers normally).
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
    "empty_body",  # 200 with no body at all
    "null_body",  # 200 whose body is the JSON null
    "empty_object",  # 200 whose body is {}
    "no_content",  # 204 No Content
    "restart_cursor",  # the next cursor (or page) goes back to the first page of the query
    "nan",  # 200 whose first number is NaN (a JSON extension some encoders emit)
    "echo_auth",  # 200 that echoes the request's Authorization header, at the top level and in the first record
)


def parse_fault(text: str) -> tuple[str, str, int, int]:
    """``"cursor=rate_limit:2@1"`` -> ``("cursor", "rate_limit", 2, 1)``; ValueError naming the problem otherwise."""
    vendor, sep, rest = text.partition("=")
    if not sep or not vendor or not rest:
        raise ValueError(f"--fault expects VENDOR=KIND[:COUNT][@AFTER], got {text!r}")
    rest, _, after_text = rest.partition("@")
    try:
        after = int(after_text) if after_text else 0
    except ValueError:
        raise ValueError(f"fault offset {after_text!r} is not an integer") from None
    if after < 0:
        raise ValueError("fault offset must not be negative")
    kind, _, count_text = rest.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of: {', '.join(FAULT_KINDS)}")
    try:
        count = int(count_text) if count_text else 1
    except ValueError:
        raise ValueError(f"fault count {count_text!r} is not an integer") from None
    if count < 1:
        raise ValueError("fault count must be at least 1")
    return vendor, kind, count, after


@dataclass
class FaultPlan:
    """The faults still to inject for one simulator, consumed in request order (thread-safe)."""

    remaining: list[str | None] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, count: int, after: int = 0) -> None:
        """COUNT faults of ``kind`` after ``after`` good requests, counted from the faults already planned."""
        with self._lock:
            self.remaining.extend([None] * after + [kind] * count)

    def pending(self) -> int:
        with self._lock:
            return len(self.remaining)

    def clear(self) -> None:
        with self._lock:
            self.remaining.clear()

    def next_fault(self) -> str | None:
        with self._lock:
            return self.remaining.pop(0) if self.remaining else None
