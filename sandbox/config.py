"""How much synthetic data the simulators serve, and how they misbehave on purpose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SandboxConfig:
    """Sizes of the synthetic world; every simulator derives its data from ``seed`` and these counts.

    A query's row count is the product of the relevant counts and the days (or months) asked for, so a million-row
    query is e.g. 1,000 users x 1,000 days, generated page by page and never held in memory at once.
    """

    seed: int = 0
    users: int = 12
    organizations: int = 3
    resources: int = 8
    retry_after_seconds: float = 1.0
    slow_seconds: float = 5.0
    latency_seconds: float = 0.0
    enforce_rate_limits: bool = False
    """Answer 429 (and count a violation) when a client exceeds the vendor's documented rate limit."""
    rate_limit_retry_after: bool = True
    """Whether those 429s carry Retry-After (``retry_after_seconds``): vendors differ, and some document none."""
    revision: int = 0
    """How many times the vendors have restated their recent figures: with N > 0, the days less than
    ``revised_days`` before the simulators' clock get other figures for the same records (same ids, new amounts and
    counts), as vendors revise recent days; the figures of revision N are the same on every request. 0: as first
    reported. Simulators that support it: Confluent (quantities, hence amounts), Cursor daily usage (lines)."""
    revised_days: int = 2
    now: datetime | None = None
    """The simulators' clock (lookback limits, which months are final); None is the real UTC clock. Tests pin it to
    the same instant as the engine's clock so results do not change with the calendar."""
