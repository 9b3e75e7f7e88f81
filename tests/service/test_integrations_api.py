"""``GET /integrations`` and ``GET /integrations/{name}``: the same data as docs/integrations.md, behind the API
token like every route, described in /openapi.json, never holding a credential value."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers.service_helpers import make_harness
from unimeter.docs_gen import integration_info, integrations_info
from unimeter.service.openapi import openapi_document


def test_the_routes_answer_the_data_of_the_generated_page(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)

    async def scenario(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
        return {
            "all": await client.get("/integrations"),
            "one": await client.get("/integrations/openai"),
            "unknown": await client.get("/integrations/nope"),
            "anonymous": await client.get("/integrations", headers={"authorization": ""}),
            "anonymous_one": await client.get("/integrations/openai", headers={"authorization": "Bearer wrong"}),
        }

    answers = harness.run(scenario)
    assert answers["all"].status_code == 200
    assert answers["all"].json()["result"] == integrations_info()
    one = answers["one"].json()
    assert one == integration_info("openai")
    assert one["credentials"][0]["name"] == "api_key" and "value" not in one["credentials"][0]
    assert {op["money"] for op in one["operations"]} == {"billed", "none"}
    assert "charges" in one["fills"]
    assert answers["unknown"].status_code == 404
    assert answers["unknown"].json()["error"] == "unknown_integration"
    assert "available: " in answers["unknown"].json()["message"]
    assert answers["anonymous"].status_code == 401
    assert answers["anonymous_one"].status_code == 401


def test_the_document_describes_the_integrations_routes() -> None:
    paths = openapi_document()["paths"]
    assert paths["/integrations"]["get"]["operationId"] == "listIntegrations"
    assert set(paths["/integrations/{name}"]["get"]["responses"]) == {"200", "401", "404"}
