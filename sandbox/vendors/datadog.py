"""Datadog Usage Metering cost endpoints: ``GET /api/v2/usage/estimated_cost`` and ``/historical_cost``.

Documented at https://docs.datadoghq.com/api/latest/usage-metering/ (the estimated and historical cost pages).
Both headers ``DD-API-KEY`` and ``DD-APPLICATION-KEY`` are required (403
``{"errors":["Forbidden"]}`` otherwise); every error is ``{"errors": [message]}``. ``view`` is ``summary`` (one
``data[]`` item for the parent organization, the sum of all organizations) or ``sub-org`` (one item per organization
of ``SandboxConfig.organizations``, the first one being the parent). Neither endpoint pages, so ``loop_cursor`` and
``expired_cursor`` answer normally.

- ``estimated_cost``: ``start_month``/``end_month`` (``YYYY-MM``, both inclusive; one item per month and org) or
  ``start_date``/``end_date`` (``YYYY-MM-DD``, both inclusive; one item per day and org, month-to-date cumulative),
  never both; only the current and the previous month (400 for anything earlier). The current month is
  month-to-date up to the simulator's clock; months and days after it are not reported.
- ``historical_cost``: ``start_month`` required, ``end_month`` optional (inclusive); at most 15 months back (400).
  A month is final, and reported, from the 16th of the following month; later months are not reported.

The doc gives no default for ``end_month``/``end_date``: without one, the simulator reports up to the latest month
(or day) the endpoint has. A range reaching past what the endpoint has is cut, not refused.

Every month, organization and product has the charge types ``committed``, ``on_demand`` and ``total`` with
``total = committed + on_demand`` exactly in cents; costs are USD dollars. A month's final figure (historical_cost)
is its estimate plus a late on-demand true-up (usage that reached Datadog after the estimate, up to 3% of it), so a
month read first as an estimate and later as final changes its amounts, not its rows. :meth:`invoice` is the bill
worked out from these numbers: final for a month historical_cost serves, the estimate otherwise.

The clock. Which months each endpoint serves depends on "now". The simulator uses :attr:`DatadogSimulator.clock`
when set (tests pin it to the engine's pinned ``now``) and the real UTC clock otherwise: no request says what time
the client thinks it is, and the sandbox configuration has no clock, so a class attribute is the one place to pin it.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

API_KEY = "dd_api_key_sandbox"
APPLICATION_KEY = "dd_app_key_sandbox"
ESTIMATED_PATH = "/api/v2/usage/estimated_cost"
HISTORICAL_PATH = "/api/v2/usage/historical_cost"
RETENTION_MONTHS = 15
FINAL_ON_DAY = 16
PRODUCTS: dict[str, tuple[int, int]] = {
    # product_name: (largest committed, largest on-demand) monthly cost in cents for one organization
    "infra_host": (250_000, 80_000),
    "apm_host": (180_000, 60_000),
    "logs_indexed_15day": (90_000, 120_000),
    "timeseries": (40_000, 30_000),
    "synthetics_api_tests": (20_000, 15_000),
    "siem": (60_000, 45_000),
}
CHARGE_TYPES = ("committed", "on_demand", "total")


@dataclass(frozen=True)
class _Period:
    """One reported ``date``: a month (``through`` its last reported day) or one day of a month-to-date series."""

    month: date
    day: date
    through: int

    @property
    def stamp(self) -> str:
        return f"{self.day.isoformat()}T00:00:00+00:00"


class DatadogSimulator(VendorSimulator):
    name = "datadog"
    clock: ClassVar[datetime | None] = None
    """The simulator's "now"; ``None`` means the real UTC clock."""

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY, "application_key": APPLICATION_KEY}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """The four months before the current one and the current one: historical and estimated windows."""
        start = _add_months(_month_of(now.date()), -4)
        end = _add_months(_month_of(now.date()), 1) - timedelta(days=1)
        return {"start_date": start.isoformat(), "end_date": end.isoformat()}

    def now(self) -> datetime:
        return self.clock if self.clock is not None else super().now()

    def error(self, status: int, message: str) -> SimResponse:
        return json_response({"errors": [message]}, status)

    def rate_limited(self, retry_after: float) -> SimResponse:
        """Datadog documents no Retry-After, only the X-RateLimit-* headers (Reset = seconds until the reset)."""
        response = self.error(429, "Too many requests")
        response.headers.update(
            {
                "x-ratelimit-limit": "60",
                "x-ratelimit-period": "60",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": f"{retry_after:g}",
                "x-ratelimit-name": "usage_metering",
            }
        )
        return response

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        if request.path not in (ESTIMATED_PATH, HISTORICAL_PATH):
            return self.error(404, "Not found")
        if request.method != "GET":
            return self.error(405, "Method Not Allowed")
        if (request.headers.get("dd-api-key"), request.headers.get("dd-application-key")) != (API_KEY, APPLICATION_KEY):
            return self.error(403, "Forbidden")
        view = request.param("view") or "summary"
        if view not in ("summary", "sub-org"):
            return self.error(400, f"Invalid view {view!r}: expected summary or sub-org")
        if request.param("include_connected_accounts", "false") not in ("true", "false"):
            return self.error(400, "include_connected_accounts must be true or false")
        try:
            periods = (
                self._estimated_periods(request)
                if request.path == ESTIMATED_PATH
                else self._historical_periods(request)
            )
        except _BadRequest as problem:
            return self.error(400, str(problem))
        orgs = range(self.config.organizations) if view == "sub-org" else None
        final = request.path == HISTORICAL_PATH
        return streamed_json('{"data":[', self._items(periods, orgs, final), "]}")

    def _estimated_periods(self, request: SimRequest) -> list[_Period]:
        today = self.now().date()
        earliest = _add_months(_month_of(today), -1)
        start_month, start_date = request.param("start_month"), request.param("start_date")
        if start_month and start_date:
            raise _BadRequest("Either start_month or start_date should be specified, but not both")
        if start_date:
            first = _parse_day(start_date, "start_date")
            end_date = request.param("end_date")
            last = _parse_day(end_date, "end_date") if end_date else max(first, today)
            if first < earliest:
                raise _BadRequest(
                    f"start_date must not be before {earliest.isoformat()}: estimated cost covers "
                    "only the current and the previous month"
                )
            if last < first:
                raise _BadRequest("end_date must not be before start_date")
            days = (min(last, today) - first).days + 1
            return [_Period(_month_of(day), day, day.day) for day in (first + timedelta(n) for n in range(days))]
        if not start_month:
            raise _BadRequest("Either start_month or start_date is required")
        first = _parse_month(start_month, "start_month")
        if first < earliest:
            raise _BadRequest(
                f"start_month must not be before {earliest.isoformat()[:7]}: estimated cost covers "
                "only the current and the previous month"
            )
        end_month = request.param("end_month")
        last = _parse_month(end_month, "end_month") if end_month else max(first, _month_of(today))
        return [
            _Period(month, month, today.day if month == _month_of(today) else _days_in(month))
            for month in _months(first, last, _month_of(today))
        ]

    def _historical_periods(self, request: SimRequest) -> list[_Period]:
        today = self.now().date()
        start_month = request.param("start_month")
        if not start_month:
            raise _BadRequest("start_month is required")
        first = _parse_month(start_month, "start_month")
        earliest = _add_months(_month_of(today), -RETENTION_MONTHS)
        if first < earliest:
            raise _BadRequest(
                f"start_month must not be before {earliest.isoformat()[:7]}: usage data is kept for "
                f"{RETENTION_MONTHS} months"
            )
        final = _add_months(_month_of(today), -1 if today.day >= FINAL_ON_DAY else -2)
        end_month = request.param("end_month")
        last = _parse_month(end_month, "end_month") if end_month else max(first, final)
        return [_Period(month, month, _days_in(month)) for month in _months(first, last, final)]

    def _items(self, periods: list[_Period], orgs: range | None, final: bool) -> Iterator[dict[str, Any]]:
        for period in periods:
            if orgs is None:
                yield self._item(period, 0, self._summary_cents(period, final))
            else:
                for org in orgs:
                    yield self._item(period, org, self._org_cents(org, period, final))

    def _org_cents(self, org: int, period: _Period, final: bool = False) -> dict[str, tuple[int, int]]:
        """(committed, on_demand) cents per product of one organization, month-to-date through ``period.through``;
        ``final`` adds the month's late on-demand true-up."""
        days = _days_in(period.month)
        cents: dict[str, tuple[int, int]] = {}
        for product, (committed_high, on_demand_high) in PRODUCTS.items():
            rng = self.rng(org, period.month.isoformat(), product)
            committed = rng.randint(0, committed_high) if rng.random() < 0.7 else 0
            on_demand = rng.randint(0, on_demand_high)
            true_up = on_demand * rng.randint(0, 300) // 10_000 if final else 0
            cents[product] = (committed * period.through // days, on_demand * period.through // days + true_up)
        return cents

    def _summary_cents(self, period: _Period, final: bool = False) -> dict[str, tuple[int, int]]:
        totals = {product: (0, 0) for product in PRODUCTS}
        for org in range(self.config.organizations):
            for product, (committed, on_demand) in self._org_cents(org, period, final).items():
                total_committed, total_on_demand = totals[product]
                totals[product] = (total_committed + committed, total_on_demand + on_demand)
        return totals

    def _item(self, period: _Period, org: int, cents: dict[str, tuple[int, int]]) -> dict[str, Any]:
        public_id = self._public_id(org)
        charges = []
        for product, (committed, on_demand) in cents.items():
            for charge_type, amount in zip(CHARGE_TYPES, (committed, on_demand, committed + on_demand), strict=True):
                charges.append({"product_name": product, "charge_type": charge_type, "cost": amount / 100})
        total = sum(committed + on_demand for committed, on_demand in cents.values())
        digest = hashlib.sha256(f"{self.config.seed}|{public_id}|{period.stamp}".encode()).hexdigest()
        return {
            "type": "cost_by_org",
            "id": digest,
            "attributes": {
                "org_name": "Sandbox Parent Org" if org == 0 else f"Sandbox Org {org}",
                "public_id": public_id,
                "account_name": "Sandbox Account",
                "account_public_id": self._public_id("account"),
                "region": "us",
                "date": period.stamp,
                "total_cost": total / 100,
                "charges": charges,
            },
        }

    def invoice(self, start: date, end: date) -> Decimal:
        """The bill of every month touching ``[start, end)`` (Datadog bills whole months), all organizations: the
        final figure of a month historical_cost serves, else estimated_cost's month to date; none after today."""
        today = self.now().date()
        final_through = _add_months(_month_of(today), -1 if today.day >= FINAL_ON_DAY else -2)
        cents = 0
        for month in _months(_month_of(start), _month_of(end - timedelta(days=1)), _month_of(today)):
            final = month <= final_through
            through = today.day if month == _month_of(today) else _days_in(month)
            period = _Period(month, month, through)
            for org in range(self.config.organizations):
                cents += sum(
                    committed + on_demand for committed, on_demand in self._org_cents(org, period, final).values()
                )
        return Decimal(cents) / 100

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        return [{"start_date": start.isoformat(), "end_date": (end - timedelta(days=1)).isoformat()}]

    def _public_id(self, key: object) -> str:
        return hashlib.sha256(f"datadog|{self.config.seed}|{key}".encode()).hexdigest()[:16]


class _BadRequest(ValueError):
    """A query Datadog answers with 400."""


def _parse_month(text: str, name: str) -> date:
    """``YYYY-MM``, or a full ISO timestamp (Datadog's own client tests send those), to the 1st of that month."""
    try:
        if len(text) == 7:
            return date.fromisoformat(text + "-01")
        return _month_of(_instant_day(text))
    except ValueError:
        raise _BadRequest(f"{name} must be a month [YYYY-MM], got {text!r}") from None


def _parse_day(text: str, name: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return _instant_day(text)
    except ValueError:
        raise _BadRequest(f"{name} must be a day [YYYY-MM-DD], got {text!r}") from None


def _instant_day(text: str) -> date:
    """The UTC day of an ISO timestamp (naive ones are UTC); ValueError when it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _months(first: date, last: date, latest: date) -> Iterator[date]:
    """The months from ``first`` to ``last``, both inclusive, none after ``latest``; 400 when last < first."""
    if last < first:
        raise _BadRequest("end_month must not be before start_month")
    month = first
    while month <= min(last, latest):
        yield month
        month = _add_months(month, 1)


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]
