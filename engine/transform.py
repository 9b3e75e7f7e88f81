"""Turn one vendor response body into unified rows: select records, transform each, tidy, filter, validate.

Tidying applies the product's rules generically: the vendor record is attached as ``remote_data`` (unless the
transform set it), and nulls and empty objects are removed, because absent is not zero: a field the vendor did not
report is omitted, while a reported 0 stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import ExpressionEvaluationError, MappingError
from .spec import IntegrationSpec, OperationSpec
from .validation import validate_row


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {}
        for key, item in value.items():
            if key == "remote_data":
                pruned[key] = item
                continue
            cleaned = _prune(item)
            if cleaned is None or cleaned == {}:
                continue
            pruned[key] = cleaned
        return pruned
    if isinstance(value, list):
        return [item for item in (_prune(v) for v in value) if item is not None and item != {}]
    return value


def select_records(operation: OperationSpec, body: Any, bindings: dict[str, Any]) -> list[Any]:
    """The vendor records of one response, always as a list (JSONata collapses one-element sequences)."""
    records = operation.records.evaluate(body, bindings)
    if records is None:
        return []
    return records if isinstance(records, list) else [records]


def transform_records(spec: IntegrationSpec, operation: OperationSpec, records: list[Any],
                      bindings: dict[str, Any], *, first_index: int = 0,
                      keep_remote_data: bool = True) -> Iterator[dict[str, Any]]:
    """Unified rows for ``records``, validated, in vendor order."""
    for offset, record in enumerate(records):
        index = first_index + offset
        try:
            produced = operation.transform.evaluate(record, bindings)
        except ExpressionEvaluationError as error:
            raise ExpressionEvaluationError(
                f"{spec.name} ({spec.file}): transform of operation {operation.name!r} failed on record {index}: "
                f"{error.message}", record_index=index, **error.details) from None
        if produced is None:
            continue
        rows = produced if isinstance(produced, list) else [produced]
        for row in rows:
            if not isinstance(row, dict):
                raise MappingError(
                    f"{spec.name} ({spec.file}): transform of operation {operation.name!r} returned "
                    f"{type(row).__name__} for record {index}; it must return an object or an array of objects",
                    record_index=index)
            tidy = _prune(row)
            if keep_remote_data and "remote_data" not in tidy:
                tidy["remote_data"] = record
            if not keep_remote_data:
                tidy.pop("remote_data", None)
            if operation.filter is not None and not operation.filter.evaluate(tidy, bindings):
                continue
            validate_row(tidy, integration=spec.name, file=spec.file, operation=operation.name, record_index=index)
            yield tidy
