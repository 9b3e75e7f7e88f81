"""The replay's answer to a request it has no recording of: a 404 that says which recorded requests come closest and
what differs, so an author sees at once that it is the clock (other dates), a param, or a page.

Values of query parameters and body keys that carry a credential in the recording (an API key in the query) are
never shown, neither the recorded placeholder nor what the request sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .messages import SimResponse, json_response
from .replay_recording import Incoming, Recorded

CLOSEST = 3
HIDDEN = "<credential>"


def not_recorded(
    integration: str,
    recorded: Sequence[Recorded],
    incoming: Incoming,
    rank: Callable[[Recorded], Any],
    secrets: set[str],
) -> SimResponse:
    """The 404: the message (what the mapping's error message reads, in the common shapes) and ``closest``, each with
    its case, the case's ``now`` and params, the recorded request and what differs."""
    hidden = _credential_keys(recorded, secrets)
    shown = f"{incoming.method} {incoming.path}" + _query_text(incoming.query.elements(), hidden)
    scored = sorted(recorded, key=lambda r: (_distance(r, incoming), rank(r)))
    closest: list[dict[str, Any]] = []
    for candidate in scored:
        if len(closest) >= CLOSEST:
            break
        request = _describe(candidate, hidden)
        if any(c["request"] == request for c in closest):
            continue
        closest.append(
            {
                "case": candidate.case.name,
                "now": candidate.case.now,
                "params": candidate.case.params,
                "request": request,
                "differs": _differences(candidate, incoming, hidden),
            }
        )
    message = (
        f"replay sandbox: no recorded exchange of {integration} matches {shown}; the closest differ in "
        + "; ".join(f"{c['case']}: {', '.join(c['differs'])}" for c in closest)
        + " (dates usually come from the clock: pass the case's now)"
    )
    body = {"error": {"message": message, "type": "not_recorded"}, "message": message, "closest": closest}
    return json_response(body, 404)


def _credential_keys(recorded: Sequence[Recorded], secrets: set[str]) -> set[str]:
    """Query names and body keys whose recorded value holds a credential of some case."""
    keys: set[str] = set()
    for exchange in recorded:
        for name, value in exchange.query:
            if any(secret in value for secret in secrets):
                keys.add(name)
        if isinstance(exchange.body, dict):
            for key, value in exchange.body.items():
                if any(secret in json.dumps(value) for secret in secrets):
                    keys.add(key)
    return keys


def _shown(key: str, value: Any, hidden: set[str]) -> str:
    return HIDDEN if key in hidden else value if isinstance(value, str) else json.dumps(value)


def _query_text(items: Any, hidden: set[str]) -> str:
    text = "&".join(f"{name}={_shown(name, value, hidden)}" for name, value in sorted(items))
    return f"?{text}" if text else ""


def _describe(recorded: Recorded, hidden: set[str]) -> str:
    body = ""
    if recorded.has_body:
        shown = (
            {k: HIDDEN if k in hidden else v for k, v in recorded.body.items()}
            if isinstance(recorded.body, dict)
            else recorded.body
        )
        body = f" body={json.dumps(shown, sort_keys=True)}"
    return f"{recorded.method} {recorded.path}" + _query_text(recorded.query.elements(), hidden) + body


def _distance(recorded: Recorded, incoming: Incoming) -> tuple[int, int]:
    """(method and path differ, query items and body keys that differ): smaller is closer."""
    query = sum(((recorded.query - incoming.query) + (incoming.query - recorded.query)).values())
    body = 0
    if recorded.has_body:
        want = recorded.body if isinstance(recorded.body, dict) else {"": recorded.body}
        got = incoming.body if isinstance(incoming.body, dict) else {"": incoming.body}
        body = sum(1 for key in set(want) | set(got) if want.get(key) != got.get(key))
    return (int(recorded.method != incoming.method) + int(recorded.path != incoming.path), query + body)


def _differences(recorded: Recorded, incoming: Incoming, hidden: set[str]) -> list[str]:
    found: list[str] = []
    if recorded.method != incoming.method:
        found.append(f"method {incoming.method} (recorded {recorded.method})")
    if recorded.path != incoming.path:
        found.append(f"path {incoming.path} (recorded {recorded.path})")
    for name in sorted({n for n, _ in recorded.query} | {n for n, _ in incoming.query}):
        want = sorted(v for n, v in recorded.query.elements() if n == name)
        got = sorted(v for n, v in incoming.query.elements() if n == name)
        if want != got:
            if name in hidden:
                found.append(f"query {name} (a credential; values not shown)")
                continue
            found.append(f"query {name}={','.join(got) or '<absent>'} (recorded {','.join(want) or '<absent>'})")
    if recorded.has_body:
        want_body = recorded.body if isinstance(recorded.body, dict) else None
        got_body = incoming.body if isinstance(incoming.body, dict) else None
        if want_body is None or got_body is None:
            if incoming.body != recorded.body:
                found.append("body (recorded " + _describe(recorded, hidden).partition(" body=")[2][:200] + ")")
        else:
            for key in sorted(set(want_body) | set(got_body)):
                if want_body.get(key) == got_body.get(key):
                    continue
                if key in hidden:
                    found.append(f"body {key} (a credential; values not shown)")
                    continue
                sent = json.dumps(got_body.get(key)) if key in got_body else "<absent>"
                kept = json.dumps(want_body.get(key)) if key in want_body else "<absent>"
                found.append(f"body {key}={sent} (recorded {kept})")
    return found or ["headers only"]
