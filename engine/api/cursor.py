"""``limit`` and ``next_cursor``: cut a query's rows into responses and continue exactly where one stopped.

The cursor is opaque and signed (HMAC-SHA256): it carries a :class:`ResumePoint` and is bound to the account and the
query, so a tampered cursor, or one from another account or query, is rejected as a 400. To know whether anything is
left, :mod:`unimeter.api.list_usage` reads one row past the limit, so ``next_cursor`` is null exactly when nothing
more exists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InvalidCursorError
from ..resources import data_dir
from ..run.pipeline import ResumePoint

CURSOR_VERSION = 1


def query_binding(
    account_id: str, integration: str, params: Mapping[str, Any], remote_query: Mapping[str, Any] | None
) -> str:
    """A digest of everything a cursor must not outlive: the account and the query (not ``limit``/``next_cursor``)."""
    canonical = json.dumps(
        [account_id, integration, dict(params), dict(remote_query or {})], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sign(payload: bytes, key: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode().rstrip("=")


def encode_cursor(point: ResumePoint, *, key: bytes, binding: str) -> str:
    payload = json.dumps(
        {"v": CURSOR_VERSION, "b": binding, "p": asdict(point)}, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload, key)}"


def decode_cursor(token: str, *, key: bytes, binding: str) -> ResumePoint:
    """The resume point of a cursor this service issued for this account and query; else InvalidCursorError."""
    body, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise InvalidCursorError(
            "next_cursor is not a cursor issued by this service", parameter="next_cursor"
        ) from None
    # compare bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a mismatch)
    if not signature or not hmac.compare_digest(signature.encode("utf-8"), _sign(payload, key).encode("utf-8")):
        raise InvalidCursorError("next_cursor is invalid or was tampered with", parameter="next_cursor")
    data = json.loads(payload)
    if data.get("v") != CURSOR_VERSION or data.get("b") != binding:
        raise InvalidCursorError(
            "next_cursor belongs to another account or query; repeat the query without it", parameter="next_cursor"
        )
    point = data["p"]
    return ResumePoint(**{**point, "seen": tuple(point.get("seen", ()))})


CURSOR_KEY_ENV = "UNIMETER_CURSOR_KEY"


def load_cursor_key(path: Path | None = None) -> bytes:
    """The key that signs ``next_cursor``: ``UNIMETER_CURSOR_KEY`` (share it between instances), else a key file
    created with mode 0600 beside the default database."""
    from_env = os.environ.get(CURSOR_KEY_ENV, "")
    if from_env:
        return hashlib.sha256(from_env.encode("utf-8")).digest()
    path = path or data_dir() / "cursor.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(32))
    return path.read_bytes()
