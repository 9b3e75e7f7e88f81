"""A fast path for JSONata: expressions in a supported subset compiled to generated Python, run instead of jsonatapy.

jsonatapy (Rust) costs about half a microsecond per output field, mostly converting values between Python and Rust;
a transform that builds a row of plain fields pays that per row, where hand-written dict building costs a few
microseconds. :mod:`unimeter.spec.fastpath_codegen` turns an expression whose every syntax node is in the subset below
into the source of one Python function, compiled once.

Subset: literals, field paths, ``$`` and variables, object and array constructors, ``& + - * / %``, comparisons,
``and``/``or``/``in``, ``? :``, blocks with ``:=``, lambdas (called in the expression or passed to ``$map``,
``$filter``, ``$each``, ``$reduce``), calls of the built-ins in :mod:`unimeter.spec.fastpath_builtins` and of the
host functions unimeter registers (``$money``, ``$now``, ``$digest``, ...), and JSONata's sequence semantics
(:mod:`unimeter.spec.fastpath_paths`): paths over arrays, mapping steps (``a.(...)``, ``a.{...}``, ``a.$f($)``),
``*`` and ``**`` steps, predicates on steps, variables, calls and array constructors (by truthiness, or an index
literal). Not in it: ``$$``, grouping ``a{...}``, ``[]`` (keep array), focus and index binds (``@``, ``#``), sorting
``^(...)``, regular expressions, and the built-ins not listed.

Exactness comes first, so the subset is only half of it. At run time the generated code handles what the subset
describes; when it meets a value it does not cover (an array inside an array under a path, an index predicate
computed at run time, an integer beyond 2**53, ...) or anything that would be an error, it raises, and
:class:`unimeter.spec.jsonata.Expression` evaluates the same input with jsonatapy, which returns its own result or
raises its own error. Where jsonatapy's own behaviour departs from JSONata's (it maps an object constructor step per
item rather than grouping, and orders the keys of objects it built in an array by the first one's,
:mod:`unimeter.spec.fastpath_output`), the fast path follows jsonatapy. tests/spec/test_fastpath_differential.py and
tests/spec/test_fastpath_sequences.py hold the two to the same results over the official JSONata suite, every
fixture, generated vendor records, written-out sequence cases and random paths.

A first version compiled each syntax node into a closure: per node that cost about what jsonatapy costs per field,
so whole transforms got slower. Generated source has no per-node call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .fastpath_codegen import generate


def compile_expression(source: str, host: dict[str, Callable[..., Any]]) -> Callable[[Any, Any], Any] | None:
    """The generated function ``(data, bindings) -> value`` for ``source``, or None when it is outside the subset
    (jsonatapy runs it then). ``host`` are the Python functions jsonatapy has registered under those names (they win
    over built-ins there too). The function raises on anything it does not cover; the caller then uses jsonatapy."""
    generated = generate(source, host)
    return None if generated is None else generated.run
