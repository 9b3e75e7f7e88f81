"""The functions unimeter adds to JSONata, so that mappings never need Python.

Each is pure and deterministic. They exist because JSONata has no exact decimal arithmetic (money must not drift),
no calendar arithmetic (vendors page by day and month) and no hash (row ids must be stable).

| function | returns |
|---|---|
| ``$money(v)`` | a decimal string or number as an exact JSON number (``"412.80"`` -> ``412.8``) |
| ``$cents(v)`` | cents as exact major units (``"41280.000000"`` -> ``412.8``) |
| ``$decimalAdd(a, b, ...)``, ``$decimalSub(a, b)``, ``$decimalMul(a, b)`` | exact decimal arithmetic |
| ``$sha256(s)`` | hex SHA-256 of a string |
| ``$addDays(t, n)``, ``$addMonths(t, n)`` | t moved by n days / calendar months, RFC 3339 UTC |
| ``$startOfDay(t)``, ``$startOfMonth(t)`` | start of t's UTC day / month, RFC 3339 UTC |
| ``$toInstant(t)`` | a date or RFC 3339 date-time as ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` |
| ``$isDate(t)`` | whether t is a plain ``YYYY-MM-DD`` |
| ``$formatDate(t, fmt)`` | ``"date"``: ``YYYY-MM-DD``; ``"month"``: ``YYYY-MM``; ``"ms"``/``"s"``: epoch |

Undefined or null input gives null (jsonatapy host functions cannot return undefined); the engine drops nulls from
every row and request, so ``$cents(record.missing)`` leaves the field out (absent stays absent).

Numbers travel through jsonatapy as 64-bit floats: integers above 2**53 lose precision (no vendor amount comes near).
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")


def parse_instant(value: Any) -> datetime:
    """Parse a date or an RFC 3339 date-time into an aware UTC datetime; raise ValueError otherwise."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a date or RFC 3339 date-time string, got {value!r}")
    text = value.strip()
    if _DATE_RE.match(text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    if not _DATETIME_RE.match(text):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an RFC 3339 date-time")
    parsed = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    return parsed.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; milliseconds only when the instant has them."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar month arithmetic; the day is clamped to the target month's length."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def to_decimal(value: Any) -> Decimal:
    """Exact decimal from a number or decimal string; a float goes through its shortest repr, not its binary value."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number or decimal string, got {value!r}")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not result.is_finite():
            raise ValueError(f"{value!r} is not a finite decimal number")
        return result
    raise ValueError(f"expected a number or decimal string, got {value!r}")


def decimal_to_json(value: Decimal) -> int | float:
    """A JSON number whose shortest representation is the exact decimal (integers stay integers)."""
    if abs(value) >= Decimal(2) ** 63:
        raise ValueError(f"{value} is too large to carry as a JSON number here (at most 2**63)")
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return int(normalized)
    return float(normalized)


def _nullable(func: Callable[..., Any]) -> Callable[..., Any]:
    """Null in, null out; results are memoised, because a page repeats the same days and amounts many times over."""
    cached = functools.lru_cache(maxsize=8192)(func)

    def wrapper(*args: Any) -> Any:
        if not args or args[0] is None:
            return None
        try:
            return cached(*args)
        except TypeError:  # an unhashable argument (array, object): compute without the cache
            return func(*args)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@_nullable
def _money(value: Any) -> int | float:
    return decimal_to_json(to_decimal(value))


@_nullable
def _cents(value: Any) -> int | float:
    return decimal_to_json(to_decimal(value) / 100)


def _decimal_add(*values: Any) -> int | float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return decimal_to_json(sum((to_decimal(v) for v in present), Decimal(0)))


@_nullable
def _decimal_sub(a: Any, b: Any = None) -> int | float:
    return decimal_to_json(to_decimal(a) - to_decimal(b if b is not None else 0))


@_nullable
def _decimal_mul(a: Any, b: Any = None) -> int | float | None:
    if b is None:
        return None
    return decimal_to_json(to_decimal(a) * to_decimal(b))


@_nullable
def _sha256(text: Any) -> str:
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()


@_nullable
def _digest(value: Any) -> str:
    """16 hex digits of the SHA-256 of ``value`` as canonical JSON (keys sorted, no spaces): the same data gives the
    same digest whatever the order of its keys, so a row id can tell apart two records equal in every dimension."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@_nullable
def _add_days(moment: Any, days: Any = 0) -> str:
    return format_instant(parse_instant(moment) + timedelta(days=float(days)))


@_nullable
def _add_months(moment: Any, months: Any = 0) -> str:
    return format_instant(add_months(parse_instant(moment), int(months)))


@_nullable
def _start_of_day(moment: Any) -> str:
    return format_instant(parse_instant(moment).replace(hour=0, minute=0, second=0, microsecond=0))


@_nullable
def _start_of_month(moment: Any) -> str:
    return format_instant(parse_instant(moment).replace(day=1, hour=0, minute=0, second=0, microsecond=0))


@_nullable
def _to_instant(moment: Any) -> str:
    return format_instant(parse_instant(moment))


def _is_date(value: Any = None) -> bool:
    return isinstance(value, str) and bool(_DATE_RE.match(value.strip()))


@_nullable
def _format_date(moment: Any, fmt: Any = "date") -> str | int:
    parsed = parse_instant(moment)
    if fmt == "date":
        return parsed.strftime("%Y-%m-%d")
    if fmt == "month":
        return parsed.strftime("%Y-%m")
    epoch_ms = int(parsed.timestamp()) * 1000 + parsed.microsecond // 1000
    if fmt == "ms":
        return epoch_ms
    if fmt == "s":
        return epoch_ms // 1000
    raise ValueError(f'$formatDate: unknown format {fmt!r}; use "date", "month", "ms" or "s"')


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "money": _money,
    "cents": _cents,
    "decimalAdd": _decimal_add,
    "decimalSub": _decimal_sub,
    "decimalMul": _decimal_mul,
    "sha256": _sha256,
    "digest": _digest,
    "addDays": _add_days,
    "addMonths": _add_months,
    "startOfDay": _start_of_day,
    "startOfMonth": _start_of_month,
    "toInstant": _to_instant,
    "isDate": _is_date,
    "formatDate": _format_date,
}
"""Name (as called from JSONata, without ``$``) to implementation."""
