"""Validate every unified row against ``schemas/usage.schema.json``.

Validation stays on for every row, so it must be cheap: ``jsonschema-rs`` (a Rust validator) answers valid/invalid in
about 2 us a row, against ~13 us for ``fastjsonschema``'s generated Python and far more for ``jsonschema``'s
interpreter; only for a row that fails do we ask ``jsonschema`` for the best-placed error. Formats are asserted
(``date-time``), as the reference validator with a format checker does.

A row that fails is an error naming the integration, the mapping file, the record index and the JSON path of the
first problem a person should look at: rows are never dropped silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import jsonschema_rs

if TYPE_CHECKING:
    import jsonschema

from ..errors import RowValidationError
from ..resources import load_schema


@functools.cache
def _compiled_check() -> Callable[[Any], bool]:
    """The fast valid/invalid decision (built once per process)."""
    return cast(
        Callable[[Any], bool],
        jsonschema_rs.validator_for(load_schema("usage.schema.json"), validate_formats=True).is_valid,
    )


def is_valid_row(row: Any) -> bool:
    """Whether ``row`` is a valid Usage row (the fast check alone; :func:`validate_row` explains a failure)."""
    return _compiled_check()(row)


@functools.cache
def usage_validator() -> jsonschema.Draft202012Validator:
    """The reference validator, which places an error (built once per process); it asserts formats like the fast
    check, so the two never disagree on a date-time."""
    import jsonschema  # only to place a failing row's error: its import costs more than loading every mapping

    schema = load_schema("usage.schema.json")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def validate_row(row: dict[str, Any], *, integration: str, file: str, operation: str, record_index: int) -> None:
    """Raise :class:`RowValidationError` when ``row`` is not a valid Usage row."""
    if _compiled_check()(row):
        return
    fallback = "the row does not match the Usage schema"
    import jsonschema

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
