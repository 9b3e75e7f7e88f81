"""A successful vendor answer without the shape the mapping reads is a typed vendor error, never "no more records":
an empty body, ``null``, ``{}`` or a 204 on any page of any integration fails the query instead of truncating it."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from tests.helpers.cases import Case, multi_request_cases, representative_case
from unimeter.errors import VendorResponseError
from unimeter.run.pipeline import alist_usage
from unimeter.spec import load_spec
from unimeter.testing.replay import ReplayTransport

EMPTY_ANSWERS: dict[str, dict[str, Any]] = {
    "empty-body": {"status": 200, "text": ""},
    "null": {"status": 200, "body": None},
    "empty-object": {"status": 200, "body": {}},
    "no-content-204": {"status": 204, "text": ""},
}


def _run(case: Case, exchanges: list[dict[str, Any]]) -> dict[str, Any]:
    return asyncio.run(
        alist_usage(
            case.integration,
            credentials=case.credentials,
            context=case.context,
            params=case.params,
            now=case.clock,
            transport=ReplayTransport(exchanges),
        )
    )


def _with_answer(case: Case, index: int, answer: dict[str, Any]) -> list[dict[str, Any]]:
    exchanges = copy.deepcopy(case.exchanges[: index + 1])
    exchanges[index]["response"] = {**answer, "headers": {"content-type": "application/json"}}
    return exchanges


@pytest.mark.parametrize("answer", sorted(EMPTY_ANSWERS))
def test_an_empty_first_answer_fails_every_integration(integration: str, answer: str) -> None:
    case = representative_case(integration)
    with pytest.raises(VendorResponseError) as raised:
        _run(case, _with_answer(case, 0, EMPTY_ANSWERS[answer]))
    assert raised.value.http_status == 502


@pytest.mark.parametrize("answer", sorted(EMPTY_ANSWERS))
@pytest.mark.parametrize("case", multi_request_cases(), ids=lambda case: case.id)
def test_an_empty_later_answer_fails_instead_of_truncating(case: Case, answer: str) -> None:
    last = len(case.exchanges) - 1
    assert _run(case, case.exchanges)["result"] == case.rows  # the recording itself is complete
    with pytest.raises(VendorResponseError, match=r"empty body|without|shape"):
        _run(case, _with_answer(case, last, EMPTY_ANSWERS[answer]))


SPEC = """\
name: quiet
label: Quiet
docs_url: https://example.com/docs
fills: [id]
base_url: https://api.quiet.example
auth: {kind: none}
operations:
  - name: list
    request: {method: GET, path: /usage}
    records: {jsonata: "data"}
    expect: {jsonata: "$type($) = 'null' or $type(data) = 'array'"}
    transform: {jsonata: "{'id': id}"}
"""


def test_a_mapping_can_declare_that_an_empty_answer_means_no_records() -> None:
    spec = load_spec("quiet.yaml", SPEC)
    exchange = {"request": {"method": "GET", "url": "https://api.quiet.example/usage"}}
    for answer in ({"status": 204, "text": ""}, {"status": 200, "text": ""}, {"status": 200, "body": {"data": []}}):
        transport = ReplayTransport([{**exchange, "response": answer}])
        assert asyncio.run(alist_usage(spec, transport=transport)) == {"result": [], "next_cursor": None}
    transport = ReplayTransport([{**exchange, "response": {"status": 200, "body": {"items": []}}}])
    with pytest.raises(VendorResponseError, match=r"operations\[0\]\.expect"):
        asyncio.run(alist_usage(spec, transport=transport))
