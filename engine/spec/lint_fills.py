"""``fills`` against the keys the transforms can produce.

``fills`` is what users read to know which unified fields an integration supports; replay holds it to the fixtures'
rows, but only as far as the fixtures go. The lint reads the transforms instead: it collects the literal keys of the
objects a transform returns (the row, and the object under ``usage`` for ``usage.<group>`` entries), over every
operation. A ``fills`` entry no transform has a key for is an error at the entry; a Usage field a transform produces
that ``fills`` does not list is a warning at the key.

Only what the tree shows is counted: an object constructor with literal keys, reached through blocks, ``:=``
bindings, conditions, array constructors, a path's last step, ``$append`` and ``$merge`` of such objects, and calls of
a function the transform defines (``$row := function($u) {...}``). A computed
key or a row built any other way (``$merge`` of an unknown object, ``$spread``, a function's result) makes the check
skip the integration (or, when only ``usage`` is unknown, its ``usage.`` entries): it never guesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .lint_ast import attr, kind, parse, start
from .yaml_source import KeyPath

# report(message, key path, character offset in the expression at that path or None, is_warning)
Report = Callable[[str, KeyPath, int | None, bool], None]
# remote_data is attached by the engine to every row whose transform does not set it.
_ALWAYS = frozenset({"remote_data"})


@dataclass(frozen=True)
class _Key:
    """One literal key of an object constructor: where it is written and the value it is given."""

    value: Any
    env: dict[str, Any]
    path: KeyPath
    offset: int | None


_Shape = dict[str, _Key]  # key -> where; one object the transform may return


@dataclass
class _Produced:
    """The fields the transforms of one integration produce (None: cannot tell), with where each is written."""

    top: dict[str, tuple[KeyPath, int | None]] | None = field(default_factory=dict)
    usage: dict[str, tuple[KeyPath, int | None]] | None = field(default_factory=dict)


class _Shapes:
    """The objects an expression may return, from its syntax tree; None wherever that is not literal."""

    def __init__(self, path: KeyPath, source: str) -> None:
        self.path, self.source = path, source
        self.depth = 0

    def of(self, node: Any, env: dict[str, Any]) -> list[_Shape] | None:
        what = kind(node)
        if what == "unary" and attr(node, "value") == "{":
            return self._object(node, env)
        if what == "unary" and attr(node, "value") == "[":
            return self._all([(item, env) for item in attr(node, "expressions") or []])
        if what == "block":
            inner = dict(env)
            expressions = attr(node, "expressions") or []
            for expression in expressions[:-1]:
                self._bind(expression, inner)
            return self.of(expressions[-1], inner) if expressions else []
        if what == "bind":
            self._bind(node, env)
            return self.of(attr(node, "rhs"), env)
        if what == "lambda" and attr(node, "thunk"):
            return self.of(attr(node, "body"), env)  # the parser wraps a function body's tail call in a thunk
        if what == "condition":
            branches = [(attr(node, "then"), env)]
            if attr(node, "_else") is not None:
                branches.append((attr(node, "_else"), env))
            return self._all(branches)
        if what == "variable":
            bound = env.get(str(attr(node, "value")))
            return None if bound is None else self.of(bound[0], bound[1])
        if what == "path":
            steps = attr(node, "steps") or []
            if len(steps) == 1 and kind(steps[0]) == "name" and attr(steps[0], "value") == "undefined":
                return []
            if not steps or attr(node, "group") is not None or kind(steps[-1]) == "name":
                return None
            return self.of(steps[-1], env)
        if what == "value" and attr(node, "value") is None:
            return []  # null: no row
        if what == "function":
            return self._call(node, env)
        return None

    @staticmethod
    def _bind(node: Any, env: dict[str, Any]) -> None:
        """Record ``$name := value`` (only looked into if the result uses ``$name``)."""
        target = attr(node, "lhs")
        if kind(node) == "bind" and kind(target) == "variable":
            env[str(attr(target, "value"))] = (attr(node, "rhs"), dict(env))

    def _all(self, parts: list[tuple[Any, dict[str, Any]]]) -> list[_Shape] | None:
        shapes: list[_Shape] = []
        for node, env in parts:
            found = self.of(node, env)
            if found is None:
                return None
            shapes.extend(found)
        return shapes

    def _object(self, node: Any, env: dict[str, Any]) -> list[_Shape] | None:
        shape: _Shape = {}
        for pair in attr(node, "lhs_object") or []:
            key, value = pair[0], pair[1]
            if kind(key) != "string":
                return None  # a computed key
            shape[str(attr(key, "value"))] = _Key(value, env, self.path, start(self.source, key))
        return [shape]

    def _call(self, node: Any, env: dict[str, Any]) -> list[_Shape] | None:
        procedure = attr(node, "procedure")
        name = attr(procedure, "value") if kind(procedure) == "variable" else None
        arguments = attr(node, "arguments") or []
        if name == "append":
            return self._all([(argument, env) for argument in arguments])
        if name == "merge" and len(arguments) == 1:
            parts = self.of(arguments[0], env)
            if parts is None:
                return None
            merged: _Shape = {}
            for part in parts:
                merged.update(part)
            return [merged]
        bound = env.get(str(name)) if name else None
        if bound is not None and kind(bound[0]) == "lambda" and self.depth < 16:
            # A function of the transform itself ($row := function($surface, $usage) {...}): its body's objects, with
            # its parameters standing for this call's arguments.
            inner = dict(bound[1])
            for parameter, argument in zip(attr(bound[0], "arguments") or [], arguments, strict=False):
                inner[str(attr(parameter, "value"))] = (argument, env)
            saved = self.path, self.source
            if len(bound) > 2:  # a helper: its keys are positioned in the helper's own expression
                self.path, self.source = bound[2]
            self.depth += 1
            try:
                return self.of(attr(bound[0], "body"), inner)
            finally:
                self.depth -= 1
                self.path, self.source = saved
        return None


def _template_shapes(raw: Any, path: KeyPath, helpers: dict[str, Any] | None = None) -> tuple[list[_Shape] | None, str]:
    """The objects a transform template returns: a ``{jsonata: ...}`` read from its tree (the mapping's helpers are
    functions it may call), a YAML object by its keys."""
    if isinstance(raw, dict) and set(raw) == {"jsonata"} and isinstance(raw["jsonata"], str):
        source = raw["jsonata"]
        tree = parse(source)
        if tree is None:
            return None, source
        return _Shapes((*path, "jsonata"), source).of(tree, dict(helpers or {})), source
    if isinstance(raw, dict):
        return [{key: _Key(value, {}, (*path, key), None) for key, value in raw.items()}], ""
    return None, ""


def _helpers(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping's ``helpers:`` as bindings of their function trees, with where each is written."""
    bound: dict[str, Any] = {}
    for name, raw in (data.get("helpers") or {}).items():
        source = raw.get("jsonata") if isinstance(raw, dict) else None
        tree = parse(source) if isinstance(source, str) else None
        if tree is not None:
            bound[str(name)] = (tree, {}, (("helpers", str(name), "jsonata"), source))
    return bound


def _collect(data: dict[str, Any]) -> _Produced:
    produced = _Produced()
    helpers = _helpers(data)
    for index, operation in enumerate(data.get("operations") or []):
        path: KeyPath = ("operations", index, "transform")
        shapes, source = _template_shapes(operation.get("transform"), path, helpers)
        if shapes is None or produced.top is None:
            produced.top = produced.usage = None
            return produced
        for shape in shapes:
            for key, where in shape.items():
                produced.top.setdefault(key, (where.path, where.offset))
                if key == "usage" and produced.usage is not None:
                    _add_usage(produced, where, source)
    return produced


def _add_usage(produced: _Produced, where: _Key, source: str) -> None:
    assert produced.usage is not None
    value = where.value
    if where.offset is None:  # a YAML object transform: usage is a YAML object or an expression
        groups, source = _template_shapes(value, where.path)
    else:
        groups = _Shapes(where.path, source).of(value, dict(where.env))
    if groups is None:
        produced.usage = None
        return
    for group in groups:
        for key, inner in group.items():
            produced.usage.setdefault(key, (inner.path, inner.offset))


def fills_problems(data: dict[str, Any], fields: set[str], report: Report) -> None:
    """Check ``fills`` against the transforms; see the module docstring. ``fields`` are the valid fills entries."""
    produced = _collect(data)
    if produced.top is None:
        return
    fills = [entry for entry in data.get("fills") or [] if isinstance(entry, str)]
    usage_keys = produced.usage
    for index, entry in enumerate(fills):
        if entry in _ALWAYS or entry not in fields:
            continue
        if entry.startswith("usage."):
            if usage_keys is None or entry.removeprefix("usage.") in usage_keys:
                continue
            detail = f"no transform gives usage the key {entry.removeprefix('usage.')!r}"
        elif entry in produced.top:
            continue
        else:
            detail = f"no transform's row has the key {entry!r}"
        report(f"fills entry {entry!r} is not produced: {detail}", ("fills", index), None, False)
    listed = set(fills)
    for key, (path, offset) in produced.top.items():
        if key in fields and key != "usage" and key not in listed and key not in _ALWAYS:
            report(f"the transform produces {key!r}, which fills does not list", path, offset, True)
    for key, (path, offset) in (usage_keys or {}).items():
        entry = f"usage.{key}"
        if entry in fields and entry not in listed and "usage" not in listed:
            report(f"the transform produces {entry!r}, which fills does not list", path, offset, True)
