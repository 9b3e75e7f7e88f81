"""A 403 is not always bad credentials: what the mapping declares as "not permitted" is a permission error that
leaves the account alone, while bad credentials still mark it ``needs_reauth``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.cases import load_case
from tests.helpers.service_helpers import USAGE, FixtureTransport, make_harness


@pytest.mark.parametrize(
    ("integration", "case_name", "error", "status"),
    [
        ("confluent", "forbidden", "remote_forbidden", "active"),
        ("datadog", "permission-denied", "remote_forbidden", "active"),
        ("datadog", "forbidden", "remote_unauthorized", "needs_reauth"),
        ("confluent", "unauthorized", "remote_unauthorized", "needs_reauth"),
    ],
)
def test_what_a_403_means_is_the_mappings_call(
    tmp_path: Path, integration: str, case_name: str, error: str, status: str
) -> None:
    case = load_case(integration, case_name)
    harness = make_harness(tmp_path, FixtureTransport(case.exchanges), now=case.clock)
    account = harness.add_account(integration, context=case.context)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account, **case.params})

    response = harness.run(scenario)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == error and response.json()["remote_status"] in (401, 403)
    assert harness.status(account) == status
