"""Split a requested range into the windows a vendor accepts (at most N days, or calendar months).

A table from partition kind to splitter, as jsonschema maps keywords to functions. Windows are half-open
``[start, end)`` in UTC and come out in order; the last one is clipped to the requested end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import MappingError, QueryCheckError
from ..spec.functions import add_months, format_instant, parse_instant
from ..spec.model import PartitionSpec
from ..spec.scope import Scope

MAX_WINDOWS = 10_000


@dataclass(frozen=True)
class PartitionWindow:
    """One window of the requested range, as expressions see it in ``$window``."""

    start: str | None
    end: str | None
    index: int = 0

    def as_binding(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "index": self.index}


def _days(start: datetime, end: datetime, size: int) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        following = min(cursor + timedelta(days=size), end)
        yield cursor, following
        cursor = following


def _months(start: datetime, end: datetime, size: int) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        first_of_month = cursor.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = min(add_months(first_of_month, size), end)
        yield cursor, following
        cursor = following


SPLITTERS: dict[str, Callable[[datetime, datetime, int], Iterator[tuple[datetime, datetime]]]] = {
    "days": _days,
    "months": _months,
}


def plan_windows(partition: PartitionSpec, scope: Scope) -> list[PartitionWindow]:
    """The windows to run, in order. An empty or inverted range is a query error, not an empty result."""
    start_raw = partition.start.evaluate(None, scope) if partition.start else None
    end_raw = partition.end.evaluate(None, scope) if partition.end else None
    if partition.kind == "none":
        return [PartitionWindow(_normalise(start_raw), _normalise(end_raw), 0)]
    start, end = parse_instant(start_raw), parse_instant(end_raw)
    if start >= end:
        raise QueryCheckError(
            f"the requested range is empty: start {format_instant(start)} is not before end {format_instant(end)}"
        )
    windows = []
    size = _size(partition, scope)
    for index, (window_start, window_end) in enumerate(SPLITTERS[partition.kind](start, end, size)):
        if index >= MAX_WINDOWS:
            raise QueryCheckError(f"the requested range needs more than {MAX_WINDOWS} vendor windows")
        windows.append(PartitionWindow(format_instant(window_start), format_instant(window_end), index))
    return windows


def _size(partition: PartitionSpec, scope: Scope) -> int:
    """The window size: the declared integer, or what its expression gives for this query (a whole number >= 1)."""
    if isinstance(partition.size, int):
        return partition.size
    value = partition.size.evaluate(None, scope)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or int(value) != value:
        raise MappingError(
            f"partition.size must evaluate to a whole number of at least 1, got {value!r}", key_path="partition.size"
        )
    return int(value)


def _normalise(value: Any) -> str | None:
    return format_instant(parse_instant(value)) if value is not None else None
