"""Sandbox workloads of realistic shape, sized by the number of unified rows they produce.

| integration | shape | knob |
|---|---|---|
| cursor | users x days (30-day windows, pages of 500 users) | users, days |
| datadog | organizations x 6 products x 16 months (historical + estimated) | organizations |
| confluent | daily line items: (3 x resources + 1) x 360 days, monthly windows | resources |
| claude | users x surfaces for one day (activity report, ~3.3 rows per user) | users |
| openai-codex | users x days, one call per day (the mapping asks one day at a time) | users, days |

Every workload pins the clock (:data:`NOW`) on both sides, so lookback limits and estimated/final months do not move
with the calendar. Sizes are approximate: the row count is measured and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from unimeter.sandbox import SandboxConfig, account_fields

NOW = datetime(2026, 11, 26, tzinfo=UTC)
INTEGRATIONS = ("cursor", "datadog", "confluent", "claude", "openai-codex")
CLAUDE_ROWS_PER_USER = 3.3  # measured on the sandbox (seed 0): one user row plus ~2.3 active surfaces
DATADOG_ROWS_PER_ORG = 6 * 16
CONFLUENT_DAYS = 360


@dataclass(frozen=True)
class Workload:
    """One integration's query (or queries, for one-day-per-call vendors) against one sandbox configuration."""

    integration: str
    size: int
    config: SandboxConfig
    calls: list[dict[str, str]] = field(default_factory=list)
    shape: str = ""

    def engine_options(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of ``unimeter.alist_usage`` for this workload's sandbox endpoint (without params)."""
        return {**account_fields(endpoint), "now": NOW}


def _day(offset: int) -> str:
    return (NOW - timedelta(days=offset)).date().isoformat()


def _config(**counts: int) -> SandboxConfig:
    return SandboxConfig(seed=0, now=NOW, **counts)


def make_workload(integration: str, size: int) -> Workload:
    """The workload of about ``size`` rows for ``integration``."""
    if integration == "cursor":
        users = max(1, min(1000, int(size**0.5)))
        days = max(1, round(size / users))
        return Workload(
            integration,
            size,
            _config(users=users),
            [{"start_date": _day(days), "end_date": _day(1)}],
            f"{users} users x {days} days",
        )
    if integration == "datadog":
        orgs = max(1, round(size / DATADOG_ROWS_PER_ORG))
        start = (NOW.replace(day=1) - timedelta(days=1)).replace(day=1)
        for _ in range(14):
            start = (start - timedelta(days=1)).replace(day=1)
        return Workload(
            integration,
            size,
            _config(organizations=orgs),
            [{"start_date": start.date().isoformat(), "end_date": _day(0)}],
            f"{orgs} orgs x 6 products x 16 months",
        )
    if integration == "confluent":
        days = min(CONFLUENT_DAYS, max(1, size // 4))
        resources = max(1, round((size / days - 1) / 3))
        end = NOW - timedelta(days=1)
        return Workload(
            integration,
            size,
            _config(resources=resources, organizations=4),
            [{"start_date": (end - timedelta(days=days - 1)).date().isoformat(), "end_date": end.date().isoformat()}],
            f"{resources * 3 + 1} lines/day x {days} days",
        )
    if integration == "claude":
        users = max(3, round(size / CLAUDE_ROWS_PER_USER))
        return Workload(
            integration,
            size,
            _config(users=users),
            [{"date": _day(4), "report_type": "activity"}],
            f"{users} users x surfaces, 1 day",
        )
    if integration == "openai-codex":
        days = max(1, min(85, round(size**0.5 / 10)))
        users = max(3, round(size / days))
        return Workload(
            integration,
            size,
            _config(users=users),
            [{"date": _day(d)} for d in range(days, 0, -1)],
            f"{users} users x {days} days",
        )
    raise ValueError(f"no workload for {integration!r}")
