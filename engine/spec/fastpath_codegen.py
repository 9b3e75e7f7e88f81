"""JSONata compiled to Python source: one generated function per expression, run instead of jsonatapy.

A closure per syntax node (the first fast path) costs about what jsonatapy costs per field, so whole transforms did
not get faster that way. Here the tree becomes the text of one Python function, compiled once: ``:=`` bindings are
local variables (assignment expressions), field paths, constructors and conditions are inline Python expressions,
lambdas are nested ``def``s, and built-ins and unimeter's host functions are called directly. What remains per node
is what hand-written code would do. A path with more than field names is one call of
:func:`unimeter.spec.fastpath_paths.path` with its steps: a mapping step's body is a nested ``def`` (a block there
binds in its own frame, per item, as in JSONata), a predicate a list comprehension over the items.

Exactness as in :mod:`unimeter.spec.fastpath`: the same subset of the language and the same value rules
(:mod:`unimeter.spec.fastpath_values`, :mod:`unimeter.spec.fastpath_runtime`); an input the generated code does not
cover raises (``Fallback``, or any Python error: a variable read before the binding that would shadow it is an
``UnboundLocalError``), and :class:`unimeter.spec.jsonata.Expression` evaluates that input with jsonatapy instead.
Variables never shadow the caller's bindings: an evaluation whose bindings name a variable the expression binds, or a
function it calls directly, falls back as a whole.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from . import fastpath_paths as paths
from . import fastpath_runtime as runtime
from . import lint_ast
from .fastpath_ast import Unsupported, _children, _literal_key, _plain, _plain_except_predicate, _plain_step, _walk
from .fastpath_builtins import BUILTINS
from .fastpath_values import UNDEF, Fallback, number

JSONATA_FUNCTIONS = frozenset(
    {
        "sum",
        "count",
        "max",
        "min",
        "average",
        "string",
        "substring",
        "substringBefore",
        "substringAfter",
        "lowercase",
        "uppercase",
        "length",
        "trim",
        "pad",
        "match",
        "contains",
        "replace",
        "split",
        "join",
        "formatNumber",
        "formatBase",
        "formatInteger",
        "parseInteger",
        "number",
        "floor",
        "ceil",
        "round",
        "abs",
        "sqrt",
        "power",
        "random",
        "boolean",
        "not",
        "map",
        "zip",
        "filter",
        "single",
        "reduce",
        "sift",
        "keys",
        "lookup",
        "append",
        "exists",
        "spread",
        "merge",
        "reverse",
        "each",
        "error",
        "assert",
        "type",
        "sort",
        "shuffle",
        "distinct",
        "encodeUrlComponent",
        "encodeUrl",
        "decodeUrlComponent",
        "decodeUrl",
        "eval",
        "toMillis",
        "fromMillis",
        "clone",
        "now",
        "millis",
    }
)
"""JSONata's built-in names: read as a value (not called), one is a function the generated code cannot hold."""


@dataclass(frozen=True)
class _Code:
    """One node's Python expression and what is known of its value statically."""

    text: str
    boolean: bool = False
    """Always a Python bool (so a condition needs no cast)."""
    text_value: bool = False
    """Always a str."""
    data: bool = False
    """Never a function (so a constructor need not check)."""
    defined: bool = False
    """Never undefined."""
    truth: str | None = None
    """A Python bool expression for the value's truthiness, cheaper than ``truthy(text)`` (None: use that)."""


@dataclass(frozen=True)
class _Context:
    """Where field names are looked up: ``lookup`` is a dict at the root (the record, or an empty stand-in), an item
    of any kind inside a predicate; ``whole`` is the context item itself (``$``)."""

    lookup: str
    whole: str
    root: bool


@dataclass
class _Scope:
    """A block or a function call: the JSONata names bound in it and their Python locals."""

    parent: _Scope | None
    names: dict[str, str]


@dataclass
class _Function:
    """A Python function being generated: the nested ``def``s (lambdas) it holds."""

    defs: list[str] = field(default_factory=list)


class _Generator:
    def __init__(self, host: dict[str, Callable[..., Any]], known: dict[str, _Code] | None = None) -> None:
        self.host = host
        self.known = known or {}
        """From a first pass: what a local bound once to a lambda returns (its body's flags)."""
        self.lambdas: dict[str, _Code] = {}
        self.returns: dict[str, _Code] = {}
        self.assignments: dict[str, int] = {}
        self.counter = itertools.count(1)
        self.direct: set[str] = set()
        self.bound: set[str] = set()
        self.externals: dict[str, str] = {}
        self.namespace: dict[str, Any] = {
            name: getattr(module, name)
            for module in (runtime, paths)
            for name in module.__dict__
            if not name.startswith("_")
        }
        self.bare: set[int] = set()
        """Nodes whose predicate the caller applies (a path's head, or :meth:`code` itself)."""
        self.namespace.update({"UNDEF": UNDEF, "Fallback": Fallback, "FunctionType": FunctionType})

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def imported(self, text: str, helper: str) -> str:
        """``helper(text)`` with the commonest cases, a string or null, tested inline."""
        temp = self.fresh("t")
        return f"({temp} if type({temp} := {text}) is str or {temp} is None else {helper}({temp}))"

    # scopes ----------------------------------------------------------------------------------------------------------
    def scope_of(self, parent: _Scope | None, nodes: list[Any], params: dict[str, str] | None = None) -> _Scope:
        """A new scope holding the names bound by ``:=`` among ``nodes`` outside nested blocks and lambdas."""
        names = dict(params or {})
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if isinstance(node, list | tuple):
                stack.extend(node)
                continue
            if node is None or not hasattr(node, "type"):
                continue
            kind = lint_ast.kind(node)
            if kind == "block" or (kind == "lambda" and not lint_ast.attr(node, "thunk")):
                continue
            if kind == "bind":
                target = node.lhs
                if lint_ast.kind(target) != "variable" or lint_ast.attr(target, "predicate"):
                    raise Unsupported("bind target")
                name = target.value
                if not isinstance(name, str) or name in ("", "$"):
                    raise Unsupported("bind target")
                if name not in names:
                    names[name] = self.fresh("v")
                self.assignments[names[name]] = self.assignments.get(names[name], 0) + 1
                self.bound.add(name)
            for child in _children(node):
                stack.append(child)
        return _Scope(parent, names)

    def is_function_name(self, name: str) -> bool:
        return name in JSONATA_FUNCTIONS or name in BUILTINS or name in self.host

    @staticmethod
    def local(name: str, scope: _Scope | None) -> str | None:
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def external(self, name: str) -> str:
        if name not in self.externals:
            self.externals[name] = self.fresh("x")
        return self.externals[name]

    # nodes -----------------------------------------------------------------------------------------------------------
    def code(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        """``fn`` is the function lambdas are hoisted into; None inside a predicate (no lambdas, no bindings)."""
        kind = lint_ast.kind(node)
        method = getattr(self, f"_{kind}", None)
        if method is None:
            raise Unsupported(str(kind))
        predicates = lint_ast.attr(node, "predicate")
        if predicates and id(node) not in self.bare and kind in ("variable", "function", "unary"):
            value = self.bare_code(node, scope, ctx, fn)
            return _Code(f"select({value.text}, {self.stages(predicates, scope)})", data=True)
        result: _Code = method(node, scope, ctx, fn)
        return result

    def bare_code(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        """``node``'s code without its predicate (which the caller applies)."""
        self.bare.add(id(node))
        try:
            return self.code(node, scope, ctx, fn)
        finally:
            self.bare.discard(id(node))

    def plain(self, node: Any) -> None:
        if id(node) in self.bare:
            _plain_except_predicate(node)
        else:
            _plain(node)

    def stages(self, predicates: list[Any], scope: _Scope | None) -> str:
        """A tuple of predicates for :func:`unimeter.spec.fastpath_paths.sieve`: an index literal as an int (floored),
        any other as a function from the items to those it keeps, a list comprehension (no bindings or lambdas in the
        predicate: it is inside a Python lambda)."""
        parts = []
        for predicate in predicates:
            if lint_ast.kind(predicate) != "filter":
                raise Unsupported("a stage that is not a filter")
            expr = lint_ast.attr(predicate, "expr")
            if lint_ast.kind(expr) == "number":
                _plain(expr)
                value = expr.value
                if type(value) not in (int, float) or not math.isfinite(value) or abs(value) > 2**31:
                    raise Unsupported("index")
                parts.append(f"{math.floor(value)}, ")
                continue
            item, items = self.fresh("it"), self.fresh("items")
            test = self.code(expr, scope, _Context(item, item, False), None)
            verdict = _truth(test) if test.boolean or test.truth is not None else f"keep({test.text})"
            check = f"(type({item}) is not list or fallback('a predicate over an array item'))"
            parts.append(f"lambda {items}: [{item} for {item} in {items} if {check} and {verdict}], ")
        return "(" + "".join(parts) + ")"

    def _string(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        if not isinstance(node.value, str):
            raise Unsupported("string")
        return _Code(repr(node.value), text_value=True, data=True, defined=True)

    def _number(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        try:
            value = number(node.value)
        except Fallback:
            raise Unsupported("number") from None
        return _Code(repr(value), data=True, defined=True)

    def _value(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        if node.value is None:
            return _Code("None", data=True, defined=True)
        if node.value is True or node.value is False:
            return _Code(repr(node.value), boolean=True, data=True, defined=True)
        raise Unsupported("value")

    def read(self, name: str, scope: _Scope | None, ctx: _Context) -> _Code:
        """``$name`` as a value."""
        if name == "":
            return _Code(f"val({ctx.whole})" if ctx.root else ctx.whole, data=True)
        if name == "$":
            raise Unsupported("$$")
        local = self.local(name, scope)
        if local is not None:
            return _Code(local)
        if self.is_function_name(name):
            return _Code("fallback('a built-in function as a value')")
        return _Code(f"whole({self.external(name)})", data=True)

    def _variable(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        self.plain(node)
        return self.read(node.value, scope, ctx)

    def _path(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        return self.path(node, scope, ctx, fn, sequence=False)

    def path(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None, sequence: bool) -> _Code:
        """A path; with ``sequence``, the pair (value, whether it is a sequence) of ``path_seq``."""
        _plain(node)
        steps = list(lint_ast.attr(node, "steps") or [])
        if not steps:
            raise Unsupported("empty path")
        if not sequence and all(self.simple(step, step is steps[0]) for step in steps):
            return self.names(steps, scope, ctx)
        head = steps[0]
        kind = lint_ast.kind(head)
        if kind == "name":
            start, rest = f"[{ctx.lookup}]", steps
        else:
            if kind == "variable" and head.value == "$":
                raise Unsupported("$$")
            if kind not in ("variable", "function") and not (kind == "unary" and lint_ast.attr(head, "consarray")):
                raise Unsupported(f"a path from {kind}")
            value = self.bare_code(head, scope, ctx, fn)
            predicates = lint_ast.attr(head, "predicate")
            start = (
                f"sieve({value.text}, {self.stages(predicates, scope)})" if predicates else f"items_of({value.text})"
            )
            rest = steps[1:]
        parts = [self.step(step, scope, fn) for step in rest]
        helper = "path_seq" if sequence else "path"
        return _Code(f"{helper}({start}, ({''.join(part + ', ' for part in parts)}))", data=True)

    @staticmethod
    def simple(step: Any, first: bool) -> bool:
        """A step of a plain field path: a name, or a variable other than ``$`` first; no predicate."""
        kind = lint_ast.kind(step)
        if lint_ast.attr(step, "stages") or lint_ast.attr(step, "predicate"):
            return False
        if kind == "name":
            return isinstance(step.value, str)
        return first and kind == "variable" and step.value not in ("", "$")

    def names(self, steps: list[Any], scope: _Scope | None, ctx: _Context) -> _Code:
        """``a.b.c`` or ``$v.a.b``: objects walked in a loop (arrays met on the way take the general rules)."""
        head = steps[0]
        for step in steps:
            _plain(step)
        names = tuple(step.value for step in steps if lint_ast.kind(step) == "name")
        if lint_ast.kind(head) == "variable":
            name = head.value
            local = self.local(name, scope)
            if local is not None:
                if len(names) == 1:  # the commonest: a field of a local object, read inline
                    read = f"({local}.get({names[0]!r}, UNDEF) if type({local}) is dict else walk({local}, {names!r}))"
                    return _Code(self.imported(read, "val"), data=True)
                return _Code(f"walk({local}, {names!r})", data=True)
            if self.is_function_name(name):
                return _Code("fallback('a path from a built-in function')")
            return _Code(f"walk_bound({self.external(name)}, {names!r})", data=True)
        if len(names) == 1:
            if ctx.root:
                return _Code(self.imported(f"{ctx.lookup}.get({names[0]!r}, UNDEF)", "val"), data=True)
            item = ctx.lookup
            read = f"({item}.get({names[0]!r}, UNDEF) if type({item}) is dict else field({item}, {names[0]!r}))"
            return _Code(self.imported(read, "val"), data=True)
        return _Code(f"walk({ctx.lookup}, {names!r})", data=True)

    def step(self, step: Any, scope: _Scope | None, fn: _Function | None) -> str:
        """One step after the head, as the ``(kind, payload, stages)`` triple of ``path_seq``."""
        _plain_step(step)
        stages = self.stages(lint_ast.attr(step, "stages") or [], scope)
        kind = lint_ast.kind(step)
        if kind == "name" and isinstance(step.value, str):
            return f"({paths.NAME}, {step.value!r}, {stages})"
        if kind == "wildcard":
            return f"({paths.WILDCARD}, None, {stages})"
        if kind == "descendant":
            return f"({paths.DESCENDANTS}, None, {stages})"
        if kind not in ("function", "block", "unary") or (kind == "unary" and step.value != "{"):
            raise Unsupported(f"a {kind} step")
        if kind != "block" and any(lint_ast.kind(n) == "bind" for n in _walk(step)):
            raise Unsupported("a binding in a step outside a block")  # it would bind in the path's frame
        item = self.fresh("it")
        inner = _Context(item, item, False)
        if fn is None:  # inside a predicate: a Python lambda (no bindings, no lambdas, as the predicate itself)
            return f"({paths.BODY}, lambda {item}: {self.code(step, scope, inner, None).text}, {stages})"
        body_fn = _Function()
        body = self.code(step, scope, inner, body_fn)
        name = self.fresh("s")
        lines = [f"def {name}({item}):"]
        lines.extend(_indent(text) for text in body_fn.defs)
        lines.append(f"    return {body.text}")
        fn.defs.append("\n".join(lines))
        return f"({paths.BODY}, {name}, {stages})"

    def _unary(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        self.plain(node)
        if node.value == "{":
            # the context is never an array here (a step or predicate over one falls back), so no grouping
            return self.object(lint_ast.attr(node, "lhs_object") or [], scope, ctx, fn)
        if node.value == "[":
            if lint_ast.attr(node, "consarray") is None:
                raise Unsupported("array")
            items = [self.code(item, scope, ctx, fn) for item in node.expressions]
            nested = tuple(lint_ast.kind(item) == "unary" and item.value == "[" for item in node.expressions)
            if not items:
                return _Code("[]", data=True, defined=True)
            if all(_single(item, code) for item, code in zip(node.expressions, items, strict=True)):
                return _Code(f"[{', '.join(item.text for item in items)}]", data=True, defined=True)
            return _Code(f"array_of({nested!r}, ({''.join(i.text + ', ' for i in items)}))", data=True, defined=True)
        if node.value == "-":
            operand = self.code(lint_ast.attr(node, "expression"), scope, ctx, fn)
            return _Code(f"negate({operand.text})", data=True)
        raise Unsupported(f"unary {node.value}")

    def object(self, pairs: list[Any], scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        keys = [_literal_key(key) for key, _ in pairs]
        if all(key is not None for key in keys) and len(set(keys)) == len(keys):
            values = [self.code(value, scope, ctx, fn) for _, value in pairs]
            text = "{" + ", ".join(f"{key!r}: {value.text}" for key, value in zip(keys, values, strict=True)) + "}"
            if not all(value.defined and value.data for value in values):
                text = f"strip({text})"
            return _Code(text, data=True, defined=True)
        parts = []
        for key, value in pairs:
            key_code = self.code(key, scope, ctx, fn)
            parts.append(f"({key_code.text}, {self.code(value, scope, ctx, fn).text}), ")
        return _Code(f"object_of(({''.join(parts)}))", data=True, defined=True)

    def _binary(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        op = node.value
        if op == "&":
            parts = [self.concat_part(part, scope, ctx, fn) for part in _concat_chain(node)]
            return _Code("(" + " + ".join(parts) + ")", text_value=True, data=True, defined=True)
        left, right = self.code(node.lhs, scope, ctx, fn), self.code(node.rhs, scope, ctx, fn)
        if op in ("and", "or"):
            return _Code(f"({_truth(left)} {op} {_truth(right)})", boolean=True, data=True, defined=True)
        helper = _OPERATORS.get(op)
        if helper is None:
            raise Unsupported(f"operator {op}")
        if op in ("=", "!="):
            if _is_text_or_null(node.rhs):
                return self.compare_literal(op == "=", left, right.text)
            if _is_text_or_null(node.lhs):
                return self.compare_literal(op == "=", right, left.text)
        if op in ("=", "!="):  # strings compared inline, anything else by the full rules
            a, b = self.fresh("t"), self.fresh("t")
            check = "==" if op == "=" else "!="
            text = (
                f"(({a} {check} {b}) if (type({a} := {left.text}) is str) & (type({b} := {right.text}) is str) "
                f"else {helper}({a}, {b}))"
            )
            return _Code(text, boolean=True, data=True, defined=True)
        if op in ("<", "<=", ">", ">=") and (_is_number(node.rhs) or _is_number(node.lhs)):
            return self.compare_number(op, helper, left, right, _is_number(node.rhs))
        boolean = op in ("=", "!=", "in")
        return _Code(f"{helper}({left.text}, {right.text})", boolean=boolean, data=True, defined=boolean)

    def compare_number(self, op: str, helper: str, left: _Code, right: _Code, literal_right: bool) -> _Code:
        """An ordering with a number literal: a Python comparison when the other side is a number, the full rules
        (:func:`unimeter.spec.fastpath_runtime.lt` ...) otherwise."""
        temp = self.fresh("t")
        other, literal = (left, right) if literal_right else (right, left)
        test = f"{temp} {op} {literal.text}" if literal_right else f"{literal.text} {op} {temp}"
        full = f"{helper}({temp}, {literal.text})" if literal_right else f"{helper}({literal.text}, {temp})"
        bound = f"(type({temp} := {other.text}) is int or type({temp}) is float)"
        return _Code(
            f"({test} if {bound} else {full})",
            data=True,
            truth=f"({test} if {bound} else truthy({full}))",
        )

    def compare_literal(self, equal: bool, value: _Code, literal: str) -> _Code:
        """``value = literal`` or ``value != literal`` for a string, boolean or null literal, inline (a function
        compared falls back, as in :func:`unimeter.spec.fastpath_values.equal`; a boolean equals only a boolean)."""
        check = "==" if literal.startswith(("'", '"')) else "is"
        if equal and value.data:
            return _Code(f"({value.text} {check} {literal})", boolean=True, data=True, defined=True)
        temp = self.fresh("t")
        text = f"({temp} {check} {literal})" if equal else f"({temp} is not UNDEF and not {temp} {check} {literal})"
        if value.data:
            text = text.replace(f"({temp} ", f"(({temp} := {value.text}) ", 1)
        else:
            text = f"({text} if type({temp} := {value.text}) is not FunctionType else fallback('comparing a function'))"
        return _Code(text, boolean=True, data=True, defined=True)

    def concat_part(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> str:
        part = self.code(node, scope, ctx, fn)
        return part.text if part.text_value else f"concat({part.text})"

    def _condition(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        test = self.code(node.condition, scope, ctx, fn)
        then = self.code(node.then, scope, ctx, fn)
        if lint_ast.attr(node, "_else") is None:
            otherwise = _Code("UNDEF", data=True)
        else:
            otherwise = self.code(node._else, scope, ctx, fn)
        return _Code(
            f"({then.text} if {_truth(test)} else {otherwise.text})",
            boolean=then.boolean and otherwise.boolean,
            text_value=then.text_value and otherwise.text_value,
            data=then.data and otherwise.data,
            defined=then.defined and otherwise.defined,
        )

    def _block(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        expressions = list(node.expressions or [])
        if not expressions:
            return _Code("UNDEF", data=True)
        if fn is None:
            inner = scope
            if any(lint_ast.kind(n) == "bind" for n in _walk(node)):
                raise Unsupported("binding in a predicate")
        else:
            inner = self.scope_of(scope, expressions)
        codes = [self.code(expression, inner, ctx, fn) for expression in expressions]
        if len(codes) == 1:
            return codes[0]
        last = codes[-1]
        text = "(" + ", ".join(code.text for code in codes) + ")[-1]"
        return _Code(text, last.boolean, last.text_value, last.data, last.defined)

    def _bind(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        local = self.local(node.lhs.value, scope) if fn is not None else None
        if local is None:
            raise Unsupported("binding outside a scope")
        value = self.code(node.rhs, scope, ctx, fn)
        if value.text in self.returns and self.assignments.get(local) == 1:
            self.lambdas[local] = self.returns[value.text]
        return _Code(f"({local} := {value.text})", value.boolean, value.text_value, value.data, value.defined)

    def _lambda(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        _plain(node)
        if lint_ast.attr(node, "thunk"):  # a tail call JSONata trampolines: evaluating it in place is the same
            return self.code(node.body, scope, ctx, fn)
        if fn is None:
            raise Unsupported("lambda in a predicate")
        if lint_ast.attr(node, "signature") is not None:
            raise Unsupported("signature")
        params: dict[str, str] = {}
        for argument in node.arguments or []:
            if lint_ast.kind(argument) != "variable" or argument.value in ("", "$") or argument.value in params:
                raise Unsupported("parameter")
            params[argument.value] = self.fresh("p")
        inner = self.scope_of(scope, [node.body], params)
        body_fn = _Function()
        body = self.code(node.body, inner, ctx, body_fn)
        name = self.fresh("f")
        signature = "".join(f"{param}=UNDEF, " for param in params.values())
        lines = [f"def {name}({signature}*_):"]
        lines.extend(_indent(text) for text in body_fn.defs)
        lines.append(f"    return {body.text}")
        fn.defs.append("\n".join(lines))
        self.returns[name] = body
        return _Code(name, defined=True)

    def _function(self, node: Any, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        self.plain(node)
        procedure = node.procedure
        if (
            lint_ast.kind(procedure) != "variable"
            or lint_ast.attr(procedure, "predicate")
            or procedure.value in ("", "$")
        ):
            raise Unsupported("procedure")
        name = procedure.value
        args = [self.code(argument, scope, ctx, fn) for argument in node.arguments or []]
        listed = "".join(arg.text + ", " for arg in args)
        local = self.local(name, scope)
        if local is not None:
            returns = self.known.get(local)
            if returns is None:
                return _Code(f"{local}({listed})")
            return _Code(f"{local}({listed})", returns.boolean, returns.text_value, returns.data, returns.defined)
        if name in self.host:
            self.direct.add(name)
            self.namespace[f"H_{name}"] = self.host[name]
            passed = ", ".join(arg.text if arg.text_value else f"host_argument({arg.text})" for arg in args)
            return _Code(self.imported(f"H_{name}({passed})", "whole"), data=True)
        builtin = BUILTINS.get(name)
        if builtin is None:
            raise Unsupported(f"function {name}")
        self.direct.add(name)
        if name == "distinct" and len(args) == 1:
            return self.distinct(node.arguments[0], args[0], scope, ctx, fn)
        if name == "type" and len(args) == 1:
            return _Code(f"TYPES.get(type({args[0].text}), UNDEF)", data=True)
        if name == "string" and len(args) == 1:
            temp = self.fresh("t")
            text = f"({temp} if type({temp} := {args[0].text}) is str else B_string([{temp}]))"
            self.namespace["B_string"] = builtin
            return _Code(text, data=True)
        start, count = [*node.arguments[1:], None, None][:2]
        if name == "substring" and len(args) == 3 and _is_int(start, 0) and _is_int(count):
            # a prefix of an ASCII string is a slice; anything else goes through the full rules
            temp = self.fresh("t")
            self.namespace["B_substring"] = builtin
            text = (
                f"({temp}[:{int(count.value)}] if type({temp} := {args[0].text}) is str and {temp}.isascii() "
                f"else B_substring([{temp}, 0, {int(count.value)}]))"
            )
            return _Code(text, data=True)
        if name == "exists" and len(args) == 1:
            if args[0].defined and _is_literal(node.arguments[0]):
                return _Code("True", boolean=True, data=True, defined=True)
            return _Code(f"({args[0].text} is not UNDEF)", boolean=True, data=True, defined=True)
        self.namespace[f"B_{name}"] = builtin
        return _Code(f"B_{name}([{listed}])", data=True)

    def distinct(self, argument: Any, value: _Code, scope: _Scope | None, ctx: _Context, fn: _Function | None) -> _Code:
        """``$distinct(x)`` with what is known of whether ``x`` is a sequence (one item left of a sequence collapses):
        a path says so at run time, an array constructor is an array, a predicate's result a sequence."""
        kind = lint_ast.kind(argument)
        if kind == "path":
            return _Code(f"distinct_of(*{self.path(argument, scope, ctx, fn, sequence=True).text})", data=True)
        if lint_ast.attr(argument, "predicate"):
            return _Code(f"distinct_of({value.text}, True)", data=True)
        if kind == "unary" and argument.value == "[":
            return _Code(f"distinct_of({value.text}, False)", data=True)
        return _Code(f"distinct_of({value.text}, None)", data=True)


_OPERATORS = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "%": "mod",
    "=": "eq",
    "!=": "ne",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
    "in": "member",
}


def _is_int(node: Any, value: int | None = None) -> bool:
    """A non-negative integer literal (``value`` when given)."""
    if lint_ast.kind(node) != "number" or type(node.value) not in (int, float):
        return False
    number_value = node.value
    if not float(number_value).is_integer() or number_value < 0 or number_value > 2**31:
        return False
    return value is None or number_value == value


def _is_literal(node: Any) -> bool:
    return lint_ast.kind(node) in ("string", "number", "value")


def _is_text_or_null(node: Any) -> bool:
    """A string, boolean or null literal (``=`` with one is a Python ``==`` or ``is``)."""
    kind = lint_ast.kind(node)
    return (kind == "string" and isinstance(node.value, str)) or (kind == "value" and node.value in (None, True, False))


def _truth(code: _Code) -> str:
    if code.boolean:
        return code.text
    return code.truth if code.truth is not None else f"truthy({code.text})"


def _single(node: Any, code: _Code) -> bool:
    """Always one value, never an array, undefined or a function (so an array constructor can hold it as it is)."""
    if not (code.defined and code.data):
        return False
    kind = lint_ast.kind(node)
    return (
        code.text_value
        or code.boolean
        or kind in ("string", "number", "value")
        or (kind == "unary" and node.value == "{")
    )


def _is_number(node: Any) -> bool:
    return lint_ast.kind(node) == "number" and type(node.value) in (int, float) and math.isfinite(node.value)


def _concat_chain(node: Any) -> list[Any]:
    """The operands of ``a & b & c`` (left-nested binary nodes), in order."""
    parts: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if lint_ast.kind(current) == "binary" and current.value == "&":
            _plain(current)
            stack.append(current.rhs)
            stack.append(current.lhs)
        else:
            parts.append(current)
    return parts


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


@dataclass(frozen=True)
class Generated:
    """A compiled expression: ``run(data, bindings)`` and the Python source it was compiled from (for tests and for
    reading what an expression became)."""

    run: Callable[[Any, dict[str, Any] | None], Any]
    source: str


def _pass(tree: Any, generator: _Generator) -> tuple[_Generator, _Function, _Code]:
    """One generation pass; the second knows, from the first, what the expression's own functions return."""
    root = _Function()
    scope = generator.scope_of(None, [tree])
    return generator, root, generator.code(tree, scope, _Context("c0", "data", True), root)


def generate(source: str, host: dict[str, Callable[..., Any]]) -> Generated | None:
    """The generated function for ``source``, or None when the expression is outside the subset."""
    tree = lint_ast.parse(source)
    if tree is None:
        return None
    nodes = _walk(tree)
    if len({id(node) for node in nodes}) != len(nodes):
        return None  # a node with two parents: the parser rewrites ``?:`` so, and gets ``-5 ?: 1`` wrong
    try:
        first, _, _ = _pass(tree, _Generator(host))
        generator, root, body = _pass(tree, _Generator(host, first.lambdas))
    except (Unsupported, Fallback, RecursionError):
        return None
    forbidden = frozenset(generator.direct | generator.bound)
    lines = [
        "def evaluate(data, bindings):",
        "    if type(data) is list:",
        "        raise Fallback('array input')",
        "    c0 = data if type(data) is dict else EMPTY",
    ]
    if generator.externals or forbidden:
        lines += [
            "    b = bindings or EMPTY",
            "    if bindings and not FORBIDDEN.isdisjoint(bindings):",
            "        raise Fallback('a binding named like a variable or function of the expression')",
        ]
    lines += [f"    {var} = b.get({name!r}, UNDEF)" for name, var in generator.externals.items()]
    lines += [_indent(text) for text in root.defs]
    lines.append(f"    return output({body.text}, data)")
    text = "\n".join(lines) + "\n"
    namespace = dict(generator.namespace, FORBIDDEN=forbidden)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # ``(x is not UNDEF)`` of a literal x is still right
            code = compile(text, f"<jsonata {source[:40]!r}>", "exec")
        exec(code, namespace)  # our own generated code
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None  # too deeply nested for Python's compiler: jsonatapy runs it
    return Generated(namespace["evaluate"], text)
