"""The one place that knows what a secret looks like and removes it from anything unimeter shows.

A vendor may echo a key back in any form it received it: raw, inside ``Basic base64(user:password)`` (padded or
not), after ``Bearer``, or URL-encoded in a URL. :func:`account_secrets` lists every such form of an account's
secrets, and :func:`redact` removes them from any JSON-like value (keys included). Every output path calls these:
errors (:meth:`UnimeterError.redact`), debug and raw bodies, stream error lines, logs and recorded fixtures.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

if TYPE_CHECKING:
    from .spec.model import IntegrationSpec

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
"""Shorter values are not treated as secrets: replacing every "a" would destroy the output and protect nothing."""

SENSITIVE_HEADER_WORDS = ("authorization", "cookie", "key", "token", "secret", "password")


def secret_forms(value: str) -> list[str]:
    """``value`` in every encoding it may travel in: raw, URL-encoded, base64 (padded or not).

    A value that is itself base64 (the credential part of ``Basic ...``) is often echoed without its padding.
    """
    forms = [value, value.rstrip("="), quote(value, safe=""), quote_plus(value, safe="")]
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    forms += [encoded, encoded.rstrip("=")]
    return forms


def account_secrets(
    spec: IntegrationSpec, credentials: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Every form of an account's secret credentials, including the auth headers built from them."""
    from .errors import UnimeterError
    from .run.auth import auth_headers
    from .spec.scope import Scope

    values = [str(value) for name, value in credentials.items() if name in spec.secret_fields and value]
    try:
        headers = auth_headers(spec.auth, credentials, Scope(context=dict(context or {})))
    except UnimeterError:
        headers = {}
    for header in headers.values():
        # "Basic <base64>" or "Bearer <token>": the whole value and the credential part both count.
        values += [header, header.split(" ", 1)[-1]]
    forms: set[str] = set()
    for value in values:
        forms.update(secret_forms(value))
    return _longest_first(forms)


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    # Longest first: a secret that contains another must be replaced whole, not around the shorter one.
    return tuple(sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by :data:`REDACTED`."""
    for secret in _longest_first(secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(data: Any, secrets: Iterable[str]) -> Any:
    """``data`` (JSON-like: dicts, lists, strings) with every secret replaced, however deeply nested."""
    values = _longest_first(secrets)
    if not values:
        return data
    return _scrub(data, values)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


def redact_headers(headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> dict[str, str]:
    """Request or response headers to show: credential-bearing headers masked whole, secrets removed elsewhere."""
    shown: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        sensitive = any(word in lowered for word in SENSITIVE_HEADER_WORDS)
        shown[name] = REDACTED if sensitive else redact_text(value, secrets)
    return shown


def redact_url(url: str) -> str:
    """``url`` with any password replaced, for messages and reprs (database URLs: ``postgresql://u:pw@h/db``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
