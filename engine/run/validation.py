"""Validate every unified row against ``schemas/usage.schema.json``.

Validation stays on for every row, so it must be cheap: ``fastjsonschema`` compiles the schema to Python once and
answers valid/invalid about 300 times faster than ``jsonschema``'s interpreter; only for a row that fails do we ask
``jsonschema`` for the best-placed error. (The schema uses no 2020-12-only keyword, so it compiles as draft-07.)

A row that fails is an error naming the integration, the mapping file, the record index and the JSON path of the
first problem a person should look at: rows are never dropped silently.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema

from ..errors import RowValidationError
from ..resources import load_schema


@functools.cache
def _compiled_check() -> Callable[[Any], Any]:
    # A deep copy: fastjsonschema rewrites the $refs of the schema it is given in place, and the loaded schema is
    # shared (the OpenAPI document embeds it).
    schema = {**copy.deepcopy(load_schema("usage.schema.json")), "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(schema)


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
    try:
        _compiled_check()(row)
        return
    except fastjsonschema.JsonSchemaException as compiled_error:
        fallback = str(compiled_error)
    error = jsonschema.exceptions.best_match(usage_validator().iter_errors(row))
    # Both validators implement the same schema; should only the compiled one object (a format check), its message
    # is reported rather than letting the row through.
    json_path = _json_path(error.absolute_path) if error else "$"
    message = error.message if error else fallback
    raise RowValidationError(
        f"{integration} ({file}, operation {operation!r}): the row built from record {record_index} is not a valid "
        f"Usage row at {json_path}: {message}",
        integration=integration,
        file=file,
        operation=operation,
        record_index=record_index,
        json_path=json_path,
    )
