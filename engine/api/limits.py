"""Bounds on what one call may cost: rows held by one response, total time (and the HTTP body size, enforced by
:class:`unimeter.service.limits.BodySizeLimit`). Each has a sane default and an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError

MAX_BODY_BYTES_ENV = "UNIMETER_MAX_BODY_BYTES"
MAX_ROWS_ENV = "UNIMETER_MAX_RESPONSE_ROWS"
DEADLINE_ENV = "UNIMETER_REQUEST_DEADLINE_SECONDS"
VENDOR_TIMEOUT_ENV = "UNIMETER_VENDOR_TIMEOUT_SECONDS"


@dataclass(frozen=True)
class ServiceLimits:
    """``max_body_bytes`` of a request body; ``max_rows`` one non-stream response may hold (``truto_ignore_limit``
    past it is an error pointing to ``stream`` or ``limit``); ``deadline_seconds`` for a whole request;
    ``vendor_timeout_seconds`` for one vendor answer (connect, then each read), after which it is retried."""

    max_body_bytes: int = 1_048_576
    max_rows: int = 50_000
    deadline_seconds: float = 120.0
    vendor_timeout_seconds: float = 60.0


def _number(name: str, default: float, *, integer: bool) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a {'whole ' if integer else ''}number", field=name) from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive", field=name)
    return value


def limits_from_env() -> ServiceLimits:
    defaults = ServiceLimits()
    return ServiceLimits(
        max_body_bytes=_number(MAX_BODY_BYTES_ENV, defaults.max_body_bytes, integer=True),
        max_rows=_number(MAX_ROWS_ENV, defaults.max_rows, integer=True),
        deadline_seconds=_number(DEADLINE_ENV, defaults.deadline_seconds, integer=False),
        vendor_timeout_seconds=_number(VENDOR_TIMEOUT_ENV, defaults.vendor_timeout_seconds, integer=False),
    )
