"""Shape unified rows for the response formats and options of the reference.

``normalized`` flattens a row to one level with dotted keys (``usage.tokens.input``), keeping arrays as arrays, for a
table or CSV. ``truto_exclude_fields`` removes fields by dotted path; ``truto_key_by`` turns the result list into an
object keyed by a field, where a missing or duplicate key is an error rather than a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import KeyByError

RESPONSE_FORMATS = ("unified", "raw", "normalized", "stream", "debug")


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One level, dotted keys; ``remote_data`` and arrays stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "remote_data" and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def exclude_fields(row: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``row`` without the dotted ``paths`` (missing paths are ignored); emptied objects are dropped."""
    result: dict[str, Any] = _copy(row)
    for path in paths:
        parts = path.split(".")
        _remove(result, parts)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _remove(node: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in node:
        return
    if not rest:
        del node[head]
        return
    child = node[head]
    if isinstance(child, dict):
        _remove(child, rest)
        if not child:
            del node[head]


def _lookup(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def key_by(rows: list[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    """``{row[field]: row}``; every row must have a distinct scalar value there."""
    keyed: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        value = _lookup(row, field)
        if value is None or isinstance(value, dict | list):
            raise KeyByError(
                f"truto_key_by={field!r}: row {index} (id {row.get('id')!r}) has no scalar value there",
                parameter="truto_key_by",
            )
        key = str(value)
        if key in keyed:
            raise KeyByError(
                f"truto_key_by={field!r}: rows {row.get('id')!r} and {keyed[key].get('id')!r} share the "
                f"key {key!r}; choose a unique field such as id",
                parameter="truto_key_by",
            )
        keyed[key] = row
    return keyed
