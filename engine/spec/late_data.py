"""When vendor data stops changing: a mapping's ``late_data`` worked out for one period.

Vendors revise what they reported for a while (for up to some hours after a day, or until a date in the next
month): a row fetched before then may still change, keeping its id. A sync uses :func:`final_at` to know which
periods to fetch again; a caller uses :func:`is_final` to tell a settled figure from a provisional one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import MappingError
from .functions import format_instant, parse_instant
from .model import IntegrationSpec, LateDataSpec

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours and minutes (``P3D``, ``PT72H``, ``P1DT12H``) as a timedelta."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration of days, hours and minutes (e.g. P3D, PT72H)")
    days, hours, minutes = (int(part) if part else 0 for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def late_data_of(spec: IntegrationSpec, operation: str | None = None) -> LateDataSpec | None:
    """The revision window of ``operation`` (its own, else the integration's); None when the mapping declares none."""
    for candidate in spec.operations:
        if candidate.name == operation and candidate.late_data is not None:
            return candidate.late_data
    return spec.late_data


def final_at(spec: IntegrationSpec, start: datetime, end: datetime, operation: str | None = None) -> datetime | None:
    """The instant from which the vendor no longer revises the period ``[start, end)``; None: not declared."""
    late = late_data_of(spec, operation)
    if late is None:
        return None
    if late.final_after is None:
        return end + late.revised_for
    value = late.final_after.evaluate({"start": format_instant(start), "end": format_instant(end)})
    try:
        return parse_instant(value)
    except (TypeError, ValueError):
        raise MappingError(
            f"{spec.file_name}: late_data.final_after must give an RFC 3339 instant, got {value!r}"
        ) from None


def is_final(
    spec: IntegrationSpec,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    operation: str | None = None,
) -> bool | None:
    """Whether the vendor's figures for ``[start, end)`` are settled at ``now``; None when the mapping does not say."""
    moment = final_at(spec, start, end, operation)
    if moment is None:
        return None
    return (now or datetime.now(UTC)) >= moment
