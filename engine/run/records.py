"""Turn one vendor response body into unified rows: select records, transform each, tidy, filter, validate.

Tidying applies the product's rules generically: the vendor record is attached as ``remote_data`` (unless the
transform set it), and nulls and empty objects are removed, because absent is not zero: a field the vendor did not
report is omitted, while a reported 0 stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import ExpressionEvaluationError, MappingError, VendorResponseError
from ..spec.model import IntegrationSpec, OperationSpec
from ..spec.scope import Scope
from .validation import validate_row


def _pruned_dict(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` without nulls and empty objects (``remote_data`` left untouched), copied only where something goes.

    Never in place: a row may hold the vendor's own objects (a transform that passes ``tokenUsage`` through hands
    JSONata's input dict on), which are also the row's ``remote_data``; pruning them in place would drop the nulls
    the vendor sent from the record. The common case, nothing to drop, costs one type test per value and no copy.
    """
    result: dict[str, Any] | None = None
    for key, item in value.items():
        kind = type(item)
        if kind is dict:
            new: Any = item if key == "remote_data" else (_pruned_dict(item) or None)
        elif kind is list:
            new = item if key == "remote_data" else _pruned_list(item)
        elif item is None:
            new = None
        else:
            if result is not None:
                result[key] = item
            continue
        if new is item and item is not None:
            if result is not None:
                result[key] = item
            continue
        if result is None:  # the first change: copy what came before it
            result = {}
            for earlier, kept in value.items():
                if earlier == key:
                    break
                result[earlier] = kept
        if new is not None:
            result[key] = new
    return value if result is None else result


def _pruned_list(value: list[Any]) -> list[Any]:
    result: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if kind is dict:
            new: Any = _pruned_dict(item) or None
        elif kind is list:
            new = _pruned_list(item)
        elif item is None:
            new = None
        else:
            if result is not None:
                result.append(item)
            continue
        if new is item and item is not None:
            if result is not None:
                result.append(item)
            continue
        if result is None:
            result = value[:index]
        if new is not None:
            result.append(new)
    return value if result is None else result


_SIMPLE_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\[\])?\s*$")


def _plain_lookup(source: str, body: Any) -> tuple[bool, Any]:
    """``data`` / ``a.b[]`` looked up in Python when every step is an object: the records stay the body's own
    objects instead of a copy made through JSONata (a large page would otherwise be held twice)."""
    match = _SIMPLE_PATH.match(source)
    if match is None:
        return False, None
    value = body
    for step in match.group(1).split("."):
        if not isinstance(value, dict):
            return (value is None), None
        value = value.get(step)
    if isinstance(value, list) and any(isinstance(item, list) for item in value):
        return False, None  # JSONata would flatten nested arrays: leave that to it
    return True, value


def check_answer(spec: IntegrationSpec, operation: OperationSpec, body: Any, scope: Scope) -> None:
    """A successful answer has the shape the operation reads, or the call fails: an empty body, ``null``, ``{}`` or
    a 204 is never taken for "no more records" (which would silently truncate the result)."""
    if operation.expect is not None:
        if operation.expect.evaluate(body, scope) is not True:
            raise VendorResponseError(
                f"{spec.label} answered with a body that does not have the shape {spec.name} expects "
                f"({operation.expect.key_path}): {_describe(body)}"
            )
        return
    if body is None:
        raise VendorResponseError(f"{spec.label} answered with an empty body where {spec.name} expects records")
    expression = operation.records.expression
    match = _SIMPLE_PATH.match(expression.source) if expression is not None else None
    if match is None:
        if not isinstance(body, dict | list):
            raise VendorResponseError(f"{spec.label} answered with {_describe(body)}, not a JSON object or array")
        return
    first = match.group(1).split(".")[0]
    if not isinstance(body, dict) or first not in body:
        raise VendorResponseError(
            f"{spec.label} answered without {first!r}, where {spec.name} reads its records: {_describe(body)}"
        )


def _describe(body: Any) -> str:
    if body is None:
        return "no body"
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:8]) or "no keys"
        return f"an object ({keys})"
    return f"a JSON {type(body).__name__}"


def select_records(operation: OperationSpec, body: Any, scope: Scope) -> list[Any]:
    """The vendor records of one response, always as a list (JSONata collapses one-element sequences)."""
    expression = operation.records.expression
    found, records = _plain_lookup(expression.source, body) if expression is not None else (False, None)
    if not found:
        records = operation.records.evaluate(body, scope)
    if records is None:
        return []
    return records if isinstance(records, list) else [records]


class NestedRecord:
    """One record of a group (``nested:``): the item the transform reads, the scope binding its group, and the
    group as the vendor sent it (the row's remote_data holds the group with only this item in ``field``)."""

    __slots__ = ("field", "group", "item", "scope")

    def __init__(self, item: Any, group: dict[str, Any], field: str, scope: Scope) -> None:
        self.item = item
        self.group = group
        self.field = field
        self.scope = scope

    def remote_data(self) -> dict[str, Any]:
        return {key: ([self.item] if key == self.field else value) for key, value in self.group.items()}


def expand_nested(spec: IntegrationSpec, operation: OperationSpec, groups: list[Any], scope: Scope) -> list[Any]:
    """The records that make rows: the selected records themselves, or with ``nested:`` the items of each group,
    in vendor order. A group that is not an object, or whose ``field`` is neither an array nor absent/null, is a
    vendor response error: skipping it would silently lose its records."""
    nested = operation.nested
    if nested is None:
        return groups
    items: list[Any] = []
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            raise VendorResponseError(
                f"{spec.label} sent record {index} as {_describe(group)} where {spec.name} expects a group object "
                f"holding {nested.field!r} ({operation.name}: nested)"
            )
        inner = group.get(nested.field)
        if inner is None:
            continue
        if not isinstance(inner, list):
            raise VendorResponseError(
                f"{spec.label} sent {nested.field!r} of record {index} as {_describe(inner)}, not an array "
                f"({spec.name} {operation.name}: nested)"
            )
        head = {key: value for key, value in group.items() if key != nested.field}
        group_scope = scope.at(named={nested.bind_as: head})
        items.extend(NestedRecord(item, group, nested.field, group_scope) for item in inner)
    return items


def transform_records(
    spec: IntegrationSpec,
    operation: OperationSpec,
    records: list[Any],
    scope: Scope,
    *,
    first_index: int = 0,
    keep_remote_data: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(record index, unified row)`` for ``records``, validated, in vendor order."""
    file_name = spec.file_name
    for offset, record in enumerate(records):
        index = first_index + offset
        record_scope = scope
        if type(record) is NestedRecord:
            record_scope = record.scope
        try:
            produced = operation.transform.evaluate(
                record.item if type(record) is NestedRecord else record, record_scope
            )
        except ExpressionEvaluationError as error:
            raise ExpressionEvaluationError(
                f"{spec.name} ({spec.file_name}): transform of operation {operation.name!r} failed on record {index}: "
                f"{error.message}",
                record_index=index,
                **error.details,
            ) from None
        if produced is None:
            continue
        rows = produced if isinstance(produced, list) else [produced]
        for row in rows:
            if not isinstance(row, dict):
                raise MappingError(
                    f"{spec.name} ({spec.file_name}): transform of operation {operation.name!r} returned "
                    f"{type(row).__name__} for record {index}; it must return an object or an array of objects",
                    record_index=index,
                )
            tidy = _pruned_dict(row)
            # The filter sees the unified row without remote_data: it decides on unified fields, and handing the
            # vendor record to JSONata a second time per row would double the cost of a filtered mapping.
            if operation.filter is not None:
                own_remote = tidy.pop("remote_data", None)
                if not operation.filter.evaluate(tidy, record_scope):
                    continue
                if own_remote is not None:
                    tidy["remote_data"] = own_remote
            if keep_remote_data and "remote_data" not in tidy:
                tidy["remote_data"] = record.remote_data() if type(record) is NestedRecord else record
            if not keep_remote_data:
                tidy.pop("remote_data", None)
            validate_row(tidy, integration=spec.name, file=file_name, operation=operation.name, record_index=index)
            yield index, tidy
