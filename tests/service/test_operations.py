"""What operators rely on: a health check that knows the store, one structured log line per vendor failure, request
ids, the headers HTTP asks for (WWW-Authenticate on 401, Allow on 405), and PATCH that merges context."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.helpers.cases import load_case
from tests.helpers.service_helpers import USAGE, FixtureTransport, make_harness
from unimeter.errors import StoreError


def test_a_401_says_how_to_authenticate_and_a_405_what_is_allowed(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        no_token = await client.get("/integrated-accounts", headers={"authorization": ""})
        wrong_method = await client.put("/integrated-accounts")
        return no_token, wrong_method

    no_token, wrong_method = harness.run(scenario)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == 'Bearer realm="unimeter"'
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST", "HEAD"}


def test_every_response_has_a_request_id_and_errors_carry_it(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        given = await client.get(USAGE, headers={"x-request-id": "trace-42"})
        fresh = await client.get(USAGE)
        hostile = await client.get(USAGE, headers={"x-request-id": "bad id\twith\nbreaks"})
        return given, fresh, hostile

    given, fresh, hostile = harness.run(scenario)
    assert given.headers["x-request-id"] == "trace-42" and given.json()["request_id"] == "trace-42"
    assert len(fresh.headers["x-request-id"]) == 32 and fresh.json()["request_id"] == fresh.headers["x-request-id"]
    assert hostile.headers["x-request-id"] != "bad id\twith\nbreaks" and len(hostile.headers["x-request-id"]) == 32


def test_health_reports_a_store_that_cannot_be_reached(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/health")

    assert harness.run(scenario).json() == {"status": "ok", "store": "ok"}

    def broken() -> None:
        raise StoreError("cannot open the SQLite store")

    harness.store.check = broken
    response = harness.run(scenario)
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "store": "cannot open the SQLite store"}


def test_patch_merges_context_instead_of_resetting_it(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)
    account = harness.add_account("datadog", context={"site": "datadoghq.eu", "view": "summary"})

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        merged = await client.patch(f"/integrated-accounts/{account}", json={"context": {"view": "sub-org"}})
        removed = await client.patch(f"/integrated-accounts/{account}", json={"context": {"view": None}})
        return merged, removed

    merged, removed = harness.run(scenario)
    assert merged.status_code == 200, merged.text
    assert merged.json()["context"] == {"site": "datadoghq.eu", "view": "sub-org"}  # the EU site stays
    assert removed.json()["context"] == {"site": "datadoghq.eu"}


def test_a_vendor_failure_is_one_structured_log_line_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = load_case("confluent", "unauthorized")
    harness = make_harness(tmp_path, FixtureTransport(case.exchanges), now=case.clock)
    account = harness.add_account("confluent")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account, **case.params})

    with caplog.at_level(logging.WARNING, logger="unimeter.service"):
        assert harness.run(scenario).status_code == 502
    lines = [r for r in caplog.records if r.getMessage().startswith("vendor query failed")]
    assert len(lines) == 1
    record = lines[0]
    assert (record.integration, record.account_id, record.error, record.vendor_status) == (  # type: ignore[attr-defined]
        "confluent",
        account,
        "remote_unauthorized",
        401,
    )
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
