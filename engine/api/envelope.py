"""The one JSON error envelope every failure is reported in, by the service and the CLI alike.

``{"status", "error", "message", "details"}`` plus, for vendor failures, ``is_remote_error``, the vendor's status and
message. Never a traceback, never a secret (callers redact with :mod:`unimeter.redaction`).
"""

from __future__ import annotations

from typing import Any

from ..errors import UnimeterError


def error_envelope(error: UnimeterError) -> dict[str, Any]:
    details = {k: v for k, v in error.details.items() if k not in {"status", "vendor_message"}}
    envelope: dict[str, Any] = {
        "status": error.http_status,
        "error": error.code,
        "message": error.message,
        "details": details,
    }
    if error.code.startswith("remote_"):
        envelope["is_remote_error"] = True
        envelope["remote_status"] = getattr(error, "status", None)
        envelope["remote_message"] = getattr(error, "vendor_message", None)
    if error.debug is not None:
        envelope["debug"] = error.debug
    return envelope


def internal_error() -> dict[str, Any]:
    """The envelope of a failure unimeter did not foresee: no detail, which would be a traceback's."""
    return {"status": 500, "error": "internal_error", "message": "internal error; see the service log", "details": {}}
