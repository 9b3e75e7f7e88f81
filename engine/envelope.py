"""The one JSON error envelope every failure is reported in, by the service and the CLI alike.

``{"status", "error", "message", "details"}`` plus, for vendor failures, ``is_remote_error``, the vendor's status and
message. Never a traceback, never a secret (callers pass secret values to :func:`redact`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .errors import UnimeterError

REDACTED = "[REDACTED]"


def error_envelope(error: UnimeterError) -> dict[str, Any]:
    details = {k: v for k, v in error.details.items() if k not in {"status", "vendor_message"}}
    envelope: dict[str, Any] = {"status": error.http_status, "error": error.code, "message": error.message,
                                "details": details}
    if error.code.startswith("remote_"):
        envelope["is_remote_error"] = True
        envelope["remote_status"] = getattr(error, "status", None)
        envelope["remote_message"] = getattr(error, "vendor_message", None)
    return envelope


def redact(data: Any, secrets: Iterable[str]) -> Any:
    """``data`` with every occurrence of a secret value replaced, however deeply it is nested."""
    values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not values:
        return data
    text = json.dumps(data)
    for value in values:
        text = text.replace(json.dumps(value)[1:-1], REDACTED)
    return json.loads(text)
