"""The HTTP layer: errors become envelopes through the exception handlers, one pooled transport, debug on failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.specs import CURSOR_NEXT, CURSOR_QUERY, bearer_vendor_spec, day_rows, operation
from unimeter.service import UsageService, create_app
from unimeter.spec import MAPPINGS_PATH_ENV

ACCOUNT_ID = "22222222-2222-2222-2222-222222222222"
USAGE = "/unified/usage-metering/usage"

LOOPY = bearer_vendor_spec(
    "loopy",
    operation(CURSOR_QUERY, name="usage", pagination=CURSOR_NEXT, transform=day_rows("loopy")),
    base_url="https://api.loopy.test",
)


@dataclass
class _Account:
    id: str = ACCOUNT_ID
    integration: str = "loopy"
    credentials: dict[str, Any] = field(default_factory=lambda: {"api_key": "loopy-SECRET-key-0001"})
    context: dict[str, Any] = field(default_factory=dict)
    status: str = "active"

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id}


class _Store:
    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure

    def resolve_token(self, token: str) -> str | None:
        return "prod" if token == "tok" else None

    def get_account(self, account_id: str, *, environment: str) -> _Account:
        if self.failure is not None:
            raise self.failure
        return _Account()

    def mark_status(self, account_id: str, *, environment: str, status: str) -> None:
        return None


@pytest.fixture(autouse=True)
def _loopy_on_the_search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "loopy.yaml").write_text(LOOPY, encoding="utf-8")
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(tmp_path / "mappings"))


class _CountingTransport(httpx.AsyncBaseTransport):
    """Serves pages ``a`` -> ``b`` -> ``a`` ... (``loop``) or ``a`` -> ``b`` -> end, counting closes."""

    def __init__(self, *, loop: bool) -> None:
        self.loop = loop
        self.requests: list[httpx.Request] = []
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return httpx.Response(200, json={"data": [{"id": "1"}], "next": "b"})
        return httpx.Response(200, json={"data": [{"id": "2"}], "next": "b" if self.loop else None})

    async def aclose(self) -> None:
        self.closed += 1


def _get(app: Any, params: dict[str, str], *, raise_app_exceptions: bool = True) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(
                USAGE, params={"integrated_account_id": ACCOUNT_ID, **params}, headers={"Authorization": "Bearer tok"}
            )

    return asyncio.run(run())


def test_a_debug_query_that_loops_answers_the_error_with_isLooping_and_the_requests_made() -> None:
    vendor = _CountingTransport(loop=True)
    response = _get(create_app(UsageService(_Store(), b"k" * 32, transport=vendor)), {"truto_response_format": "debug"})
    body = response.json()
    assert response.status_code == 502, body
    assert body["error"] == "pagination_loop"
    assert body["debug"]["isLooping"] is True
    # page 2 sent cursor "b" again: the loop is caught there, and only page 1's rows had been delivered
    assert [r["requestUrl"] for r in body["debug"]["requests"]] == ["https://api.loopy.test/usage"]
    assert body["debug"]["requests"][0]["requestOptions"]["headers"]["authorization"] == "[REDACTED]"
    assert "loopy-SECRET-key-0001" not in response.text
    assert len(vendor.requests) == 2


def test_a_query_that_completes_has_isLooping_false_in_debug() -> None:
    response = _get(
        create_app(UsageService(_Store(), b"k" * 32, transport=_CountingTransport(loop=False))),
        {"truto_response_format": "debug"},
    )
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["result"]] == ["loopy:1", "loopy:2"]
    assert response.json()["debug"]["isLooping"] is False


def test_an_unexpected_failure_is_a_bare_500_envelope_without_a_traceback() -> None:
    app = create_app(UsageService(_Store(failure=RuntimeError("boom at /srv/secret/path.py")), b"k" * 32))
    response = _get(app, {}, raise_app_exceptions=False)
    assert response.status_code == 500
    body = response.json()
    assert len(body.pop("request_id")) == 32  # the id the log line carries too
    assert body == {
        "status": 500,
        "error": "internal_error",
        "message": "internal error; see the service log",
        "details": {},
    }
    assert "boom" not in response.text and "Traceback" not in response.text


def test_the_vendor_transport_is_shared_by_every_query_and_never_closed_by_one() -> None:
    vendor = _CountingTransport(loop=False)
    app = create_app(UsageService(_Store(), b"k" * 32, transport=vendor))
    for _ in range(3):
        assert _get(app, {}).status_code == 200
    assert len(vendor.requests) == 6
    assert vendor.closed == 0


def test_the_service_pools_one_transport_of_its_own_and_closes_it_at_shutdown() -> None:
    service = UsageService(_Store(), b"k" * 32)
    first = service._vendor_transport()
    assert service._vendor_transport() is first

    async def lifespan() -> None:
        app = create_app(service)
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> dict[str, str]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    asyncio.run(lifespan())
    assert service._owned_transport is None
    assert service._vendor_transport() is not first
