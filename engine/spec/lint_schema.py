"""Just enough of a JSON Schema (draft 2020-12, local ``$defs``/``$ref``) to ask "does this object have a field X?".

The lint follows the paths a mapping reads from a vendor response through the vendor's schema. It must never claim a
field is missing when the schema leaves room for it, so every question has three answers: the schema has the field,
it does not (it lists the fields of that level and X is not one), or it cannot say (an empty schema, a remote
``$ref``, a map with ``additionalProperties``). Only the second is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Lookup outcomes.
FOUND, MISSING, UNKNOWN = "found", "missing", "unknown"


class SchemaFileError(ValueError):
    """The schema file cannot be read, is not JSON, or is not a JSON Schema object."""


@dataclass
class Lookup:
    """What a schema says about one field: ``status`` (FOUND, MISSING or UNKNOWN), the field's schemas when found,
    and the field names the level has (for the message when it is missing)."""

    status: str
    schemas: list[Any] = field(default_factory=list)
    names: set[str] = field(default_factory=set)


class ResponseSchema:
    """One vendor response schema file, with its local ``$ref`` targets resolved on demand."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    @classmethod
    def read(cls, path: Path) -> ResponseSchema:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SchemaFileError(f"cannot read it: {error.strerror or error}") from None
        try:
            root = json.loads(text)
        except ValueError as error:
            raise SchemaFileError(f"it is not JSON: {error}") from None
        if not isinstance(root, dict):
            raise SchemaFileError("it is not a JSON Schema (a JSON object)")
        return cls(root)

    def _target(self, ref: str) -> Any:
        """The schema a local ``#/...`` reference points to, or None (remote or broken: unknown)."""
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def lookup(self, schema: Any, name: str, depth: int = 0) -> Lookup:
        """Field ``name`` of a value described by ``schema``. An array is looked into (JSONata maps a field step over
        its items); allOf/anyOf/oneOf branches and ``$ref`` count as found if any branch has the field."""
        if depth > 32 or not isinstance(schema, dict) or not schema:
            return Lookup(UNKNOWN)
        branches: list[Any] = [self._target(schema["$ref"])] if isinstance(schema.get("$ref"), str) else []
        for key in ("allOf", "anyOf", "oneOf"):
            branches.extend(schema.get(key) or [])
        array_items = [schema["items"]] if isinstance(schema.get("items"), dict) else []
        array_items.extend(schema.get("prefixItems") or [])
        branches.extend(array_items)
        properties = schema.get("properties")
        names = set(properties) if isinstance(properties, dict) else set()
        if isinstance(properties, dict) and name in properties:
            return Lookup(FOUND, [properties[name]], names)
        for pattern, sub in (schema.get("patternProperties") or {}).items():
            if re.search(pattern, name):
                return Lookup(FOUND, [sub], names)
        found: list[Any] = []
        unknown = False
        for branch in branches:
            result = self.lookup(branch, name, depth + 1)
            names |= result.names
            if result.status == FOUND:
                found.extend(result.schemas)
            unknown = unknown or result.status == UNKNOWN
        if found:
            return Lookup(FOUND, found, names)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return Lookup(FOUND, [extra], names)
        if unknown:
            return Lookup(UNKNOWN, names=names)
        if names or branches or _is_scalar(schema):
            return Lookup(MISSING, names=names)
        return Lookup(UNKNOWN)

    def items(self, schema: Any, depth: int = 0) -> list[Any]:
        """What one record of ``schema`` is: the items of an array (recursively, as JSONata flattens), else itself."""
        if depth > 32 or not isinstance(schema, dict):
            return [schema]
        if isinstance(schema.get("$ref"), str) and "items" not in schema:
            target = self._target(schema["$ref"])
            if isinstance(target, dict) and ("items" in target or "$ref" in target):
                return self.items(target, depth + 1)
        if isinstance(schema.get("items"), dict):
            return self.items(schema["items"], depth + 1)
        return [schema]


def _is_scalar(schema: dict[str, Any]) -> bool:
    """A schema whose value cannot be an object (a string, a number, an enum of them) has no fields; an object that
    lists none is open."""
    declared = schema.get("type")
    if declared is not None:
        types = declared if isinstance(declared, list) else [declared]
        return "object" not in types and "array" not in types  # an array with items was looked into above
    if "enum" in schema:
        return not any(isinstance(value, dict) for value in schema["enum"])
    if "const" in schema:
        return not isinstance(schema["const"], dict)
    return False
