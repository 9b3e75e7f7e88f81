"""The destination's columns, derived from the Usage schema: one flat, typed column per leaf field of a row.

Why derive them: a person querying the warehouse wants ``tokens_input``, not ``usage__tokens__input``, and one type per
column from the first load on. Inferring types from the data would give a count column whose first value is an
integer and a later one a fraction a second "variant" column, and money would become floating point. So every
closed object of ``schemas/usage.schema.json`` is flattened here into ``parent_child`` names (the ``usage`` object's
children lose its prefix: ``usage.tokens.input`` is ``tokens_input``), its types declared: strings are text,
date-times are timestamps (UTC), booleans are booleans, other numbers are doubles (counts and quantities, which the
API itself sends as JSON numbers; exact for whole numbers up to 2**53). Open objects (``usage.code.tool_actions``,
``usage.code.file_extensions``) and ``remote_data`` stay JSON. The two lists become child tables: ``charges`` (one
row per charge, ``amount`` an exact DECIMAL) and ``resources``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import MappingError
from ..resources import load_schema
from ..spec.functions import parse_instant

MONEY_PRECISION = 38
MONEY_SCALE = 18
"""Charge amounts are DECIMAL(38, 18): 20 digits before the point and 18 after, enough for any amount a vendor's API
writes as a JSON number; an amount with more decimal places is refused, never rounded."""

PREFIX_DROPPED = "usage"
"""The object whose children are named without its own name (``tokens_input``): the row's usage figures."""


@dataclass(frozen=True)
class Leaf:
    """One field of a row and the column it becomes."""

    path: tuple[str, ...]
    column: str
    data_type: str


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _resolve(defs[ref.rsplit("/", 1)[-1]], defs)
    return node


def _kind(node: dict[str, Any]) -> str:
    """The column type of a schema leaf."""
    kind = node.get("type")
    if kind == "string":
        return "timestamp" if node.get("format") == "date-time" else "text"
    if kind == "number" or kind == "integer":
        return "double"
    if kind == "boolean":
        return "bool"
    return "json"


def _walk(node: dict[str, Any], path: tuple[str, ...], defs: dict[str, Any], leaves: list[Leaf]) -> None:
    node = _resolve(node, defs)
    closed = node.get("additionalProperties") is False and "properties" in node
    if closed:
        for name, child in node["properties"].items():
            _walk(child, (*path, name), defs, leaves)
        return
    if node.get("type") == "array":
        return  # the lists are child tables (charges, resources), described by list_tables()
    shown = path[1:] if path[0] == PREFIX_DROPPED and len(path) > 1 else path
    leaves.append(Leaf(path, "_".join(shown), _kind(node)))


@functools.cache
def row_leaves() -> tuple[Leaf, ...]:
    """Every leaf of a Usage row (lists aside) and its column, in the schema's order. Names are unique (checked)."""
    schema = load_schema("usage.schema.json")
    leaves: list[Leaf] = []
    for name, child in schema["properties"].items():
        _walk(child, (name,), schema.get("$defs", {}), leaves)
    columns = [leaf.column for leaf in leaves]
    clashes = sorted({column for column in columns if columns.count(column) > 1})
    if clashes:
        raise MappingError(f"usage.schema.json: fields flatten to the same column name: {', '.join(clashes)}")
    return tuple(leaves)


@functools.cache
def item_leaves(field: str) -> tuple[Leaf, ...]:
    """The leaves of one item of the list ``field`` (``charges`` or ``resources``), flattened the same way."""
    schema = load_schema("usage.schema.json")
    defs = schema.get("$defs", {})
    items = _resolve(schema["properties"][field], defs)["items"]
    leaves: list[Leaf] = []
    for name, child in _resolve(items, defs)["properties"].items():
        _walk(child, (name,), defs, leaves)
    return tuple(leaves)


SYNC_COLUMNS: dict[str, str] = {
    "integration": "text",
    "integrated_account_id": "text",
    "environment": "text",
    "report": "text",
    "operation": "text",
    "final_at": "timestamp",
    "synced_at": "timestamp",
}
"""What the sync adds to every row: where it came from, and from when the vendor no longer revises it."""


def usage_columns() -> dict[str, dict[str, Any]]:
    """dlt column hints of the ``usage`` table, in order: the row's own leaves, then the sync's columns."""
    columns: dict[str, dict[str, Any]] = {}
    for leaf in row_leaves():
        columns[leaf.column] = {"data_type": leaf.data_type}
    columns["id"] = {"data_type": "text", "nullable": False, "primary_key": True}
    for name, data_type in SYNC_COLUMNS.items():
        columns[name] = {"data_type": data_type}
    return columns


def list_columns(field: str) -> dict[str, dict[str, Any]]:
    """dlt column hints of a child table; a charge's amount is the exact DECIMAL."""
    columns: dict[str, dict[str, Any]] = {leaf.column: {"data_type": leaf.data_type} for leaf in item_leaves(field)}
    if "amount" in columns:
        columns["amount"] = {"data_type": "decimal", "precision": MONEY_PRECISION, "scale": MONEY_SCALE}
    return columns


def exact_amount(value: Any, row_id: str) -> Decimal:
    """A charge amount as the exact decimal its JSON text shows (``repr`` of a float is that text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise MappingError(f"row {row_id}: charge amount {value!r} is not a number")
    if isinstance(value, Decimal):
        amount = value
    else:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or (isinstance(exponent, int) and -exponent > MONEY_SCALE):
        raise MappingError(
            f"row {row_id}: charge amount {amount} has more than {MONEY_SCALE} decimal places and cannot be stored "
            "exactly"
        )
    if amount.adjusted() >= MONEY_PRECISION - MONEY_SCALE:
        raise MappingError(f"row {row_id}: charge amount {amount} is too large to store exactly")
    return amount


def _value(leaf: Leaf, value: Any) -> Any:
    if leaf.data_type == "timestamp":
        return parse_instant(value)
    return value


def _get(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = row
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _items(row: dict[str, Any], field: str) -> list[dict[str, Any]]:
    items = []
    for item in row.get(field) or []:
        flat = {}
        for leaf in item_leaves(field):
            value = _get(item, leaf.path)
            if value is not None:
                flat[leaf.column] = _value(leaf, value)
        if "amount" in flat:
            flat["amount"] = exact_amount(flat["amount"], str(row.get("id")))
        items.append(flat)
    return items


def to_record(row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """One destination row from one unified row: flat leaves, the sync's ``extra`` columns, the two lists."""
    record: dict[str, Any] = {}
    for leaf in row_leaves():
        value = _get(row, leaf.path)
        if value is not None:
            record[leaf.column] = _value(leaf, value)
    record.update(extra)
    record["charges"] = _items(row, "charges")
    record["resources"] = _items(row, "resources")
    return record


def period_of(row: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """A row's ``[start_date, end_date)`` when it states both."""
    start, end = row.get("start_date"), row.get("end_date")
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    return parse_instant(start), parse_instant(end)
