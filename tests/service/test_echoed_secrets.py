"""A vendor that echoes the credentials it received inside a successful answer leaks nothing through any output:
not ``debug``, not ``raw``, not ``unified`` remote_data, in any form (raw, base64 padded or not, URL-encoded)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.helpers.cases import representative_case
from tests.helpers.credentials import secret_values
from tests.helpers.service_helpers import USAGE, FixtureTransport, make_harness


def _forms(value: str) -> list[str]:
    encoded = base64.b64encode(value.encode()).decode()
    return [value, quote(value, safe=""), encoded, encoded.rstrip("=")]


class _Echo(FixtureTransport):
    """Answers with the recorded 200 bodies, each record and the body carrying every header received, in every
    encoding: a worst case of a vendor echoing its Authorization header back."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        body = response.json()
        echoed: dict[str, Any] = {}
        for name, value in request.headers.items():
            token = value.split(" ", 1)[-1]
            echoed[name] = [value, *_forms(token)]
        body = copy.deepcopy(body)
        body["echo"] = echoed
        for records in body.values():
            if isinstance(records, list):
                for record in records:
                    if isinstance(record, dict):
                        record["echo"] = echoed
        return httpx.Response(200, json=body, request=request)


@pytest.mark.parametrize("response_format", ["debug", "raw", "unified", "normalized", "stream"])
def test_an_echoed_credential_never_reaches_an_output(tmp_path: Path, integration: str, response_format: str) -> None:
    case = representative_case(integration)
    harness = make_harness(tmp_path, _Echo(case.exchanges), now=case.clock)
    account = harness.add_account(integration, context=case.context)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(
            USAGE, params={"integrated_account_id": account, "truto_response_format": response_format, **case.params}
        )

    response = harness.run(scenario)  # the harness also scans every body for the derived secrets
    assert response.status_code == 200, response.text[:500]
    assert "[REDACTED]" in response.text, "the echo did not come back at all: the test would prove nothing"
    for secret in secret_values(integration):
        for form in _forms(secret):
            assert form not in response.text, f"{response_format} shows a form of a secret: {form[:6]}..."
