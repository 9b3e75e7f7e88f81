"""Where credentials may go: the base URL shape, the mapping's allowed_base_urls, the operator's additions, and the
check after name resolution."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from unimeter.errors import ConfigurationError, DestinationError
from unimeter.run.destination import (
    ALLOWED_BASE_URLS_ENV,
    GuardedTransport,
    check_base_url,
    check_base_url_shape,
    check_request_url,
    destination_fields,
    operator_prefixes,
)
from unimeter.spec import load_integration

INTERNAL = [
    "http://169.254.169.254",  # cloud metadata
    "http://metadata.google.internal",
    "http://10.0.0.1",
    "http://172.16.5.4",
    "http://192.168.1.1",
    "http://127.0.0.1:8080",
    "http://localhost",
    "http://[::1]",
    "http://[fd00::1]",
    "http://0x7f000001",
    "http://2130706433",
    "http://0.0.0.0",
]


@pytest.fixture(autouse=True)
def _no_operator_allowance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWED_BASE_URLS_ENV, raising=False)


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_as_base_urls(url: str) -> None:
    with pytest.raises(DestinationError, match="is not a host cursor serves") as raised:
        check_base_url(url, load_integration("cursor"))
    assert raised.value.details == {"field": "base_url"} and raised.value.http_status == 400


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://api.cursor.com/?x=", "must not have a query"),
        ("https://api.cursor.com#", "must not have a fragment"),
        ("https://user:pw@api.cursor.com", "must not carry a user name or password"),
        ("https://api.cursor.com@evil.example", "must not carry a user name or password"),
        ("ftp://api.cursor.com", "must start with http:// or https://"),
        ("https://", "has no host"),
        ("https://api.cursor.com:99999", "not a valid URL"),
    ],
)
def test_a_base_url_is_scheme_host_port_and_path_only(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        check_base_url_shape(url)


def test_the_mappings_own_hosts_are_allowed_and_others_are_not() -> None:
    cursor = load_integration("cursor")
    check_base_url("https://api.cursor.com", cursor)
    check_base_url("https://api.cursor.com/", cursor)
    check_request_url("https://api.cursor.com/teams/daily-usage-data?x=1", cursor)
    for other in ("http://api.cursor.com", "https://api.cursor.com:8443", "https://api.cursor.com.evil.example"):
        with pytest.raises(DestinationError):
            check_base_url(other, cursor)


def test_datadog_declares_its_sites() -> None:
    datadog = load_integration("datadog")
    for site in ("datadoghq.com", "datadoghq.eu", "us5.datadoghq.com", "ddog-gov.com", "uk1.datadoghq.com"):
        check_base_url(f"https://api.{site}", datadog)
    with pytest.raises(DestinationError, match=r"allowed: https://api\.datadoghq\.com"):
        check_base_url("https://api.datadoghq.evil", datadog)
    assert destination_fields(datadog) == {"base_url", "site"}
    assert destination_fields(load_integration("cursor")) == {"base_url"}


def test_an_operator_entry_without_a_port_allows_every_port_of_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_BASE_URLS_ENV, "http://127.0.0.1, https://proxy.corp.example:8443/cursor")
    cursor = load_integration("cursor")
    check_base_url("http://127.0.0.1:41234", cursor)
    check_base_url("http://127.0.0.1", cursor)
    check_base_url("https://proxy.corp.example:8443/cursor/v1", cursor)
    for refused in (
        "https://proxy.corp.example:9443/cursor",
        "https://proxy.corp.example:8443/other",
        "http://127.0.0.2",
    ):
        with pytest.raises(DestinationError):
            check_base_url(refused, cursor)


def test_a_malformed_operator_entry_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_BASE_URLS_ENV, "http://ok.example,127.0.0.1")
    with pytest.raises(ConfigurationError, match=f"{ALLOWED_BASE_URLS_ENV} entry '127.0.0.1' must start with http"):
        operator_prefixes()


def _through_guard(url: str) -> httpx.Response:
    reached: list[str] = []

    async def run() -> httpx.Response:
        inner = httpx.MockTransport(lambda request: (reached.append(str(request.url)), httpx.Response(200))[1])
        async with httpx.AsyncClient(transport=GuardedTransport(inner)) as client:
            return await client.get(url)

    response = asyncio.run(run())
    assert reached == [url]
    return response


def test_the_network_guard_refuses_a_name_that_resolves_to_loopback() -> None:
    with pytest.raises(DestinationError, match=r"localhost resolves to a non-public address \(127\.0\.0\.1|::1"):
        _through_guard("http://localhost:9/usage")


def test_the_network_guard_refuses_internal_ip_literals() -> None:
    for url in ("http://10.1.2.3/x", "http://[::ffff:169.254.169.254]/x", "http://224.0.0.1/x"):
        with pytest.raises(DestinationError, match="non-public address"):
            _through_guard(url)


def test_the_network_guard_lets_an_operator_allowed_url_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_BASE_URLS_ENV, "http://localhost")
    assert _through_guard("http://localhost:9/usage").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://bob:hunter2-secret-value@api.example.com/v1",
        "https://hunter2-secret-value@api.example.com",
        "https://api.example.com/v1?token=hunter2-secret-value",
        "https://api.example.com/v1#hunter2-secret-value",
    ],
)
def test_a_refused_base_url_is_shown_without_the_credential_it_carries(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url_shape(url)
    assert "hunter2-secret-value" not in caught.value.message
    assert "api.example.com" in caught.value.message
