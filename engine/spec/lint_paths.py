"""The paths an operation reads from a vendor response, checked against the response schema the operation names.

A wrong records path returns an empty result and a wrong cursor field stops after page 1, both without a word, and
replay cannot see it when the fixture was recorded with the same mistake. With ``response_schema:`` the lint follows
``records``, ``expect``, the pagination ``next``/``stop`` and (when ``records`` is a plain path, so a record's schema
is known; with ``nested:``, one item of the group's field, the group as ``$bucket``) the transform through the schema,
and warns about a field the schema does not have. A warning, not an
error: vendor schemas are open and may lag the API.

Only plain field steps are followed (``a.b.c``, ``a[0].b``, ``$x.b`` for ``$x := a``; predicates are not looked
into). Anything dynamic (a function's result, a lambda's argument, ``*``, ``**``, ``%``, ``@``, ``#``, sorting,
grouping, ``$headers``) ends the walk of that path: it is skipped, never guessed. A bare ``undefined`` is JSONata's
idiom for "no value" (a field nobody has), not a read. A field read on purpose though the schema lacks it (an
undocumented spelling the vendor is known to send) is declared in a comment of the expression,
``/* undocumented: actor.email */``, and not reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lint_ast import attr, kind, parse, start
from .lint_schema import FOUND, MISSING, UNKNOWN, ResponseSchema, SchemaFileError
from .yaml_source import KeyPath

Warn = Callable[[int, str, str], None]
# report(message, key path of the expression or key, character offset in the expression or None, is_warning)
Report = Callable[[str, KeyPath, int | None, bool], None]


@dataclass(frozen=True)
class _Context:
    """What a JSONata expression is looking at: the schemas it may match and how to name it in a message."""

    schemas: tuple[Any, ...]
    label: str


class _Walker:
    """Follows one expression's field steps through a schema; reports each step the schema does not have."""

    def __init__(self, source: str, schema: ResponseSchema, root: _Context, root_level: str, warn: Warn) -> None:
        self.source, self.schema, self.root, self.root_level, self.warn = source, schema, root, root_level, warn
        self.undocumented = _undocumented(source)

    def walk(self, node: Any, here: _Context | None, env: dict[str, _Context | None]) -> _Context | None:
        """Check ``node`` evaluated against ``here`` (None: unknown); return what it evaluates to when that is a
        known part of the response, else None."""
        what = kind(node)
        if what == "path":
            return self._path(node, here, env)
        if what == "name":
            return self._name(node, here)
        if what == "variable":
            name = attr(node, "value")
            if name == "":
                return here
            if name == "$":
                return self.root
            return env.get(str(name))
        if what == "block":
            inner = dict(env)
            result = None
            for expression in attr(node, "expressions") or []:
                result = self.walk(expression, here, inner)
            return result
        if what == "bind":
            result = self.walk(attr(node, "rhs"), here, env)
            target = attr(node, "lhs")
            if kind(target) == "variable":
                env[str(attr(target, "value"))] = result
            return result
        if what == "lambda":
            inner = dict(env)
            for argument in attr(node, "arguments") or []:
                inner[str(attr(argument, "value"))] = None
            self.walk(attr(node, "body"), None, inner)
            return None
        if what in ("function", "partial"):
            for argument in attr(node, "arguments") or []:
                self.walk(argument, here, env)
            return None
        if what == "condition":
            self.walk(attr(node, "condition"), here, env)
            then = self.walk(attr(node, "then"), here, env)
            otherwise = attr(node, "_else")
            if otherwise is None:
                return then
            other = self.walk(otherwise, here, env)
            if then is not None and other is not None and then.label == other.label:
                return _Context(then.schemas + other.schemas, then.label)
            return None
        if what in ("binary", "apply"):
            self.walk(attr(node, "lhs"), here, env)
            self.walk(attr(node, "rhs"), here, env)
            return None
        if what == "unary":
            for pair in attr(node, "lhs_object") or []:
                for part in pair:
                    self.walk(part, here, env)
            for expression in attr(node, "expressions") or []:
                self.walk(expression, here, env)
            if attr(node, "expression") is not None:
                self.walk(attr(node, "expression"), here, env)
            return None
        return None  # literals, regexes, and what is not followed (sort, transform, wildcards, parent)

    def _path(self, node: Any, here: _Context | None, env: dict[str, _Context | None]) -> _Context | None:
        steps = attr(node, "steps") or []
        if len(steps) == 1 and kind(steps[0]) == "name" and attr(steps[0], "value") == "undefined":
            return None
        current = here
        for step in attr(node, "steps") or []:
            current = self.walk(step, current, env)
            if attr(step, "focus") or attr(step, "index") or attr(step, "tuple") or kind(step) in ("sort", "parent"):
                current = None
        if attr(node, "group") is not None:
            return None
        return current

    def _name_lookup(self, name: str, here: _Context) -> list[Any] | None:
        """The schemas of field ``name`` of ``here`` when every schema there is known to have it, else None."""
        found: list[Any] = []
        for schema in here.schemas:
            result = self.schema.lookup(schema, name)
            if result.status != FOUND:
                return None
            found.extend(result.schemas)
        return found

    def _name(self, node: Any, here: _Context | None) -> _Context | None:
        if here is None:
            return None
        name = str(attr(node, "value"))
        found: list[Any] = []
        names: set[str] = set()
        missing = True
        for schema in here.schemas:
            result = self.schema.lookup(schema, name)
            names |= result.names
            if result.status == UNKNOWN:
                return None
            if result.status != MISSING:
                missing = False
                found.extend(result.schemas)
        path = f"{here.label}.{name}" if here.label else name
        if missing and path not in self.undocumented:
            level = f"{here.label!r}" if here.label else self.root_level
            listed = ", ".join(sorted(names)) or "no fields"
            guess = difflib.get_close_matches(name, sorted(names), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            self.warn(start(self.source, node), path, f"{level} has {listed}{hint}")
            return None
        return _Context(tuple(found), path)


def _undocumented(source: str) -> set[str]:
    """The paths an expression's ``/* undocumented: a.b, c */`` comments declare as read on purpose."""
    paths: set[str] = set()
    for comment in re.findall(r"/\*(.*?)\*/", source, re.S):
        if "undocumented:" in comment:
            paths.update(re.findall(r"[A-Za-z_][\w.-]*", comment.split("undocumented:", 1)[1]))
    return paths


def expressions(data: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """(key path, source) of each JSONata expression in a template (a ``{jsonata: ...}`` or an object/array of them)."""
    if isinstance(data, dict):
        if set(data) == {"jsonata"} and isinstance(data["jsonata"], str):
            yield (*path, "jsonata"), data["jsonata"]
            return
        for key, value in data.items():
            yield from expressions(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from expressions(value, (*path, index))


def _plain_path(tree: Any) -> bool:
    """``data``, ``data[]``, ``a.b[0]``: field steps only, so its result is a known part of the response."""
    if kind(tree) == "name":
        return True
    steps = attr(tree, "steps") or []
    return kind(tree) == "path" and bool(steps) and all(kind(step) == "name" for step in steps)


def response_path_problems(mapping_file: str, data: dict[str, Any], report: Report) -> None:
    """Check every operation that names a ``response_schema``; see the module docstring."""
    for index, operation in enumerate(data.get("operations") or []):
        reference = operation.get("response_schema")
        if not isinstance(reference, str):
            continue
        key: KeyPath = ("operations", index, "response_schema")
        try:
            schema = ResponseSchema.read(Path(mapping_file).parent / reference)
        except SchemaFileError as error:
            report(f"response_schema {reference}: {error}", key, None, False)
            continue
        _check_operation(operation, ("operations", index), reference, schema, report)


def _check_operation(
    operation: dict[str, Any], path: KeyPath, reference: str, schema: ResponseSchema, report: Report
) -> None:
    body = _Context((schema.root,), "")
    roles: list[tuple[str, KeyPath, Any]] = [("records", (*path, "records"), operation.get("records"))]
    roles.append(("expect", (*path, "expect"), operation.get("expect")))
    pagination = operation.get("pagination") or {}
    for key in ("next", "stop"):
        roles.append((f"pagination {key}", (*path, "pagination", key), pagination.get(key)))
    record: _Context | None = None
    for role, key_path, template in roles:
        for expression_path, source in expressions(template, key_path):
            tree = parse(source)
            if tree is None:
                continue
            result = _walk(tree, source, schema, body, role, reference, expression_path, report)
            if role == "records" and _plain_path(tree) and result is not None:
                items = tuple(item for found in result.schemas for item in schema.items(found))
                record = _Context(items, "")
    if record is None:
        return  # records builds its own objects (or is dynamic): a record's shape is not the schema's
    env: dict[str, _Context | None] = {}
    nested = operation.get("nested")
    if isinstance(nested, dict) and isinstance(nested.get("field"), str):
        # nested: the transform reads one item of each record's `field`, with the record bound as $as.
        bind_as = str(nested.get("as", "bucket"))
        env[bind_as] = _Context(record.schemas, f"${bind_as}")
        group = _Walker("", schema, record, "a record", lambda *_: None)._name_lookup(nested["field"], record)
        if group is None:
            return
        record = _Context(tuple(item for found in group for item in schema.items(found)), "")
    for expression_path, source in expressions(operation.get("transform"), (*path, "transform")):
        tree = parse(source)
        if tree is not None:
            _walk(tree, source, schema, record, "the transform", reference, expression_path, report, "a record", env)


def _walk(
    tree: Any,
    source: str,
    schema: ResponseSchema,
    root: _Context,
    role: str,
    reference: str,
    key_path: KeyPath,
    report: Report,
    root_level: str = "the response",
    env: dict[str, _Context | None] | None = None,
) -> _Context | None:
    def warn(offset: int, path: str, detail: str) -> None:
        message = f"{role} reads {path!r}, which the response schema {reference} does not have: {detail}"
        report(message, key_path, offset, True)

    return _Walker(source, schema, root, root_level, warn).walk(tree, root, dict(env or {}))
