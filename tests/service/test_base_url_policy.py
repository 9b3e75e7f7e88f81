"""Credentials go only where their integration allows: refused base URLs at create and patch, a destination change
needs the credentials again, and a vendor's next-page URL to another host is refused before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.paths import MappingsFolder
from tests.helpers.service_helpers import USAGE, make_harness
from tests.helpers.specs import bearer_vendor_spec, day_rows, operation
from tests.run.test_destination import INTERNAL
from unimeter.run.destination import ALLOWED_BASE_URLS_ENV

HOPPER = bearer_vendor_spec(
    "hopper",
    operation(
        " {method: GET, path: /usage}",
        name="usage",
        pagination='{kind: next_url, next: {jsonata: "next"}}',
        transform=day_rows("hopper"),
    ),
)
KEY = "hopper-SECRET-0123456789"


@pytest.fixture
def hopper(mappings_folder: MappingsFolder, monkeypatch: pytest.MonkeyPatch) -> MappingsFolder:
    (mappings_folder.mappings / "hopper.yaml").write_text(HOPPER, encoding="utf-8")
    monkeypatch.delenv(ALLOWED_BASE_URLS_ENV, raising=False)
    return mappings_folder


class _Vendor(httpx.AsyncBaseTransport):
    """Page 1 at the vendor; its next URL at ``next_url``. Records every URL and Authorization header it gets."""

    def __init__(self, next_url: str | None) -> None:
        self.next_url = next_url
        self.seen: list[tuple[str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.host == "api.hopper.example" and request.url.path == "/usage":
            return httpx.Response(200, json={"data": [{"id": "1"}], "next": self.next_url})
        return httpx.Response(200, json={"data": [{"id": "2"}], "next": None})


def _harness(tmp_path: Path, vendor: httpx.AsyncBaseTransport) -> Any:
    harness = make_harness(tmp_path)
    harness.service.transport = vendor
    return harness


@pytest.mark.usefixtures("hopper")
def test_creating_an_account_with_an_internal_base_url_is_refused(tmp_path: Path) -> None:
    harness = _harness(tmp_path, _Vendor(None))

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post(
                "/integrated-accounts",
                json={"integration": "hopper", "credentials": {"api_key": KEY}, "context": {"base_url": url}},
            )
            for url in INTERNAL
        ]

    responses = harness.run(scenario)
    assert [r.status_code for r in responses] == [400] * len(INTERNAL)
    assert {r.json()["error"] for r in responses} == {"base_url_not_allowed"}
    assert harness.store.list_accounts() == []


@pytest.mark.usefixtures("hopper")
@pytest.mark.parametrize(
    "url", ["https://api.hopper.example/?x=", "https://api.hopper.example#", "https://me:pw@api.hopper.example"]
)
def test_a_base_url_that_would_take_over_the_request_path_is_refused(tmp_path: Path, url: str) -> None:
    harness = _harness(tmp_path, _Vendor(None))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            "/integrated-accounts",
            json={"integration": "hopper", "credentials": {"api_key": KEY}, "context": {"base_url": url}},
        )

    response = harness.run(scenario)
    assert response.status_code == 400 and response.json()["error"] == "invalid_account_configuration"
    assert response.json()["details"] == {"field": "base_url"}


@pytest.mark.usefixtures("hopper")
def test_patching_the_base_url_needs_the_credentials_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_BASE_URLS_ENV, "http://127.0.0.1")
    harness = _harness(tmp_path, _Vendor(None))
    account = harness.add_account("hopper", credentials={"api_key": KEY})

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        moved = {"context": {"base_url": "http://127.0.0.1:9"}}
        without = await client.patch(f"/integrated-accounts/{account}", json=moved)
        with_them = await client.patch(
            f"/integrated-accounts/{account}", json={**moved, "credentials": {"api_key": "hopper-SECRET-new-987654"}}
        )
        shown = await client.get(f"/integrated-accounts/{account}")
        return without, with_them, shown

    without, with_them, shown = harness.run(scenario)
    assert without.status_code == 400
    assert "send the credentials again" in without.json()["message"]
    assert with_them.status_code == 200, with_them.text
    assert shown.json()["context"] == {"base_url": "http://127.0.0.1:9"}
    assert shown.json()["credentials"] == {"api_key": "set"}  # never the value


@pytest.mark.usefixtures("hopper")
def test_a_next_page_url_on_another_host_gets_no_request_and_no_credentials(tmp_path: Path) -> None:
    vendor = _Vendor("https://collector.evil.example/steal")
    harness = _harness(tmp_path, vendor)
    account = harness.add_account("hopper", credentials={"api_key": KEY})

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account})

    response = harness.run(scenario)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "remote_invalid_response"
    assert "collector.evil.example" in response.json()["message"]
    assert [url for url, _ in vendor.seen] == ["https://api.hopper.example/usage"]


@pytest.mark.usefixtures("hopper")
def test_a_next_page_url_on_the_vendors_host_is_followed(tmp_path: Path) -> None:
    vendor = _Vendor("/usage/page-2")
    harness = _harness(tmp_path, vendor)
    account = harness.add_account("hopper", credentials={"api_key": KEY})

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account})

    response = harness.run(scenario)
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["result"]] == ["hopper:1", "hopper:2"]
    assert vendor.seen == [
        ("https://api.hopper.example/usage", f"Bearer {KEY}"),
        ("https://api.hopper.example/usage/page-2", f"Bearer {KEY}"),
    ]
