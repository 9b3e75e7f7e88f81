"""The dashboard's filters, read from a request's query string: period, granularity, vendors, currency.

The environment is not among them: it is the API token's, so a token sees only its environment's rows whatever the
page asks for. Every bad value is an ``invalid_parameter`` error naming the parameter and what it accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..errors import InvalidParameterError

GRANULARITIES = ("day", "month")
DEFAULT_DAYS = 30
"""The period when none is asked for: the last 30 UTC days, today included."""
MAX_DAYS = 3660
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
"""Days a filter may name: far enough from the calendar's ends that a period's edges can always be computed."""
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Filters:
    """What the page shows: rows of ``environment`` whose period starts on a UTC day in ``[start, end]``."""

    environment: str
    start: date
    end: date
    integrations: tuple[str, ...] = ()
    granularity: str = "day"
    currency: str | None = None
    """The currency the charts show (totals show every currency); ``None``: the one with the largest bill."""

    @property
    def start_instant(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def after_instant(self) -> datetime:
        """The first instant after the period: midnight UTC after ``end``."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    def to_dict(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "integrations": list(self.integrations),
            "granularity": self.granularity,
            "currency": self.currency,
        }


def _day(text: str, parameter: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError(
            f"{parameter} must be a day, YYYY-MM-DD (got {text[:40]!r})", parameter=parameter
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidParameterError(
            f"{parameter} must be a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()} (got {text[:40]!r})",
            parameter=parameter,
        )
    return day


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """Every value of a repeatable parameter, comma-separated lists split (``integration=a,b`` or repeated)."""
    return [part.strip() for value in params.get(name, ()) for part in value.split(",") if part.strip()]


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name, ())
    if len(values) > 1:
        raise InvalidParameterError(f"{name} is given {len(values)} times; give it once", parameter=name)
    return values[0] if values else None


def parse_filters(params: Mapping[str, Sequence[str]], environment: str, today: date) -> Filters:
    """The filters of a query string (``from``, ``to``, ``integration``, ``granularity``, ``currency``)."""
    known = {"from", "to", "integration", "granularity", "currency", "offset", "limit"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidParameterError(
            f"unknown parameter {unknown[0]!r}; the dashboard takes {', '.join(sorted(known))}", parameter=unknown[0]
        )
    end_text, start_text = _one(params, "to"), _one(params, "from")
    end = _day(end_text, "to") if end_text else today
    start = _day(start_text, "from") if start_text else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidParameterError(
            f"from ({start.isoformat()}) is after to ({end.isoformat()}): the period is empty", parameter="from"
        )
    if (end - start).days >= MAX_DAYS:
        raise InvalidParameterError(f"the period may span at most {MAX_DAYS} days", parameter="from")
    granularity = _one(params, "granularity") or "day"
    if granularity not in GRANULARITIES:
        raise InvalidParameterError(
            f"granularity must be one of {', '.join(GRANULARITIES)} (got {granularity[:40]!r})",
            parameter="granularity",
        )
    integrations = _values(params, "integration")
    for name in integrations:
        if not _NAME.match(name):
            raise InvalidParameterError(
                f"integration {name[:40]!r} is not an integration name", parameter="integration"
            )
    currency = _one(params, "currency")
    if currency is not None and not _CURRENCY.match(currency):
        raise InvalidParameterError(
            f"currency must be an ISO 4217 code such as USD (got {currency[:40]!r})", parameter="currency"
        )
    return Filters(
        environment=environment,
        start=start,
        end=end,
        integrations=tuple(dict.fromkeys(integrations)),
        granularity=granularity,
        currency=currency,
    )


def parse_page(params: Mapping[str, Sequence[str]], *, max_limit: int) -> tuple[int, int]:
    """``offset`` and ``limit`` of the table view (defaults 0 and 100)."""
    numbers = []
    for name, default, lowest, highest in (("offset", 0, 0, 10**9), ("limit", 100, 1, max_limit)):
        text = _one(params, name)
        if text is None:
            numbers.append(default)
            continue
        if not text.isdigit() or not lowest <= int(text) <= highest:
            raise InvalidParameterError(
                f"{name} must be a whole number from {lowest} to {highest} (got {text[:40]!r})", parameter=name
            )
        numbers.append(int(text))
    return numbers[0], numbers[1]
