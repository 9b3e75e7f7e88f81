"""The fast yes/no on a mapping (jsonschema-rs) agrees with the reference validator that explains errors
(jsonschema): a mapping the fast check passed but the reference rejects would load with an unexplained mistake."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from unimeter.resources import builtin_mappings_dir, load_schema
from unimeter.spec.loader import _is_valid_spec
from unimeter.spec.yaml_source import load_yaml

SHIPPED = sorted(builtin_mappings_dir().glob("*.yaml"))


def _reference_valid(data: Any) -> bool:
    return not list(jsonschema.Draft202012Validator(load_schema("integration.schema.json")).iter_errors(data))


def _mutations(data: dict[str, Any]) -> list[Any]:
    """Each shipped mapping broken in the ways authors break one (and a few kept valid)."""
    out: list[Any] = [data]
    for key in ("name", "fills", "operations", "auth", "base_url"):
        broken = copy.deepcopy(data)
        broken.pop(key, None)
        out.append(broken)
    out.append({**copy.deepcopy(data), "nmae": "typo"})
    out.append({**copy.deepcopy(data), "name": "Not A Name"})
    out.append({**copy.deepcopy(data), "fills": "id"})
    out.append({**copy.deepcopy(data), "helpers": {"bad-name": {"jsonata": "function($v) { $v }"}}})
    out.append({**copy.deepcopy(data), "helpers": {"ok": {"jsonata": "function($v) { $v }"}}})
    operation = copy.deepcopy(data["operations"][0])
    for change in (
        {"money": "maybe"},
        {"nested": {"field": "results", "as": "9bad"}},
        {"nested": {"field": "results"}},
        {"pagination": {"kind": "sideways"}},
        {"request": {"method": "GET"}},
        {"records": 5},
    ):
        out.append({**copy.deepcopy(data), "operations": [{**operation, **change}]})
    params = copy.deepcopy(data.get("params") or {})
    for name in list(params)[:1]:
        out.append({**copy.deepcopy(data), "params": {**params, name: {**params[name], "type": "decimal"}}})
        out.append({**copy.deepcopy(data), "params": {**params, name: {**params[name], "list": "yes"}}})
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_fast_check_agrees_with_the_reference_validator(path: Any) -> None:
    data = load_yaml(path).data
    variants = _mutations(data)
    verdicts = [(_is_valid_spec()(v), _reference_valid(v)) for v in variants]
    assert [fast for fast, _ in verdicts] == [reference for _, reference in verdicts]
    assert verdicts[0] == (True, True) and sum(1 for fast, _ in verdicts if not fast) >= 10
