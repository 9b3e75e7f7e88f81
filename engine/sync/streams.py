"""What a sync asks an integration for: its reports, the range of each run, and from where the next run starts.

A **report** is one of the queries an integration answers with different rows: the values of a parameter that
chooses the operation (a parameter with an ``enum`` that the operations' ``when`` expressions read, such as a
``report_type``). An integration without one has a single report. Each report of each account is synced on its own
and keeps its own high-water mark.

The **range** of a run is ``start_date`` .. ``end_date`` (today, UTC, a whole day included): ``start_date`` is
``--since``, else the day of the report's re-fetch point, else (the first time) absent, so the integration's default
range applies. The **re-fetch point** after a run is the earliest instant whose figures the vendor may still revise
(the mapping's ``late_data``): the end of what was read minus the declared lateness, or the start of the earliest
row that is not final yet (``late_data.final_at``, e.g. a month whose bill is final on the 16th of the next), whichever
is earlier. So a period is read again on every run until it is final, and rows upsert by id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ..spec.late_data import final_at, late_data_of
from ..spec.model import IntegrationSpec

START_PARAM = "start_date"
END_PARAM = "end_date"


@dataclass(frozen=True)
class Report:
    """One report of an integration: the parameters that choose it (empty: the integration's only report)."""

    params: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """How the state table and the rows name it: ``report_type=user_cost``, or ``default``."""
        return ",".join(f"{name}={value}" for name, value in self.params) or "default"

    def as_params(self) -> dict[str, str]:
        return dict(self.params)


def report_parameters(spec: IntegrationSpec) -> list[str]:
    """The parameters that choose an operation: an ``enum`` read as ``$params.NAME`` by an operation's ``when``."""
    sources = [op.when.expression.source for op in spec.operations if op.when is not None and op.when.expression]
    return [
        name
        for name, param in spec.params.items()
        if param.enum and any(re.search(rf"\$params\.{re.escape(name)}\b", source) for source in sources)
    ]


def reports_of(spec: IntegrationSpec) -> list[Report]:
    """Every report of the integration, the default one first (several choosing parameters: every combination)."""
    combos: list[tuple[tuple[str, str], ...]] = [()]
    for name in report_parameters(spec):
        param = spec.params[name]
        values = list(param.enum or ())
        default = param.default.literal if param.default is not None and not param.default.is_expression else None
        if default in values:
            values.remove(default)
            values.insert(0, default)
        combos = [(*combo, (name, str(value))) for combo in combos for value in values]
    return [Report(combo) for combo in combos]


def parse_report(spec: IntegrationSpec, text: str) -> Report:
    """``--report VALUE`` or ``--report NAME=VALUE`` as one of the integration's reports; ValueError naming the
    reports it has otherwise."""
    reports = reports_of(spec)
    for report in reports:
        if text == report.key or (len(report.params) == 1 and text == report.params[0][1]):
            return report
    raise ValueError(f"{spec.name} has no report {text!r}; its reports are {', '.join(r.key for r in reports)}")


def day_floor(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)


def range_params(spec: IntegrationSpec, start: datetime | None, now: datetime, back_days: int = 0) -> dict[str, str]:
    """``start_date`` and ``end_date`` of a run: whole UTC days, ``end_date`` today (or ``back_days`` before, for a
    vendor that publishes a day only after it ends), ``start_date`` only when the run has a start."""
    params: dict[str, str] = {}
    if start is None:
        return params
    if START_PARAM in spec.params:
        params[START_PARAM] = min(day_floor(start), day_floor(now) - timedelta(days=back_days)).date().isoformat()
    if END_PARAM in spec.params:
        params[END_PARAM] = (day_floor(now) - timedelta(days=back_days)).date().isoformat()
    return params


def lateness(spec: IntegrationSpec, operations: set[str]) -> timedelta:
    """The longest declared revision window of the operations a run used (zero when none declares one)."""
    names: list[str | None] = [*operations] or [None]
    windows = [late.revised_for for name in names if (late := late_data_of(spec, name)) is not None]
    return max(windows, default=timedelta(0))


def row_final_at(spec: IntegrationSpec, operation: str, period: tuple[datetime, datetime] | None) -> datetime | None:
    """From when the vendor no longer revises a row of ``period`` (None: no period, or no lateness declared)."""
    if period is None:
        return None
    return final_at(spec, period[0], period[1], operation)


@dataclass
class Coverage:
    """What one run of a report read: its windows' span, and the earliest row not final at the run's clock."""

    start: datetime | None = None
    end: datetime | None = None
    earliest_open: datetime | None = None
    operations: set[str] | None = None

    def add_window(self, start: str | None, end: str | None, parse: Any) -> None:
        if start is not None:
            moment = parse(start)
            self.start = moment if self.start is None else min(self.start, moment)
        if end is not None:
            moment = parse(end)
            self.end = moment if self.end is None else max(self.end, moment)

    def add_open_row(self, start: datetime) -> None:
        self.earliest_open = start if self.earliest_open is None else min(self.earliest_open, start)


def refetch_point(spec: IntegrationSpec, coverage: Coverage, now: datetime) -> tuple[datetime, datetime]:
    """``(high_water_mark, refetch_from)`` after a complete run: how far it read (its windows' end, never past now)
    and where the next run starts (that minus the lateness, or the earliest row not final yet)."""
    high_water_mark = min(coverage.end or now, now)
    refetch_from = high_water_mark - lateness(spec, coverage.operations or set())
    if coverage.earliest_open is not None:
        refetch_from = min(refetch_from, coverage.earliest_open)
    return high_water_mark, refetch_from
