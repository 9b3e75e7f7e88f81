"""When a token ends: an RFC 3339 instant (``2027-01-01T00:00:00Z``) or a duration from now (``90d``, ``12h``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import InvalidParameterError

_DURATION = re.compile(r"(\d{1,6})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_expiry(text: str, *, field: str, now: datetime | None = None) -> datetime:
    """``text`` as an aware UTC instant; InvalidParameterError naming ``field`` when it is neither form."""
    text = text.strip()
    duration = _DURATION.fullmatch(text)
    if duration:
        amount, unit = duration.groups()
        return (now or datetime.now(UTC)) + timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidParameterError(
            f"{field} {text!r} is neither an RFC 3339 instant with a time zone (2027-01-01T00:00:00Z) nor a duration "
            "(90d, 12h, 30m)",
            parameter=field,
        )
    return moment.astimezone(UTC)
