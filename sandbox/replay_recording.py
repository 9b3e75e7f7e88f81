"""What a replay serves from: the recorded cases of one integration, each exchange indexed for matching, and how an
incoming request compares with a recorded one (method, path, query as a multiset, JSON body, recorded headers)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from unimeter.testing.fixtures import FixtureCase, discover_cases

from .messages import SimRequest


@dataclass(frozen=True)
class ReplayCase:
    """One recorded case as the replay serves it: the call that produced it and its exchanges."""

    name: str
    description: str
    now: str | None
    params: dict[str, Any]
    credentials: dict[str, Any]
    context: dict[str, Any]
    expects_error: bool
    exchanges: tuple[dict[str, Any], ...]

    @property
    def clean(self) -> bool:
        """Every exchange answered successfully (no retried 429 or 5xx, no vendor error)."""
        return all(status_of(exchange["response"]) < 400 for exchange in self.exchanges)

    def summary(self) -> dict[str, Any]:
        """What a caller needs to ask for this case's requests: the pinned clock, the params and the account."""
        return {
            "name": self.name,
            "description": self.description,
            "now": self.now,
            "params": self.params,
            "credentials": self.credentials,
            "context": self.context,
            "expects": "error" if self.expects_error else "result",
        }


@dataclass(frozen=True)
class Recorded:
    """One recorded exchange, its request parsed for matching (the path already below the vendor's base URL)."""

    case: ReplayCase
    position: int
    method: str
    path: str
    query: Counter[tuple[str, str]]
    has_body: bool
    body: Any
    headers: dict[str, str]
    response: dict[str, Any]

    @property
    def status(self) -> int:
        return status_of(self.response)

    def describe(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in sorted(self.query.elements()))
        body = f" body={json.dumps(self.body, sort_keys=True)}" if self.has_body else ""
        return f"{self.method} {self.path}" + (f"?{query}" if query else "") + body


@dataclass
class Incoming:
    """A request to the replay, parsed like a recorded one."""

    method: str
    path: str
    query: Counter[tuple[str, str]]
    body: Any
    body_is_json: bool
    headers: dict[str, str]


def status_of(response: dict[str, Any]) -> int:
    return int(response.get("status", 200))


def _plain(value: Any) -> Any:
    """YAML values as JSON gives them (a date or timestamp YAML parsed becomes its text)."""
    return json.loads(json.dumps(value, default=str))


def load_cases(integration: str) -> list[ReplayCase]:
    """Every recorded case of ``integration`` (from ``fixtures/`` beside its mappings folder), sorted by name."""
    return [_replay_case(case) for case in discover_cases([integration])]


def _replay_case(case: FixtureCase) -> ReplayCase:
    call = case.call()
    expected_file = case.path / "expected.json"
    expects_error = expected_file.exists() and "error" in case.expected()
    now = call.get("now")
    return ReplayCase(
        name=case.name,
        description=str(call.get("description") or ""),
        now=str(_plain(now)) if now else None,
        params=_plain(call.get("params") or {}),
        credentials=_plain(call.get("credentials") or {}),
        context={k: v for k, v in _plain(call.get("context") or {}).items() if k != "base_url"},
        expects_error=expects_error,
        exchanges=tuple(case.exchanges()),
    )


def recorded_exchange(case: ReplayCase, position: int, exchange: dict[str, Any], path: str) -> Recorded:
    """Exchange ``position`` of ``case``, its recorded URL's query and any ``query`` mapping counted as a multiset."""
    request = exchange["request"]
    query: Counter[tuple[str, str]] = Counter(parse_qsl(urlsplit(str(request["url"])).query, keep_blank_values=True))
    for name, value in (request.get("query") or {}).items():
        query[(name, str(value))] += 1
    return Recorded(
        case=case,
        position=position,
        method=str(request.get("method", "GET")).upper(),
        path=path,
        query=query,
        has_body="body" in request,
        body=request.get("body"),
        headers={str(k).lower(): str(v) for k, v in (request.get("headers") or {}).items()},
        response=exchange["response"],
    )


def incoming_request(request: SimRequest) -> Incoming:
    body: Any = None
    is_json = True
    if request.body:
        try:
            body = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            is_json = False
    return Incoming(
        method=request.method.upper(),
        path=unquote(request.path or "/"),
        query=Counter(parse_qsl(request.query_string, keep_blank_values=True)),
        body=body,
        body_is_json=is_json,
        headers=request.headers,
    )


def same_request(recorded: Recorded, incoming: Incoming) -> bool:
    """Method, path, query (order free) and, when one was recorded, the JSON body are equal."""
    if recorded.method != incoming.method or recorded.path != incoming.path or recorded.query != incoming.query:
        return False
    return not recorded.has_body or (incoming.body_is_json and incoming.body == recorded.body)


def differing_header(recorded: Recorded, incoming: Incoming) -> str | None:
    """The first header the recording lists that the request lacks or carries with another value."""
    for name, value in recorded.headers.items():
        if incoming.headers.get(name) != value:
            return name
    return None
