"""Lint checks that a schema cannot make and replay would miss: names an expression uses that the mapping never
declares, ``fills`` entries that are not fields of the Usage schema, and (lint_paths) the paths an operation reads
from a response that its ``response_schema`` does not have.

The expression scan is tokenizer-level: string literals, comments and backquoted names are skipped, so
``"$params.x"`` in a string is not a reference. A mistake is located at its YAML line and column, inside a
``jsonata: |`` block scalar too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import SpecError
from ..resources import load_schema
from .functions import FUNCTIONS
from .jsonata_names import JSONATA_BUILTINS as _JSONATA_BUILTINS
from .lint_fills import fills_problems
from .lint_paths import expressions, response_path_problems
from .scope import ENGINE_BINDINGS
from .yaml_source import KeyPath, SourceDocument, format_key_path


class LintWarning(SpecError):
    """A lint finding that may be right as written (e.g. a path an open vendor schema does not list): shown as
    ``file:line:col: warning: ...``; ``unimeter lint`` fails on it only with ``--strict``."""

    code = "spec_warning"

    def __init__(self, message: str, **where: Any) -> None:
        super().__init__(f"warning: {message}", **where)


_DECLARED = ("credentials", "params", "context")
# The pagination keys each kind reads (engine/run/pagination.py); any other key is ignored at run time.
_PAGINATION_KEYS = {
    "none": set(),
    "cursor": {"next", "stop"},
    "next_url": {"next", "stop"},
    "page": {"start", "stop"},
    "offset": {"start", "limit", "stop"},
    "link_header": {"stop"},
}
_DOLLAR_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(\s*\()?")
_BOUND = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*:=")
_FUNCTION_PARAMS = re.compile(r"(?:function|λ)\s*\(([^)]*)\)")
_REFERENCE = re.compile(r"\$(credentials|params|context)\.([A-Za-z_][A-Za-z0-9_]*)")


def _code_spans(source: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each stretch of ``source`` outside strings, comments and backquoted names."""
    index, start, length = 0, 0, len(source)
    while index < length:
        char = source[index]
        if char in "\"'`":
            yield start, source[start:index]
            end = index + 1
            while end < length and source[end] != char:
                end += 2 if source[end] == "\\" else 1
            index = start = end + 1
            continue
        if source.startswith("/*", index):
            yield start, source[start:index]
            end = source.find("*/", index + 2)
            index = start = length if end < 0 else end + 2
            continue
        index += 1
    yield start, source[start:]


def source_position(document: SourceDocument, lines: list[str], path: KeyPath, offset: int) -> tuple[int, int]:
    """YAML (line, column) of character ``offset`` of the expression at ``path`` (inside a block scalar too)."""
    key_line, key_column = document.position(path) or (1, 1)
    key_text = lines[key_line - 1] if key_line - 1 < len(lines) else ""
    after_key = key_text[key_column - 1 :].split(":", 1)[-1].strip()
    before = document_value(document, path)[:offset]
    row, column = before.count("\n"), offset - (before.rfind("\n") + 1)
    if after_key[:1] in ("|", ">"):
        first = key_line + 1
        while first - 1 < len(lines) and not lines[first - 1].strip():
            first += 1
        content = lines[first - 1] if first - 1 < len(lines) else ""
        indent = len(content) - len(content.lstrip(" "))
        return first + row, indent + column + 1
    value_column = key_text.find(after_key, key_column - 1)
    quote = 1 if after_key[:1] in ("'", '"') else 0
    return key_line + row, (value_column + quote + column + 1 if value_column >= 0 and not row else column + 1)


def document_value(document: SourceDocument, path: KeyPath) -> str:
    value: Any = document.data
    for part in path:
        value = value[part]
    return str(value)


def semantic_problems(document: SourceDocument, text: str) -> list[SpecError]:
    """Undeclared ``$credentials.X`` / ``$params.X`` / ``$context.X`` and ``fills`` outside the Usage schema."""
    data: dict[str, Any] = document.data
    lines = text.splitlines()
    problems: list[SpecError] = []
    seen: set[tuple[int | None, int | None, str]] = set()

    def report(message: str, path: KeyPath, where: tuple[int, int] | None = None, warning: bool = False) -> None:
        line, column = where or document.position(path) or (None, None)
        found = (LintWarning if warning else SpecError)(
            message, file=document.file, line=line, column=column, key_path=format_key_path(path)
        )
        if (line, column, message) not in seen:  # a YAML anchor shared by several operations: reported once
            seen.add((line, column, message))
            problems.append(found)

    def report_at(message: str, path: KeyPath, offset: int | None, warning: bool) -> None:
        where = source_position(document, lines, path, offset) if offset is not None else None
        report(message, path, where, warning)

    declared = {kind: set(data.get(kind) or {}) for kind in _DECLARED}
    declared["context"].add("base_url")
    # Names the mapping defines itself: its helpers (functions in every expression) and each nested.as binding.
    own_names = set(data.get("helpers") or {}) | {
        (operation.get("nested") or {}).get("as", "bucket")
        for operation in data.get("operations") or []
        if isinstance(operation, dict) and operation.get("nested")
    }
    for path, source in expressions(data, ()):
        spans = list(_code_spans(source))
        code_only = " ".join(code for _, code in spans)
        bound = set(_BOUND.findall(code_only))
        for params in _FUNCTION_PARAMS.findall(code_only):
            bound.update(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", params))
        for start, code in spans:
            for match in _DOLLAR_NAME.finditer(code):
                name, call = match.group(1), match.group(2)
                if name in bound or name in ENGINE_BINDINGS or name in own_names:
                    continue
                if name in _JSONATA_BUILTINS or name in FUNCTIONS:
                    continue
                where = source_position(document, lines, path, start + match.start())
                what = "unknown function" if call else "undefined variable"
                report(f"{what} ${name}", path, where)
            for match in _REFERENCE.finditer(code):
                kind, name = match.groups()
                if name not in declared[kind]:
                    singular = {"credentials": "credential", "params": "parameter", "context": "context field"}[kind]
                    where = source_position(document, lines, path, start + match.start())
                    report(f"undeclared {singular} ${kind}.{name} (declare it under {kind}:)", path, where)

    for index, operation in enumerate(data.get("operations") or []):
        pagination = operation.get("pagination") or {}
        kind = pagination.get("kind", "none")
        meaningful = _PAGINATION_KEYS.get(kind)
        for key in pagination:
            if meaningful is not None and key not in (*meaningful, "kind", "max_pages"):
                report(
                    f"pagination key {key!r} means nothing for kind {kind!r}",
                    ("operations", index, "pagination", key),
                )

    schema = load_schema("usage.schema.json")
    fields = set(schema["properties"]) | {f"usage.{g}" for g in schema["$defs"]["usage"].get("properties", {})}
    for index, entry in enumerate(data.get("fills") or []):
        if entry not in fields:
            report(f"fills entry {entry!r} is not a field of the Usage schema", ("fills", index))
    fills_problems(data, fields, report_at)
    response_path_problems(document.file, data, report_at)
    return problems
