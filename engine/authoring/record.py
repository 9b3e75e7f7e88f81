"""``unimeter record``: run one query against the vendor through a recording transport and write a fixture case.

The case (docs/fixtures.md, "Recording a case") holds every exchange in order. Every form of every secret the engine
knows (:func:`unimeter.redaction.account_secrets`: raw, base64, URL-encoded, inside auth headers) is replaced by the
same form of a fake placeholder credential, which ``case.yaml`` then carries, so the recording still replays; any
form left after that is removed outright. Only the auth headers the mapping builds are kept in the recorded
requests. ``expected.json`` is what replaying the written case returns: a draft, marked ``draft: true`` in
``case.yaml``, until a human has checked it against the payloads.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from ..errors import UnimeterError
from ..redaction import MIN_SECRET_LENGTH, REDACTED, account_secrets, redact, secret_forms
from ..run.auth import auth_headers
from ..run.destination import GuardedTransport
from ..run.pipeline import iter_pages
from ..spec.model import IntegrationSpec
from ..spec.scope import Scope
from ..testing.fixtures import FixtureCase, derived_expected

DRAFT_NOTE = "expected.json was recorded, not worked out by hand: check it against the payloads, then drop draft"
KEPT_RESPONSE_HEADERS = ("content-type", "retry-after", "link")
KEPT_RESPONSE_HEADER_PREFIXES = ("x-ratelimit", "ratelimit")


class RecordError(Exception):
    """Recording cannot start or its result cannot be written (the message says why)."""


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Send through ``inner`` and keep each request and response, bodies read whole, in order."""

    inner: httpx.AsyncBaseTransport
    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        kept = httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"],
            content=content,
            request=request,
        )
        self.exchanges.append((request, kept))
        return kept

    async def aclose(self) -> None:
        await self.inner.aclose()


def placeholder_credentials(spec: IntegrationSpec, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The case's credentials: each secret field's value replaced by ``<field>_test_placeholder``."""
    return {
        name: (f"{name}_test_placeholder" if name in spec.secret_fields and value else value)
        for name, value in credentials.items()
    }


def _replacements(
    spec: IntegrationSpec, real: Mapping[str, Any], fake: Mapping[str, Any], context: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(real form, same form of the placeholder) for every secret value and auth header, longest real form first."""
    values: list[tuple[str, str]] = [
        (str(real[name]), str(fake[name])) for name in real if name in spec.secret_fields and real[name]
    ]
    try:
        scope = Scope(context=dict(context))
        real_headers = auth_headers(spec.auth, real, scope)
        fake_headers = auth_headers(spec.auth, fake, scope)
    except UnimeterError:
        real_headers, fake_headers = {}, {}
    for name, header in real_headers.items():
        placeholder = fake_headers.get(name, REDACTED)
        values += [(header, placeholder), (header.split(" ", 1)[-1], placeholder.split(" ", 1)[-1])]
    pairs: dict[str, str] = {}
    for secret, placeholder in values:
        for form, fake_form in zip(secret_forms(secret), secret_forms(placeholder), strict=True):
            if len(form) >= MIN_SECRET_LENGTH and form != fake_form:
                pairs.setdefault(form, fake_form)
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def _substitute(data: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(data, str):
        for secret, placeholder in pairs:
            data = data.replace(secret, placeholder)
        return data
    if isinstance(data, dict):
        return {_substitute(k, pairs): _substitute(v, pairs) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute(v, pairs) for v in data]
    return data


def _body(content: bytes) -> dict[str, Any]:
    if not content:
        return {}
    try:
        return {"body": json.loads(content)}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"text": content.decode("utf-8", "replace")}


def _exchange(request: httpx.Request, response: httpx.Response, auth_names: set[str]) -> dict[str, Any]:
    recorded_request: dict[str, Any] = {"method": request.method, "url": str(request.url)}
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in auth_names}
    if headers:
        recorded_request["headers"] = headers
    request_body = _body(request.content)
    if "body" in request_body:  # replay compares JSON bodies only
        recorded_request["body"] = request_body["body"]
    kept = {
        k.lower(): v
        for k, v in response.headers.items()
        if k.lower() in KEPT_RESPONSE_HEADERS or k.lower().startswith(KEPT_RESPONSE_HEADER_PREFIXES)
    }
    recorded_response: dict[str, Any] = {"status": response.status_code, "headers": kept}
    payload = _body(response.content)
    recorded_response.update(payload or {"text": ""})
    return {"request": recorded_request, "response": recorded_response}


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
NAME_KEYS = re.compile(r"^(first_?name|last_?name|full_?name|display_?name|user_?name|username|name)$", re.I)


class Pseudonyms:
    """Emails and people's names replaced consistently: the same value always gets the same pseudonym."""

    def __init__(self) -> None:
        self.emails: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def email(self, match: re.Match[str]) -> str:
        value = match.group(0)
        return self.emails.setdefault(value, f"person{len(self.emails) + 1}@example.com")

    def scrub(self, data: Any) -> Any:
        if isinstance(data, str):
            return EMAIL.sub(self.email, data)
        if isinstance(data, list):
            return [self.scrub(v) for v in data]
        if not isinstance(data, dict):
            return data
        # A record about a person (it holds an email) has its name fields pseudonymised too.
        personal = any(isinstance(v, str) and EMAIL.search(v) for v in data.values())
        scrubbed: dict[Any, Any] = {}
        for key, value in data.items():
            named = isinstance(key, str) and NAME_KEYS.match(key)
            if personal and named and isinstance(value, str) and not EMAIL.search(value):
                scrubbed[key] = self.names.setdefault(value, f"Person {len(self.names) + 1}")
                continue
            scrubbed[key] = self.scrub(value)
        return scrubbed


@dataclass
class Recording:
    folder: Path
    exchanges: int
    error: str | None


def record_case(
    spec: IntegrationSpec,
    folder: Path,
    *,
    credentials: Mapping[str, Any],
    context: Mapping[str, Any],
    params: Mapping[str, Any],
    now: datetime | None = None,
    scrub_personal: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    keep_base_url: bool = False,
) -> Recording:
    """Run the query live, write ``folder`` (case.yaml, exchanges.json, expected.json) and replay it once.

    A ``base_url`` in ``context`` other than the mapping's own is taken for a stand-in of the vendor: the case is
    written as if recorded from the mapping's base URL (so it replays without allowing the stand-in's host), unless
    ``keep_base_url``."""
    if (folder / "exchanges.json").exists() or (folder / "expected.json").exists():
        raise RecordError(f"{folder} already holds a recorded case; remove it or choose another case name")
    when = now or datetime.now(UTC).replace(microsecond=0)
    recorder = RecordingTransport(transport or GuardedTransport())
    error: UnimeterError | None = None

    async def run() -> None:
        try:
            async for _ in iter_pages(
                spec, credentials=credentials, context=context, params=params, now=when, transport=recorder
            ):
                pass
        finally:
            await recorder.aclose()

    try:
        asyncio.run(run())
    except UnimeterError as raised:
        error = raised
    if not recorder.exchanges:
        detail = f": {error}" if error else ""
        raise RecordError(f"the query sent no request to the vendor, so there is nothing to record{detail}")
    fake = placeholder_credentials(spec, credentials)
    pairs = _replacements(spec, credentials, fake, context)
    try:
        auth_names = {name.lower() for name in auth_headers(spec.auth, fake, Scope(context=dict(context)))}
    except UnimeterError:
        auth_names = set()
    exchanges = [_exchange(request, response, auth_names) for request, response in recorder.exchanges]
    # Placeholders first (the recording must still replay), then anything left of a secret goes outright.
    exchanges = redact(_substitute(exchanges, pairs), account_secrets(spec, credentials, context))
    kept_context = dict(context)
    home = _home_base_url(spec)
    stand_in = str(context.get("base_url") or "").rstrip("/")
    if home and stand_in and stand_in != home and not keep_base_url:
        # Recorded against a stand-in (a local server, a proxy): the case is about the vendor, so it replays as if
        # from the mapping's own base URL, in requests, next-page URLs and Link headers alike.
        exchanges = _substitute(exchanges, [(stand_in, home)])
        del kept_context["base_url"]
    if scrub_personal:
        exchanges = Pseudonyms().scrub(exchanges)
    call: dict[str, Any] = {
        "description": _description(folder),
        "draft": True,
        "note": DRAFT_NOTE,
        "now": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentials": fake,
        "context": redact(kept_context, account_secrets(spec, credentials, context)),
        "params": dict(params),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(yaml.safe_dump(call, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (folder / "exchanges.json").write_text(json.dumps(exchanges, indent=2) + "\n", encoding="utf-8")
    expected = derived_expected(FixtureCase(spec.name, folder.name, folder))
    (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return Recording(folder, len(exchanges), type(error).__name__ if error else None)


def _home_base_url(spec: IntegrationSpec) -> str | None:
    """The base URL a case replays from: the mapping's literal base_url, else the first it allows."""
    if spec.base_url.literal and isinstance(spec.base_url.literal, str):
        return spec.base_url.literal.rstrip("/")
    return spec.allowed_base_urls[0].rstrip("/") if spec.allowed_base_urls else None


def _description(folder: Path) -> str:
    """The scaffolded case's description when there is one (``unimeter init`` writes it), else a generic one."""
    existing = folder / "case.yaml"
    if existing.exists():
        data = yaml.safe_load(existing.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and data.get("description"):
            return str(data["description"])
    return f"Recorded case {folder.name}"
