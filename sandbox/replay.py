"""A replay simulator: any integration's recorded fixture cases served on loopback, so an integration written only in
YAML gets the sandbox (the fault matrix, a local endpoint to try queries on) without a hand-written simulator.

It answers a request with the recorded response of the matching recorded request, like
``unimeter.testing.replay`` but in any order and across every case of the integration:

- Match: the method, the path (relative to the mapping's base URL; the host is ignored, the server is on loopback),
  the query parameters as a multiset (order free) and the JSON body when one was recorded. Then every header the
  recording lists (the auth headers the mapping builds) must have the recorded value: the placeholder credentials of
  the cases. A request that matches but for a header gets the integration's recorded 401 when one exists, else a
  clear JSON 401; either way the ``x-replay-sandbox`` header names the header that differs (never its value).
- Several recorded answers to one request (the ``unauthorized`` case recorded the same request as ``defaults``,
  a ``rate-limited`` case recorded a 429 before its 200): the first by this rule wins: a case the caller prefers
  (``prefer``, in that order); a successful answer (status below 400) before an error; a clean case (every exchange
  successful) before one that records retries or errors; the ``defaults`` case; then case name and position. So the
  happy path is never poisoned by error cases; the errors themselves come from the fault kinds (or ``prefer``).
- No match: a 404 whose JSON body names the closest recorded requests, what differs, and their cases' ``now`` and
  params (a request built with another clock asks for other dates, the usual cause).

Absolute URLs of the recorded vendor (a next-page link in a body or a ``Link`` header) are rewritten to this server.

The generic faults come from the server as for every simulator; their error bodies are the vendor's recorded ones of
that status (a 429 or 5xx only when its case retried it, so a final 429 such as an exhausted quota is not taken for
the rate limit), else a JSON error naming the replay. ``--enforce-rate-limits`` does not apply (no limit is known).

Pagination faults are derived from the recording where the mapping says where the page goes: the query or body keys
whose expressions read ``$page``. A recorded request whose previous exchange in its case (same method and path, a
successful answer) differs only in those keys is page 2 or later of a recorded chain. ``loop_cursor`` answers it
with the previous page's response, ``restart_cursor`` with the first page's (the engine meets a page it has read, a
PaginationLoopError), ``expired_cursor`` with the integration's recorded 410 when it has one. Every other request
(a first page, a ``next_url`` chain whose requests differ throughout) is answered normally under those kinds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from unimeter.errors import UnimeterError
from unimeter.spec import available_integrations, load_integration
from unimeter.spec.model import IntegrationSpec, Template
from unimeter.testing.fixtures import discover_cases

from .config import SandboxConfig
from .messages import SimRequest, SimResponse, json_response
from .replay_diagnosis import not_recorded
from .replay_recording import (
    Recorded,
    ReplayCase,
    differing_header,
    incoming_request,
    load_cases,
    recorded_exchange,
    same_request,
    status_of,
)
from .server import Sandbox, serve_simulators
from .vendors.base import VendorSimulator

_PREFERRED_CASE = "defaults"


def _page_keys(template: Template | None) -> set[str]:
    """Top-level keys of a query or body template whose expression reads ``$page``."""
    if template is None or not isinstance(template.children, dict):
        return set()
    return {
        key
        for key, child in template.children.items()
        if child.expression is not None and "page" in child.expression.variables
    }


def _bases(spec: IntegrationSpec) -> list[str]:
    """The vendor base URLs a recorded URL may start with, longest first: the literal base_url and the allowed ones."""
    bases = list(spec.allowed_base_urls)
    if spec.base_url.expression is None and isinstance(spec.base_url.literal, str):
        bases.append(spec.base_url.literal)
    return sorted({base.rstrip("/") for base in bases}, key=len, reverse=True)


class ReplaySimulator(VendorSimulator):
    """One integration's recorded exchanges, served as its vendor (see the module docstring for the rules)."""

    def __init__(
        self,
        integration: str,
        config: SandboxConfig | None = None,
        prefer: Sequence[str] = (),
        cases: Sequence[ReplayCase] | None = None,
    ) -> None:
        super().__init__(config or SandboxConfig())
        self.integration = integration
        try:
            self.spec = load_integration(integration)
        except UnimeterError as error:
            raise ValueError(str(error)) from None
        self.cases = list(cases) if cases is not None else load_cases(integration)
        if not self.cases:
            raise ValueError(f"{integration} has no recorded fixture cases to replay (fixtures/{integration}/*/)")
        self.prefer: list[str] = []
        self.page_query_keys: set[str] = set()
        self.page_body_keys: set[str] = set()
        for operation in self.spec.operations:
            self.page_query_keys |= _page_keys(operation.request.query)
            self.page_body_keys |= _page_keys(operation.request.body)
        self._bases = _bases(self.spec)
        self._origins: set[str] = set()
        self.recorded = [
            recorded_exchange(case, position, exchange, self._relative(str(exchange["request"]["url"])))
            for case in self.cases
            for position, exchange in enumerate(case.exchanges)
        ]
        self._secrets = {str(v) for case in self.cases for v in case.credentials.values() if str(v)}
        self.account_case = self.cases[0]
        self.prefer_cases(prefer)

    def prefer_cases(self, names: Sequence[str]) -> None:
        """Answer from these cases first, in this order (also while serving: the ranking is replaced at once)."""
        unknown = [name for name in names if name not in {case.name for case in self.cases}]
        if unknown:
            listed = ", ".join(case.name for case in self.cases)
            raise ValueError(f"{self.integration} has no case named {unknown[0]!r}; its cases: {listed}")
        self.prefer = list(names)
        self.recorded = sorted(self.recorded, key=self._rank)
        self.account_case = self._account_case()

    # ------------------------------------------------------------------------------------------- the recording

    def _relative(self, url: str) -> str:
        """The recorded URL's path below the vendor's base URL (also noting the base, to rewrite it in bodies)."""
        without_query = url.split("?", 1)[0].split("#", 1)[0]
        for base in self._bases:
            if without_query == base or without_query.startswith(base + "/"):
                self._origins.add(base)
                return unquote(without_query[len(base) :] or "/")
        parts = urlsplit(url)
        self._origins.add(f"{parts.scheme}://{parts.netloc}")
        return unquote(parts.path or "/")

    def _rank(self, recorded: Recorded) -> tuple[int, int, int, int, str, int]:
        case = recorded.case
        preferred = self.prefer.index(case.name) if case.name in self.prefer else len(self.prefer)
        return (
            preferred,
            int(recorded.status >= 400),
            int(not case.clean),
            int(case.name != _PREFERRED_CASE),
            case.name,
            recorded.position,
        )

    def _account_case(self) -> ReplayCase:
        """The case whose account the endpoint advertises: the preferred, else ``defaults``, else a clean success."""
        ordered = sorted(
            self.cases,
            key=lambda c: (
                self.prefer.index(c.name) if c.name in self.prefer else len(self.prefer),
                c.name != _PREFERRED_CASE,
                c.expects_error,
                not c.clean,
                c.name,
            ),
        )
        return ordered[0]

    @property
    def expiring_cursors(self) -> bool:
        """Whether the recording holds a 410 (the vendor's expired cursor), which ``expired_cursor`` then serves."""
        return any(recorded.status == 410 for recorded in self.recorded)

    def credentials(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.account_case.credentials.items()}

    def context(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.account_case.context.items()}

    def case_summaries(self) -> list[dict[str, Any]]:
        """Each case this replay can answer, with the ``now`` and params that ask for its requests."""
        return [case.summary() for case in self.cases]

    # ------------------------------------------------------------------------------------------------ answers

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        incoming = incoming_request(request)
        recorded = self.recorded
        same = [r for r in recorded if same_request(r, incoming)]
        if not same:
            return not_recorded(self.integration, recorded, incoming, self._rank, self._secrets)
        matching = [r for r in same if differing_header(r, incoming) is None]
        if not matching:
            header = differing_header(same[0], incoming) or ""
            return self._unauthorized(header)
        chosen = matching[0]
        if fault in ("loop_cursor", "restart_cursor", "expired_cursor"):
            faulty = self._pagination_fault(chosen, fault)
            if faulty is not None:
                return faulty
        return self._response(chosen.response, request)

    def _response(self, recorded: dict[str, Any], request: SimRequest) -> SimResponse:
        """The recorded response, with the recorded vendor's base URLs pointing at this server."""
        headers = {
            str(k).lower(): str(v)
            for k, v in (recorded.get("headers") or {}).items()
            if str(k).lower() not in ("content-length", "transfer-encoding")
        }
        if "body" in recorded:
            text = json.dumps(recorded["body"])
            headers.setdefault("content-type", "application/json")
        else:
            text = str(recorded.get("text", ""))
        here = f"http://{request.headers.get('host', '127.0.0.1')}"
        for origin in sorted(self._origins, key=len, reverse=True):
            text = text.replace(origin, here)
            headers = {k: v.replace(origin, here) for k, v in headers.items()}
        return SimResponse(status_of(recorded), headers, text.encode("utf-8"))

    def _unauthorized(self, header: str) -> SimResponse:
        note = {"x-replay-sandbox": f"header {header!r} differs from the recording; use the printed credentials"}
        recorded = next((r for r in self.recorded if r.status == 401), None)
        if recorded is not None:
            response = self._bare(recorded.response)
            response.headers.update(note)
            return response
        message = (
            f"replay sandbox: the request's {header!r} header differs from the recording of {self.integration}; "
            "send the credentials printed for it"
        )
        return json_response({"error": {"message": message, "type": "unauthorized"}, "message": message}, 401, note)

    # ----------------------------------------------------------------------------------------- pagination faults

    def _without_page(self, recorded: Recorded) -> tuple[Any, ...]:
        query = sorted((n, v) for n, v in recorded.query.elements() if n not in self.page_query_keys)
        body = recorded.body
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in self.page_body_keys}
        return (recorded.method, recorded.path, query, json.dumps(body, sort_keys=True))

    def _previous_page(self, recorded: Recorded) -> Recorded | None:
        """The recorded page before ``recorded`` in its case's chain, or None when it is a first page."""
        if not self.page_query_keys and not self.page_body_keys:
            return None
        mine = [r for r in self.recorded if r.case is recorded.case]
        mine.sort(key=lambda r: r.position)
        for earlier in reversed(mine[: mine.index(recorded)]):
            if earlier.status >= 400 or (earlier.method, earlier.path) != (recorded.method, recorded.path):
                continue
            if earlier.describe() == recorded.describe():
                continue  # the same request again (a retry), not a page
            return earlier if self._without_page(earlier) == self._without_page(recorded) else None
        return None

    def _pagination_fault(self, recorded: Recorded, fault: str) -> SimResponse | None:
        previous = self._previous_page(recorded)
        if previous is None:
            return None
        if fault == "expired_cursor":
            expired = next((r for r in self.recorded if r.status == 410), None)
            return self._bare(expired.response) if expired is not None else None
        if fault == "restart_cursor":
            while (earlier := self._previous_page(previous)) is not None:
                previous = earlier
        return self._bare(previous.response, keep_headers=True)

    def _bare(self, recorded: dict[str, Any], keep_headers: bool = False) -> SimResponse:
        """A recorded response with only its content type (or all its headers), for faults and errors: a recorded
        Retry-After or rate-limit reset must not override the wait the fault asks for."""
        headers = {str(k).lower(): str(v) for k, v in (recorded.get("headers") or {}).items()}
        if not keep_headers:
            headers = {k: v for k, v in headers.items() if k == "content-type"}
        if "body" in recorded:
            headers.setdefault("content-type", "application/json")
            content = json.dumps(recorded["body"]).encode("utf-8")
        else:
            content = str(recorded.get("text", "")).encode("utf-8")
        headers.pop("content-length", None)
        headers.pop("transfer-encoding", None)
        return SimResponse(status_of(recorded), headers, content)

    # ------------------------------------------------------------------------------------------- error shapes

    def error(self, status: int, message: str) -> SimResponse:
        """The vendor's own recorded error of ``status`` (its shape is what the mapping reads messages from), else a
        JSON error naming the replay.

        A recorded answer of a status the mapping retries counts only if its case retried it (the same request came
        again): a 429 the mapping's rules make final (a quota exhausted) is not the vendor's rate limit.
        """
        recorded = [r for r in self.recorded if r.status == status]
        retried = [r for r in recorded if self._was_retried(r)]
        if retried:
            return self._bare(retried[0].response)
        if recorded and status not in self.spec.errors.retry_statuses:
            return self._bare(recorded[0].response)
        text = f"replay sandbox: {message}"
        return json_response({"error": {"message": text, "type": "replay_sandbox"}, "message": text}, status)

    @staticmethod
    def _was_retried(recorded: Recorded) -> bool:
        following = recorded.position + 1
        if following >= len(recorded.case.exchanges):
            return False
        request = recorded.case.exchanges[recorded.position]["request"]
        return bool(recorded.case.exchanges[following]["request"] == request)


@dataclass
class ReplaySandbox:
    """What :func:`start_replay_sandbox` started: the running servers and each integration's replay."""

    sandbox: Sandbox
    simulators: dict[str, ReplaySimulator] = field(default_factory=dict)

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """Per integration: ``base_url``, ``credentials`` and ``context`` to use, and the ``cases`` it can answer."""
        return {
            name: {**self.sandbox.endpoint(name), "cases": simulator.case_summaries()}
            for name, simulator in self.simulators.items()
        }

    def stop(self) -> None:
        self.sandbox.stop()

    def __enter__(self) -> ReplaySandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def replay_integrations(names: Sequence[str] | None) -> list[str]:
    """The integrations to replay: those named, else every one on the search path with recorded cases."""
    if names:
        return list(dict.fromkeys(names))
    return [name for name in available_integrations() if discover_cases([name])]


def start_replay_sandbox(
    integrations: Sequence[str] | None = None,
    config: SandboxConfig | None = None,
    faults: list[tuple[str, str, int]] | list[tuple[str, str, int, int]] | None = None,
    prefer: Sequence[str] = (),
) -> ReplaySandbox:
    """Serve the recorded cases of ``integrations`` (every one with cases when None) on loopback, with ``faults``
    (``(integration, kind, count[, after])``). ``prefer`` names cases (``CASE`` or ``INTEGRATION/CASE``) whose
    answers come first; ValueError names an unknown integration, case or fault target."""
    config = config or SandboxConfig()
    names = replay_integrations(integrations)
    if not names:
        raise ValueError("no integration on the mapping search path has recorded fixture cases")
    loaded = {name: load_cases(name) for name in names}
    chosen: dict[str, list[str]] = {name: [] for name in names}
    for wanted in prefer:
        owner, _, case = wanted.rpartition("/")
        if owner and owner not in loaded:
            raise ValueError(f"--case {wanted!r} names {owner!r}, which is not replayed (replayed: {', '.join(names)})")
        owners = [owner] if owner else [name for name in names if case in {c.name for c in loaded[name]}]
        if not owners:
            raise ValueError(f"--case {wanted!r}: no replayed integration has a case of that name")
        for name in owners:
            chosen[name].append(case)
    simulators = {name: ReplaySimulator(name, config, chosen[name], loaded[name]) for name in names}
    running = serve_simulators(dict[str, VendorSimulator](simulators), config, faults)
    return ReplaySandbox(running, simulators)


__all__ = ["ReplayCase", "ReplaySandbox", "ReplaySimulator", "load_cases", "start_replay_sandbox"]
