"""The typed scope a mapping's expressions are evaluated in: what ``$params``, ``$window``, ``$page`` ... are.

The pipeline narrows one scope as a query runs (query -> window -> operation -> page -> response) instead of
threading a ``dict`` of bindings through every stage; each stage adds what it knows with :meth:`Scope.at`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


class _Unset:
    """A binding the current stage has not set (unlike a set value of null, which JSONata sees as null)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Scope:
    """The ``$variables`` of one evaluation. Fields left :data:`UNSET` are undefined in JSONata."""

    params: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    window: Mapping[str, Any] | None = UNSET
    operation: str = UNSET
    page: Any = UNSET
    envelope: Any = UNSET
    headers: Mapping[str, str] = UNSET
    credentials: Mapping[str, Any] = UNSET
    named: Mapping[str, Any] = UNSET
    """Bindings a mapping names itself (``nested.as``: the group of nested records), each seen as ``$name``."""

    def at(self, **changes: Any) -> Scope:
        """This scope with some bindings added or replaced (the stages' way to narrow it)."""
        return dataclasses.replace(self, **changes)

    @cached_property
    def variables(self) -> dict[str, Any]:
        """The bindings as JSONata takes them (computed once per scope)."""
        bound = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "named" and getattr(self, f.name) is not UNSET
        }
        if self.named is not UNSET:
            bound.update(self.named)
        return bound


ENGINE_BINDINGS = frozenset(f.name for f in dataclasses.fields(Scope))
"""The ``$names`` the engine binds (``$params``, ``$window`` ...): a mapping's own names (helpers, ``nested.as``) may
not take one, and lint counts them as defined."""
