"""Helpers for the service suites (tests/service/): an order-free replay transport, the accounts store, a client.

The vendor side is served from the fixture cases' ``exchanges.json`` by request (method, URL without query, query as
a multiset, JSON body), not in recorded order, because a query resumed with ``next_cursor`` starts in the middle of
the recording and a property test reads the same pages many times. Recorded headers are not compared: the accounts
here carry credentials derived from each integration's declaration (tests/helpers/credentials.py), distinctive so
that a scan of every response body can look for them, instead of the fixtures' ``key_test``; tests check the
credential headers the vendor received separately. Credentials only ever reach the auth headers, so the recorded
URLs and bodies still match.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.cases import Case, load_case
from tests.helpers.credentials import fake_credentials, secret_strings
from unimeter.service import UsageService, create_app
from unimeter.store import open_store
from unimeter.testing.replay import recorded_response

__all__ = [
    "ENVIRONMENT",
    "OTHER_ENVIRONMENT",
    "USAGE",
    "Case",
    "FixtureTransport",
    "Harness",
    "SleepRecorder",
    "assert_no_secrets",
    "load_case",
    "make_harness",
    "secret_strings",
]

ENVIRONMENT = "prod"
OTHER_ENVIRONMENT = "staging"
CURSOR_KEY = b"service-tests-cursor-key-0123456789abcdef"


# ---------------------------------------------------------------------------------------------------------- vendor


def _canonical_body(content: bytes | None) -> str | None:
    if not content:
        return None
    try:
        return json.dumps(json.loads(content), sort_keys=True)
    except json.JSONDecodeError:
        return content.decode("utf-8", "replace")


def _key(method: str, url: httpx.URL, body: str | None, ignore_query: frozenset[str]) -> tuple[Any, ...]:
    query = Counter((k, v) for k, v in url.params.multi_items() if k not in ignore_query)
    return (method.upper(), str(url.copy_with(query=None)), tuple(sorted(query.elements())), body)


def _recorded_key(recorded: dict[str, Any], ignore_query: frozenset[str]) -> tuple[Any, ...]:
    url = httpx.URL(recorded["url"])
    extra = recorded.get("query") or {}
    if extra:
        url = url.copy_merge_params({k: str(v) for k, v in extra.items()})
    body = json.dumps(recorded["body"], sort_keys=True) if "body" in recorded else None
    return _key(recorded.get("method", "GET"), url, body, ignore_query)


make_response = recorded_response  # the replay transport's reading of a recorded response, shared


class FixtureTransport(httpx.AsyncBaseTransport):
    """Serve recorded responses by matching the request, in any order and any number of times.

    Several recordings of one request (a 429 then a 200) are served in turn, the last one repeating. ``ignore_query``
    names query parameters left out of the match (``remote_query`` pass-through). A request nothing matches is
    recorded in ``unmatched`` and fails the exchange.
    """

    def __init__(self, exchanges: Iterable[dict[str, Any]] = (), *, ignore_query: Iterable[str] = ()) -> None:
        self.ignore_query = frozenset(ignore_query)
        self.responses: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        self.served: Counter[tuple[Any, ...]] = Counter()
        self.requests: list[httpx.Request] = []
        self.unmatched: list[str] = []
        self.add(exchanges)

    def add(self, exchanges: Iterable[dict[str, Any]]) -> None:
        for exchange in exchanges:
            self.responses[_recorded_key(exchange["request"], self.ignore_query)].append(exchange["response"])

    def replace(self, recorded_request: dict[str, Any], *responses: dict[str, Any]) -> None:
        """Answer ``recorded_request`` with ``responses`` (in turn, the last repeating) instead of the recording."""
        key = _recorded_key(recorded_request, self.ignore_query)
        self.responses[key] = list(responses)
        self.served[key] = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        key = _key(request.method, request.url, _canonical_body(request.content), self.ignore_query)
        candidates = self.responses.get(key)
        if not candidates:
            self.unmatched.append(f"{request.method} {request.url} body={_canonical_body(request.content)}")
            raise AssertionError(f"no recorded exchange for {self.unmatched[-1]}")
        index = min(self.served[key], len(candidates) - 1)
        self.served[key] += 1
        return make_response(candidates[index], request)


class SleepRecorder:
    """The service's ``sleep``: records each retry wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# ---------------------------------------------------------------------------------------------------------- service


@dataclass
class Harness:
    """A service over a fresh SQLite store in ``tmp_path``, with a token per environment and a vendor transport."""

    store: Any
    service: UsageService
    transport: FixtureTransport
    sleep: SleepRecorder
    token: str
    other_token: str
    accounts: dict[str, str] = field(default_factory=dict)
    bodies: list[str] = field(default_factory=list)

    def add_account(
        self,
        integration: str,
        *,
        environment: str = ENVIRONMENT,
        context: dict[str, Any] | None = None,
        label: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> str:
        """An account with the integration's derived test credentials (or ``credentials``), known by ``label``."""
        credentials = fake_credentials(integration) if credentials is None else credentials
        account = self.store.create_account(
            integration, environment=environment, credentials=credentials, context=context or {}
        )
        self.accounts[label or integration] = str(account.id)
        return str(account.id)

    def pin_clock(self, case: Case) -> None:
        """Run the service's ``$now()`` at ``case.now`` from here on (each fixture was recorded on its own day)."""
        self.service.now = case.clock

    def status(self, account_id: str, environment: str = ENVIRONMENT) -> str:
        return str(self.store.get_account(account_id, environment=environment).status)

    def run(self, scenario: Callable[[httpx.AsyncClient], Coroutine[Any, Any, Any]]) -> Any:
        """Run ``scenario(client)`` against the app with a real HTTP client over ASGI; every body is scanned."""

        async def scan(response: httpx.Response) -> None:
            await response.aread()
            self.bodies.append(response.text)
            assert_no_secrets(response.text, f"({response.request.method} {response.request.url})")

        async def main() -> Any:
            app = create_app(self.service)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                headers={"authorization": f"Bearer {self.token}"},
                event_hooks={"response": [scan]},
            ) as client:
                return await scenario(client)

        return asyncio.run(main())


def make_harness(tmp_path: Path, transport: FixtureTransport | None = None, *, now: datetime | None = None) -> Harness:
    """The real engine/store.py SQLite store, used by the service as it is (no adapter, no fake); ``now`` pins the
    service clock (see :meth:`Harness.pin_clock` to follow a case)."""
    store = open_store(f"sqlite://{tmp_path / 'accounts.db'}", key_file=tmp_path / "secret.key")
    token = store.create_token(environment=ENVIRONMENT)
    other_token = store.create_token(environment=OTHER_ENVIRONMENT)
    transport = transport or FixtureTransport()
    sleep = SleepRecorder()
    service = UsageService(store, CURSOR_KEY, transport=transport, sleep=sleep, now=now)
    return Harness(store=store, service=service, transport=transport, sleep=sleep, token=token, other_token=other_token)


USAGE = "/unified/usage-metering/usage"


def assert_no_secrets(text: str, where: str = "") -> None:
    for secret in secret_strings():
        assert secret not in text, f"a test credential appears in clear text in a response body {where}: {secret!r}"
