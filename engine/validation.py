"""Validate every unified row against ``schemas/usage.schema.json``.

A row that fails is an error naming the integration, the mapping file, the record index and the JSON path of the
first problem a person should look at: rows are never dropped silently.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from .errors import RowValidationError
from .spec import load_schema


@functools.cache
def usage_validator() -> jsonschema.Draft202012Validator:
    """The compiled Usage row validator (built once per process)."""
    return jsonschema.Draft202012Validator(load_schema("usage.schema.json"))


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def validate_row(row: dict[str, Any], *, integration: str, file: str, operation: str, record_index: int) -> None:
    """Raise :class:`RowValidationError` when ``row`` is not a valid Usage row."""
    error = jsonschema.exceptions.best_match(usage_validator().iter_errors(row))
    if error is None:
        return
    json_path = _json_path(error.absolute_path)
    raise RowValidationError(
        f"{integration} ({file}, operation {operation!r}): the row built from record {record_index} is not a valid "
        f"Usage row at {json_path}: {error.message}",
        integration=integration, file=file, operation=operation, record_index=record_index, json_path=json_path)
