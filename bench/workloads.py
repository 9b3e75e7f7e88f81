"""Sandbox workloads of realistic shape, sized by the number of unified rows they produce.

One workload per report of every integration on the search path (a workload is named after its integration, with
the report appended when it is not the mapping's default one):

| workload | integration, report | shape | knob |
|---|---|---|---|
| cursor | cursor, daily_usage | users x days (30-day windows, pages of 500 users) | users, days |
| cursor-events | cursor, usage_events | ~3 events per user and day (30-day windows, pages of 1000) | users, days |
| datadog | datadog | organizations x 6 products x 16 months (historical + estimated) | organizations |
| confluent | confluent | daily line items: (3 x resources + 1) x 360 days, monthly windows | resources |
| claude | claude, activity | users x surfaces for one day (activity report, ~3.3 rows per user) | users |
| openai-codex | openai-codex | users x days, one date range (30-day windows) | users, days |
| claude-console | claude-console, cost | workspaces x ~29 cost lines x days (month windows) | organizations |
| claude-console-usage | claude-console, usage | API keys x models x tiers x days | resources |
| openai | openai, costs | projects x ~8 line items x days (month windows, 7 buckets a page) | resources |
| openai-completions | openai, completions | projects x ~2.7 cells x days | resources |

Every workload pins the clock (:data:`NOW`) on both sides, so lookback limits and estimated/final months do not move
with the calendar. Sizes are approximate: the row count is measured and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from unimeter.sandbox import SandboxConfig, account_fields

NOW = datetime(2026, 11, 26, tzinfo=UTC)
WORKLOADS = (
    "cursor",
    "cursor-events",
    "datadog",
    "confluent",
    "claude",
    "openai-codex",
    "claude-console",
    "claude-console-usage",
    "openai",
    "openai-completions",
)
REPORTS = {
    "cursor-events": ("cursor", "usage_events"),
    "claude-console-usage": ("claude-console", "usage"),
    "openai-completions": ("openai", "completions"),
}
"""Workloads of a report other than the mapping's default: (integration, report_type)."""
CLAUDE_ROWS_PER_USER = 3.3  # measured on the sandbox (seed 0): one user row plus ~2.3 active surfaces
CODEX_ROWS_PER_USER_DAY = 2.0  # measured: the user's row and, for most, one row per model
CURSOR_EVENTS_PER_USER_DAY = 3.1  # 80% active days x 1-6 requests x 1.1 (headless twins)
CONSOLE_COST_LINES = 29  # per workspace and day, measured: 3 models x tiers x 5 token types, web search, code
CONSOLE_USAGE_PER_KEY = 1.8  # per API key and day: 80% active x 1.5 models x ~1.5 tier/context variants
OPENAI_COST_LINES = 8.3  # per project and day: 2 keys x 80% x ~5 lines, storage for a third, plus the scale tier
OPENAI_CELLS = 2.67  # completion results per project and day: 2 keys x 80% x 1.33 models x 1.25 (batch)
DATADOG_ROWS_PER_ORG = 6 * 16
CONFLUENT_DAYS = 360


def integration_of(workload: str) -> str:
    """The integration a workload queries."""
    return REPORTS[workload][0] if workload in REPORTS else workload


INTEGRATIONS = tuple(dict.fromkeys(integration_of(name) for name in WORKLOADS))
"""Every integration a workload covers (all of the built-in mappings)."""


@dataclass(frozen=True)
class Workload:
    """One integration's query (or queries, for one-day-per-call vendors) against one sandbox configuration."""

    integration: str
    size: int
    config: SandboxConfig
    calls: list[dict[str, str]] = field(default_factory=list)
    shape: str = ""
    name: str = ""
    """The workload's name (:data:`WORKLOADS`); the integration's when empty."""

    @property
    def label(self) -> str:
        return self.name or self.integration

    def engine_options(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of ``unimeter.alist_usage`` for this workload's sandbox endpoint (without params)."""
        return {**account_fields(endpoint), "now": NOW}


def _day(offset: int) -> str:
    return (NOW - timedelta(days=offset)).date().isoformat()


def _config(**counts: int) -> SandboxConfig:
    return SandboxConfig(seed=0, now=NOW, **counts)


def _report(name: str, call: dict[str, str]) -> dict[str, str]:
    return {**call, "report_type": REPORTS[name][1]} if name in REPORTS else call


def make_workload(name: str, size: int) -> Workload:
    """The workload of about ``size`` rows named ``name`` (see :data:`WORKLOADS`)."""
    integration = integration_of(name)
    workload = _make(name, size)
    calls = [_report(name, call) for call in workload.calls]
    return Workload(integration, size, workload.config, calls, workload.shape, name)


def _range(days: int) -> dict[str, str]:
    """The ``days`` days ending yesterday."""
    return {"start_date": _day(days), "end_date": _day(1)}


def _make(name: str, size: int) -> Workload:
    if name == "cursor":
        users = max(1, min(1000, int(size**0.5)))
        days = max(1, round(size / users))
        return Workload(name, size, _config(users=users), [_range(days)], f"{users} users x {days} days")
    if name == "cursor-events":
        # Few users over many days: the simulator draws a whole window's events for every page it serves.
        days = max(1, min(365 if size < 50_000 else 1095, round(size / CURSOR_EVENTS_PER_USER_DAY)))
        users = max(1, round(size / (CURSOR_EVENTS_PER_USER_DAY * days)))
        return Workload(name, size, _config(users=users), [_range(days)], f"{users} users x {days} days of events")
    if name == "datadog":
        orgs = max(1, round(size / DATADOG_ROWS_PER_ORG))
        start = (NOW.replace(day=1) - timedelta(days=1)).replace(day=1)
        for _ in range(14):
            start = (start - timedelta(days=1)).replace(day=1)
        return Workload(
            name,
            size,
            _config(organizations=orgs),
            [{"start_date": start.date().isoformat(), "end_date": _day(0)}],
            f"{orgs} orgs x 6 products x 16 months",
        )
    if name == "confluent":
        days = min(CONFLUENT_DAYS, max(1, size // 4))
        resources = max(1, round((size / days - 1) / 3))
        end = NOW - timedelta(days=1)
        return Workload(
            name,
            size,
            _config(resources=resources, organizations=4),
            [{"start_date": (end - timedelta(days=days - 1)).date().isoformat(), "end_date": end.date().isoformat()}],
            f"{resources * 3 + 1} lines/day x {days} days",
        )
    if name == "claude":
        users = max(3, round(size / CLAUDE_ROWS_PER_USER))
        return Workload(
            name,
            size,
            _config(users=users),
            [{"date": _day(4), "report_type": "activity"}],
            f"{users} users x surfaces, 1 day",
        )
    if name == "openai-codex":
        days = max(1, min(85, round(size**0.5 / 10)))
        users = max(3, round(size / (CODEX_ROWS_PER_USER_DAY * days)))
        return Workload(
            name,
            size,
            _config(users=users),
            [{"date": _day(days), "end_date": _day(1)}],
            f"{users} users x {days} days",
        )
    days = 30 if size < 50_000 else 90
    if name == "claude-console":
        workspaces = max(1, round(size / (CONSOLE_COST_LINES * days)))
        config = _config(organizations=workspaces - 1, resources=8 * workspaces)
        return Workload(name, size, config, [_range(days)], f"{workspaces} workspaces x cost lines x {days} days")
    if name == "claude-console-usage":
        keys = max(1, round(size / (CONSOLE_USAGE_PER_KEY * days)))
        config = _config(organizations=max(1, keys // 20), resources=keys)
        return Workload(name, size, config, [_range(days)], f"{keys} API keys x models x {days} days")
    if name == "openai":
        projects = max(1, round(size / (OPENAI_COST_LINES * days)))
        config = _config(resources=projects, users=projects)
        return Workload(name, size, config, [_range(days)], f"{projects} projects x line items x {days} days")
    if name == "openai-completions":
        projects = max(1, round(size / (OPENAI_CELLS * days)))
        config = _config(resources=projects, users=projects)
        return Workload(name, size, config, [_range(days)], f"{projects} projects x cells x {days} days")
    raise ValueError(f"no workload named {name!r} (known: {', '.join(WORKLOADS)})")
