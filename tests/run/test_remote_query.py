"""``remote_query`` passes extra vendor parameters through, but never replaces one the mapping sends itself (that
would return another period's data under this query's ids and dates)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers.cases import representative_case
from unimeter.errors import InvalidParameterError
from unimeter.run.pipeline import alist_usage
from unimeter.spec import available_integrations
from unimeter.testing.replay import ReplayTransport


def _query_names(integration: str) -> list[str]:
    """The query parameters the integration's first recorded request sends (none when they go in the body)."""
    request = representative_case(integration).exchanges[0]["request"]
    return sorted({*httpx.URL(request["url"]).params.keys(), *(request.get("query") or {})})


@pytest.mark.parametrize("integration", [i for i in available_integrations() if _query_names(i)])
def test_a_remote_query_key_the_mapping_sends_is_a_400_naming_it(integration: str) -> None:
    case = representative_case(integration)
    names = _query_names(integration)
    assert names
    for name in names:
        with pytest.raises(InvalidParameterError) as raised:
            asyncio.run(
                alist_usage(
                    integration,
                    credentials=case.credentials,
                    context=case.context,
                    params=case.params,
                    now=case.clock,
                    remote_query={name: "2026-11-20"},
                    transport=ReplayTransport(case.exchanges),
                )
            )
        assert raised.value.details["parameter"] == f"remote_query[{name}]"
        assert "sends itself" in raised.value.message


def test_a_remote_query_key_the_mapping_does_not_send_passes_through(integration: str) -> None:
    case = representative_case(integration)
    seen: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)  # the first request is all this test needs to see

    with pytest.raises(Exception):  # noqa: B017 - the vendor's 500, after retries; the request is what matters
        asyncio.run(
            alist_usage(
                integration,
                credentials=case.credentials,
                context=case.context,
                params=case.params,
                now=case.clock,
                remote_query={"unimeter_extra": "1"},
                transport=httpx.MockTransport(vendor),
                sleep=_no_sleep,
            )
        )
    assert seen and seen[0].url.params.get("unimeter_extra") == "1"


async def _no_sleep(seconds: float) -> None:
    return None
