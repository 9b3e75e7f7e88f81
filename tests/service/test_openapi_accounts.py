"""``/openapi.json`` describes the accounts API too, and what the API answers matches what it describes."""

from __future__ import annotations

from pathlib import Path

import httpx
import jsonschema

from tests.helpers.service_helpers import make_harness
from unimeter.service.openapi import ACCOUNT_SCHEMA, ERROR_SCHEMA, openapi_document


def test_the_document_describes_every_accounts_operation() -> None:
    paths = openapi_document()["paths"]
    assert set(paths["/integrated-accounts"]) == {"get", "post"}
    assert {"get", "patch", "delete"} <= set(paths["/integrated-accounts/{account_id}"])
    assert openapi_document()["components"]["schemas"]["Account"] == ACCOUNT_SCHEMA
    operations = {op["operationId"] for path in paths.values() for op in path.values() if isinstance(op, dict)}
    assert {"createAccount", "listAccounts", "getAccount", "updateAccount", "deleteAccount"} <= operations


def test_accounts_answers_match_the_described_schemas(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        created = await client.post(
            "/integrated-accounts",
            json={
                "integration": "datadog",
                "credentials": {"api_key": "a-12345678", "application_key": "b-12345678"},
                "context": {"site": "datadoghq.eu"},
            },
        )
        account = created.json()["id"]
        return [
            created,
            await client.get(f"/integrated-accounts/{account}"),
            await client.patch(f"/integrated-accounts/{account}", json={"context": {"view": "summary"}}),
            await client.get("/integrated-accounts"),
            await client.post("/integrated-accounts", json={"integration": "datadog"}),
        ]

    created, fetched, patched, listed, refused = harness.run(scenario)
    for response in (created, fetched, patched):
        jsonschema.validate(response.json(), ACCOUNT_SCHEMA)
    for account in listed.json()["result"]:
        jsonschema.validate(account, ACCOUNT_SCHEMA)
    assert refused.status_code == 400
    jsonschema.validate(refused.json(), ERROR_SCHEMA)
