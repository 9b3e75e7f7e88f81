"""Sending vendor requests: retries with Retry-After or backoff, typed errors, and no secret in any message."""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers.specs import demo_spec, operation
from unimeter.errors import (
    TransportError,
    UnimeterError,
    VendorAuthError,
    VendorClientError,
    VendorRateLimitError,
    VendorResponseError,
    VendorServerError,
    VendorTimeoutError,
)
from unimeter.run.pipeline import alist_usage, iter_pages
from unimeter.spec import IntegrationSpec, load_spec

SECRET = "sk-live-SECRET-9f8e7d6c5b4a"
URL = "https://api.example.com/v1/usage"

SPEC = demo_spec(
    operation(" {method: GET, path: /v1/usage}"),
    credentials="credentials:\n  api_key: {secret: true, required: true, description: API key}\n",
    auth='{kind: headers, headers: {x-api-key: {jsonata: "$credentials.api_key"}}}',
    sections="""errors:
  message: {jsonata: "error.message"}
  auth_statuses: [401, 403]
  retry_statuses: [429, 500, 502, 503, 504]
  retry_after: {jsonata: "$headers.'retry-after'"}
  max_retries: 3
""",
)

Answer = Callable[[httpx.Request], httpx.Response]


def _spec(text: str = SPEC) -> IntegrationSpec:
    return load_spec("demo.yaml", text=text)


class _Vendor:
    """Answers request n with ``answers[n]``; records every request and every wait the engine asks for."""

    def __init__(self, *answers: httpx.Response | Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.waits: list[float] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert len(self.requests) <= len(self.answers), f"unexpected request #{len(self.requests)}"
        answer = self.answers[len(self.requests) - 1]
        return answer(request) if callable(answer) else answer

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def run(self, spec: IntegrationSpec | None = None) -> dict[str, Any]:
        return asyncio.run(
            alist_usage(
                spec or _spec(),
                credentials={"api_key": SECRET},
                transport=httpx.MockTransport(self._handle),
                sleep=self.sleep,
                keep_remote_data=False,
            )
        )


def _ok(*ids: str) -> httpx.Response:
    return httpx.Response(200, json={"data": [{"id": i} for i in ids]})


def _error(status: int, message: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, json={"error": {"message": message}})


def _raise(exception: type[httpx.TransportError]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exception("simulated", request=request)

    return answer


def test_success_sends_credentials_and_returns_rows_without_waiting() -> None:
    vendor = _Vendor(_ok("a", "b"))
    assert [row["id"] for row in vendor.run()["result"]] == ["a", "b"]
    assert vendor.waits == []
    assert vendor.requests[0].headers["x-api-key"] == SECRET
    assert str(vendor.requests[0].url) == URL


def test_429_with_retry_after_seconds_waits_that_long_then_succeeds() -> None:
    vendor = _Vendor(_error(429, "slow down", {"Retry-After": "7"}), _ok("a"))
    assert [row["id"] for row in vendor.run()["result"]] == ["a"]
    assert vendor.waits == [7.0]
    assert len(vendor.requests) == 2


def test_retry_waits_are_recorded_on_the_exchange() -> None:
    vendor = _Vendor(_error(429, headers={"Retry-After": "2"}), _error(503, headers={"Retry-After": "3"}), _ok("a"))

    async def pages() -> list[Any]:
        return [
            page
            async for page in iter_pages(
                _spec(),
                credentials={"api_key": SECRET},
                transport=httpx.MockTransport(vendor._handle),
                sleep=vendor.sleep,
            )
        ]

    [page] = asyncio.run(pages())
    assert page.exchange.waits == [2.0, 3.0]
    assert page.exchange.attempts == 3
    assert vendor.waits == [2.0, 3.0]


def test_retry_after_header_is_used_when_the_mapping_has_no_retry_after_expression() -> None:
    text = SPEC.replace("  retry_after: {jsonata: \"$headers.'retry-after'\"}\n", "")
    vendor = _Vendor(_error(429, headers={"Retry-After": "4"}), _ok("a"))
    vendor.run(_spec(text))
    assert vendor.waits == [4.0]


def test_retry_after_expression_can_read_another_header() -> None:
    text = SPEC.replace("$headers.'retry-after'", "$headers.'x-ratelimit-reset'")
    vendor = _Vendor(_error(429, headers={"X-RateLimit-Reset": "5", "Retry-After": "99"}), _ok("a"))
    vendor.run(_spec(text))
    assert vendor.waits == [5.0]


def test_retry_after_http_date_in_the_past_retries_without_waiting() -> None:
    vendor = _Vendor(_error(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), _ok("a"))
    vendor.run()
    assert vendor.waits == [0.0]


def test_retry_after_http_date_in_the_future_waits_until_that_date() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=60)
    vendor = _Vendor(_error(429, headers={"Retry-After": email.utils.format_datetime(moment, usegmt=True)}), _ok("a"))
    vendor.run()
    assert len(vendor.waits) == 1
    assert 0.0 < vendor.waits[0] <= 60.0


def test_retry_after_too_far_in_the_future_fails_at_once_instead_of_sleeping() -> None:
    vendor = _Vendor(_error(429, "quota exhausted", {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}))
    with pytest.raises(VendorRateLimitError) as caught:
        vendor.run()
    assert vendor.waits == []
    assert len(vendor.requests) == 1
    assert caught.value.status == 429


def test_503_without_retry_after_is_retried_with_growing_backoff_then_succeeds() -> None:
    vendor = _Vendor(_error(503, "busy"), _error(503, "busy"), _ok("a"))
    assert [row["id"] for row in vendor.run()["result"]] == ["a"]
    assert len(vendor.requests) == 3
    first, second = vendor.waits
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


def test_401_is_not_retried_and_carries_the_vendor_message() -> None:
    vendor = _Vendor(_error(401, "Invalid API key"))
    with pytest.raises(VendorAuthError) as caught:
        vendor.run()
    error = caught.value
    assert len(vendor.requests) == 1
    assert vendor.waits == []
    assert error.status == 401
    assert error.vendor_message == "Invalid API key"
    assert "Demo answered HTTP 401: Invalid API key" in error.message


def test_auth_status_listed_as_retryable_is_still_not_retried() -> None:
    text = SPEC.replace("retry_statuses: [429, 500, 502, 503, 504]", "retry_statuses: [403, 429]")
    vendor = _Vendor(_error(403, "forbidden"))
    with pytest.raises(VendorAuthError):
        vendor.run(_spec(text))
    assert len(vendor.requests) == 1


def test_other_4xx_is_a_client_error_and_not_retried() -> None:
    vendor = _Vendor(_error(400, "bad start_date"))
    with pytest.raises(VendorClientError) as caught:
        vendor.run()
    assert len(vendor.requests) == 1
    assert caught.value.status == 400
    assert caught.value.vendor_message == "bad start_date"


def test_429_after_retries_run_out_is_a_rate_limit_error() -> None:
    vendor = _Vendor(*[_error(429, "slow down", {"Retry-After": "1"}) for _ in range(4)])
    with pytest.raises(VendorRateLimitError) as caught:
        vendor.run()
    assert vendor.waits == [1.0, 1.0, 1.0]
    assert len(vendor.requests) == 4
    assert caught.value.status == 429
    assert caught.value.vendor_message == "slow down"


def test_5xx_after_retries_run_out_is_a_server_error() -> None:
    text = SPEC.replace("max_retries: 3", "max_retries: 1")
    vendor = _Vendor(_error(502, "bad gateway"), _error(502, "bad gateway"))
    with pytest.raises(VendorServerError) as caught:
        vendor.run(_spec(text))
    assert len(vendor.requests) == 2
    assert len(vendor.waits) == 1
    assert caught.value.status == 502


def test_malformed_json_in_a_200_is_a_response_error_naming_offset_and_excerpt() -> None:
    text = '{"data": [{"id": "a"}, {"id": "b",, "x": 1}]}'
    vendor = _Vendor(httpx.Response(200, headers={"content-type": "application/json"}, text=text))
    with pytest.raises(VendorResponseError) as caught:
        vendor.run()
    offset = text.index(",,") + 1
    error = caught.value
    assert error.details["offset"] == offset
    assert f"offset {offset}" in error.message
    assert '{"id": "b",, "x": 1}' in error.message
    assert vendor.waits == []


def test_empty_200_body_is_a_vendor_error_not_an_empty_result() -> None:
    vendor = _Vendor(httpx.Response(200, text=""))
    with pytest.raises(VendorResponseError, match="empty body"):
        vendor.run()


def test_timeout_is_retried_and_then_a_timeout_error() -> None:
    vendor = _Vendor(*[_raise(httpx.ReadTimeout) for _ in range(4)])
    with pytest.raises(VendorTimeoutError) as caught:
        vendor.run()
    assert len(vendor.requests) == 4
    assert len(vendor.waits) == 3
    assert caught.value.details["url"] == URL


def test_timeout_then_success_returns_rows() -> None:
    vendor = _Vendor(_raise(httpx.ReadTimeout), _ok("a"))
    assert [row["id"] for row in vendor.run()["result"]] == ["a"]
    assert len(vendor.waits) == 1


def test_connection_failure_is_a_transport_error_not_a_timeout() -> None:
    text = SPEC.replace("max_retries: 3", "max_retries: 0")
    vendor = _Vendor(_raise(httpx.ConnectError))
    with pytest.raises(TransportError) as caught:
        vendor.run(_spec(text))
    assert not isinstance(caught.value, VendorTimeoutError)
    assert "ConnectError" in caught.value.message


def _all_text(error: UnimeterError) -> str:
    return "\n".join([str(error), repr(error), error.message, json.dumps(error.to_dict(), default=str)])


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([_error(401, "Invalid API key")], id="auth"),
        pytest.param([_error(400, "bad request")], id="client"),
        pytest.param([_error(500, "boom")] * 4, id="server"),
        pytest.param([_raise(httpx.ReadTimeout)] * 4, id="timeout"),
        pytest.param([_raise(httpx.ConnectError)] * 4, id="connect"),
        pytest.param([httpx.Response(200, text="{not json")], id="malformed"),
    ],
)
def test_secret_credential_never_appears_in_an_error(answers: list[httpx.Response | Answer]) -> None:
    vendor = _Vendor(*answers)
    with pytest.raises(UnimeterError) as caught:
        vendor.run()
    assert SECRET not in _all_text(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_error(401, f"Incorrect API key provided: {SECRET}"), id="auth-error-echoes-key"),
        pytest.param(httpx.Response(200, text=f'{{"data": [], "key": "{SECRET}",,}}'), id="malformed-body-echoes-key"),
    ],
)
def test_secret_echoed_back_by_the_vendor_never_appears_in_an_error(answer: httpx.Response) -> None:
    # Vendors do echo keys ("Incorrect API key provided: sk-..."); errors.py promises messages never hold a secret.
    vendor = _Vendor(answer)
    with pytest.raises(UnimeterError) as caught:
        vendor.run()
    assert SECRET not in _all_text(caught.value)
