"""Reading JSONata syntax trees for the fast path (:mod:`unimeter.spec.fastpath`): what a node may carry."""

from __future__ import annotations

from typing import Any

from . import lint_ast


class Unsupported(Exception):
    """The expression has a node outside the subset."""


def _attr(node: Any, name: str) -> Any:
    return lint_ast.attr(node, name)


def _plain(node: Any) -> None:
    """Refuse annotations the subset does not model (predicates, ``[]``, focus/index binds, grouping, sorting)."""
    for name in ("predicate", "stages", "group", "focus", "index", "tuple", "ancestor", "seeking_parent"):
        if _attr(node, name):
            raise Unsupported(name)
    if _attr(node, "keep_array") or _attr(node, "keep_singleton_array"):
        raise Unsupported("keep array")


def _plain_except_predicate(node: Any) -> None:
    for name in ("stages", "group", "focus", "index", "tuple", "ancestor", "seeking_parent"):
        if _attr(node, name):
            raise Unsupported(name)
    if _attr(node, "keep_array") or _attr(node, "keep_singleton_array"):
        raise Unsupported("keep array")


def _plain_step(node: Any) -> None:
    """A path step may carry predicates (``stages``), nothing else the subset does not model."""
    for name in ("predicate", "group", "focus", "index", "tuple", "ancestor", "seeking_parent"):
        if _attr(node, name):
            raise Unsupported(name)
    if _attr(node, "keep_array") or _attr(node, "keep_singleton_array"):
        raise Unsupported("keep array")


def _literal_key(node: Any) -> str | None:
    if lint_ast.kind(node) == "string" and isinstance(node.value, str):
        _plain(node)
        return node.value
    return None


_CHILDREN = (
    "steps",
    "lhs",
    "rhs",
    "expressions",
    "arguments",
    "procedure",
    "body",
    "condition",
    "then",
    "_else",
    "expression",
    "lhs_object",
    "predicate",
    "stages",
    "expr",
)
"""The attributes of a jsonata-python node that hold sub-expressions."""


def _children(node: Any) -> list[Any]:
    """A node's sub-expressions (a node, or a list of nodes, each)."""
    found = []
    for name in _CHILDREN:
        child = _attr(node, name)
        if child is not None and not isinstance(child, str | int | float | bool):
            found.append(child)
    return found


def _walk(node: Any) -> list[Any]:
    """Every node of the tree under ``node``, itself included."""
    found: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list | tuple):
            stack.extend(current)
            continue
        if current is None or not hasattr(current, "type"):
            continue
        found.append(current)
        stack.extend(_children(current))
    return found
