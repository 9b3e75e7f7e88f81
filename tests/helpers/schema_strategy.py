"""A Hypothesis strategy for instances of a (simple) JSON Schema, enough for the vendors' response schemas.

hypothesis-jsonschema would be the well-kept choice, but its 0.23.1 release breaks on current Hypothesis internals
(AttributeError in ``from_object_schema``); the vendor schemas use a small subset of keywords, covered here. Every
generated instance is checked against the schema, so the strategy can be simple without being wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
from hypothesis import strategies as st

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=12),
    "integer": st.integers(min_value=-(10**6), max_value=10**9),
    "number": st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)),
    "boolean": st.booleans(),
    "null": st.none(),
}
_INSTANTS = st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))
_FORMATS: dict[str, st.SearchStrategy[Any]] = {
    "date-time": _INSTANTS.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "date": _INSTANTS.map(lambda d: d.strftime("%Y-%m-%d")),
    "uri": st.sampled_from(["https://example.com/next?page_token=abc", "https://example.com/x"]),
}


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _merge(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(root, schema)
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _merge(root, part)
        merged["properties"] = {**part.get("properties", {}), **merged.get("properties", {})}
        merged["required"] = sorted(set(part.get("required", [])) | set(merged.get("required", [])))
        merged.setdefault("type", part.get("type"))
    return merged


def _strategy(root: dict[str, Any], schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    schema = _merge(root, schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            return st.one_of(
                [
                    _strategy(root, {**{k: v for k, v in schema.items() if k != keyword}, **option}, depth)
                    for option in schema[keyword]
                ]
            )
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_strategy(root, {**schema, "type": k}, depth) for k in kind])
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if depth > 6:
            return st.fixed_dictionaries({name: _strategy(root, properties[name], depth + 1) for name in required})
        return st.fixed_dictionaries(
            {name: _strategy(root, sub, depth + 1) for name, sub in properties.items() if name in required},
            optional={
                name: _strategy(root, sub, depth + 1) for name, sub in properties.items() if name not in required
            },
        )
    if kind == "array":
        return st.lists(
            _strategy(root, schema.get("items", {}), depth + 1),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
        )
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return _SCALARS["string"]
    if kind in _SCALARS:
        return _SCALARS[kind]
    return st.one_of(_SCALARS["string"], _SCALARS["integer"], st.none())


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances of ``schema`` (a 2020-12 schema with local ``$defs``), each validated against it."""
    validator = jsonschema.Draft202012Validator(schema)
    return _strategy(schema, schema, 0).filter(validator.is_valid)
