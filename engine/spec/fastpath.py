"""A fast path for JSONata: expressions in a supported subset compiled into Python closures.

jsonatapy (Rust) costs about half a microsecond per output field, mostly converting values between Python and Rust;
a transform that builds a row of plain fields pays that per row. Here an expression whose every syntax node is in the
subset below is compiled once into a closure ``(data, bindings) -> value`` over plain Python data.

Subset: literals, field paths over objects (``a.b.c``, ``$v.a``), ``$`` and variables, object and array constructors,
``& + - * / %``, comparisons, ``and``/``or``/``in``, ``? :``, blocks with ``:=``, lambdas (called in the expression or
passed to ``$map``/``$filter``), a filter ``$v[predicate]`` on a variable, calls of the built-ins in
:mod:`unimeter.spec.fastpath_builtins` and of the host functions unimeter registers (``$money``, ``$now``, ...).

Exactness comes first, so the subset is only half of it. At run time the closure handles objects and scalars; when
it meets an array where JSONata's sequence semantics apply (a path step over an array), a value it does not cover, or
anything that would be an error, it raises, and :class:`unimeter.spec.jsonata.Expression` evaluates the same input
with jsonatapy, which returns its own result or raises its own error. tests/spec/test_fastpath_differential.py holds
the two to the same results over the official JSONata suite, every fixture and generated vendor records.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any

from . import lint_ast
from .fastpath_builtins import BUILTINS
from .fastpath_values import (
    _INT_LIMIT,
    _MISSING,
    UNDEF,
    Fallback,
    Frame,
    Lambda,
    bmp_only,
    boolean,
    check_output,
    collapse,
    concat_part,
    equal,
    import_value,
    is_number,
    number,
)

Node = Callable[[Any, Frame], Any]
"""A compiled node: (context item, frame) -> value."""


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


class _Compiler:
    def __init__(self, host: dict[str, Callable[..., Any]]) -> None:
        self.host = host
        self.bound: set[str] = set()
        self.calls: list[tuple[str, tuple[Node, ...], Any, Any]] = []
        self.call_slots: list[list[Node]] = []

    def link_calls(self) -> frozenset[str]:
        """Each call of a name the expression never binds goes straight to its built-in or host function (the names
        are returned: a caller's binding of one of them makes the whole evaluation fall back)."""
        direct = set()
        for (name, args, builtin, host), slot in zip(self.calls, self.call_slots, strict=True):
            if name in self.bound:
                slot.append(_call(name, args, builtin, host))
            else:
                direct.add(name)
                slot.append(_direct_call(args, builtin, host))
        return frozenset(direct)

    def compile(self, node: Any) -> Node:
        kind = lint_ast.kind(node)
        method = getattr(self, f"_{kind}", None)
        if method is None:
            raise Unsupported(str(kind))
        compiled: Node = method(node)
        return compiled

    # literals -----------------------------------------------------------------------------------------------------
    def _string(self, node: Any) -> Node:
        _plain(node)
        value = node.value
        return lambda ctx, frame: value

    def _number(self, node: Any) -> Node:
        _plain(node)
        value = number(node.value)
        return lambda ctx, frame: value

    def _value(self, node: Any) -> Node:
        _plain(node)
        value = node.value
        if value not in (True, False, None):
            raise Unsupported("value")
        return lambda ctx, frame: value

    # data ---------------------------------------------------------------------------------------------------------
    def _variable(self, node: Any) -> Node:
        name = node.value
        predicates = _attr(node, "predicate")
        _plain_except_predicate(node)
        if name == "":
            read: Node = _context
        elif name == "$":
            raise Unsupported("$$")
        else:
            read = _variable_reader(name, name in BUILTINS or name in self.host)
        if not predicates:
            return read
        if len(predicates) != 1 or lint_ast.kind(predicates[0]) != "filter":
            raise Unsupported("predicate")
        test = self.compile(_attr(predicates[0], "expr"))
        return _filtered(read, test)

    def _path(self, node: Any) -> Node:
        _plain(node)
        steps = list(_attr(node, "steps") or [])
        if not steps:
            raise Unsupported("empty path")
        head = steps[0]
        names: list[str] = []
        for step in steps:
            _plain(step)
            if step is head and lint_ast.kind(step) == "variable":
                continue
            if lint_ast.kind(step) != "name" or not isinstance(step.value, str):
                raise Unsupported("path step")
            names.append(step.value)
        if lint_ast.kind(head) == "variable":
            if head.value in ("", "$"):
                raise Unsupported("path from $")
            return _path_from_variable(head.value, tuple(names), head.value in BUILTINS or head.value in self.host)
        return _path_from_context(tuple(names))

    # constructors -------------------------------------------------------------------------------------------------
    def _unary(self, node: Any) -> Node:
        _plain(node)
        if node.value == "{":
            pairs = [
                (_literal_key(key) or self.compile(key), self.compile(value), _plain_field(value))
                for key, value in _attr(node, "lhs_object") or []
            ]
            return _object(pairs)
        if node.value == "[":
            if _attr(node, "consarray") is None:
                raise Unsupported("array")
            items = [
                (self.compile(item), lint_ast.kind(item) == "unary" and item.value == "[") for item in node.expressions
            ]
            return _array(items)
        if node.value == "-":
            operand = self.compile(_attr(node, "expression"))
            return _negate(operand)
        raise Unsupported(f"unary {node.value}")

    # operators ----------------------------------------------------------------------------------------------------
    def _binary(self, node: Any) -> Node:
        _plain(node)
        op = node.value
        left, right = self.compile(node.lhs), self.compile(node.rhs)
        if op == "and":
            return lambda ctx, frame: boolean(left(ctx, frame)) and boolean(right(ctx, frame))
        if op == "or":
            return lambda ctx, frame: boolean(left(ctx, frame)) or boolean(right(ctx, frame))
        if op == "&":
            return lambda ctx, frame: concat_part(left(ctx, frame)) + concat_part(right(ctx, frame))
        if op in _ARITHMETIC:
            return _arithmetic(_ARITHMETIC[op], left, right)
        if op == "=":
            return _equals(left, right, False)
        if op == "!=":
            return _equals(left, right, True)
        if op in _ORDER:
            return _ordering(_ORDER[op], left, right)
        if op == "in":
            return _membership(left, right)
        raise Unsupported(f"operator {op}")

    def _condition(self, node: Any) -> Node:
        _plain(node)
        test = self.compile(node.condition)
        then = self.compile(node.then)
        otherwise = self.compile(node._else) if _attr(node, "_else") is not None else None
        if otherwise is None:
            return lambda ctx, frame: then(ctx, frame) if boolean(test(ctx, frame)) else UNDEF
        return lambda ctx, frame: then(ctx, frame) if boolean(test(ctx, frame)) else otherwise(ctx, frame)

    def _block(self, node: Any) -> Node:
        _plain(node)
        body = [self.compile(expression) for expression in node.expressions or []]
        if not body:
            return lambda ctx, frame: UNDEF
        return _block(tuple(body))

    def _bind(self, node: Any) -> Node:
        _plain(node)
        if lint_ast.kind(node.lhs) != "variable" or _attr(node.lhs, "predicate"):
            raise Unsupported("bind target")
        name = node.lhs.value
        self.bound.add(name)
        value = self.compile(node.rhs)

        def bind(ctx: Any, frame: Frame) -> Any:
            result = value(ctx, frame)
            frame.vars[name] = result
            return result

        return bind

    # functions ----------------------------------------------------------------------------------------------------
    def _lambda(self, node: Any) -> Node:
        _plain(node)
        if _attr(node, "thunk"):  # a tail call JSONata trampolines: evaluating it in place gives the same value
            return self.compile(node.body)
        if _attr(node, "signature") is not None:
            raise Unsupported("signature")
        params = []
        for argument in node.arguments or []:
            if lint_ast.kind(argument) != "variable":
                raise Unsupported("parameter")
            params.append(argument.value)
        self.bound.update(params)
        body = self.compile(node.body)
        names = tuple(params)
        return lambda ctx, frame: Lambda(names, body, frame, ctx)

    def _function(self, node: Any) -> Node:
        _plain(node)
        procedure = node.procedure
        if lint_ast.kind(procedure) != "variable" or _attr(procedure, "predicate") or procedure.value in ("", "$"):
            raise Unsupported("procedure")
        name = procedure.value
        args = tuple(self.compile(argument) for argument in node.arguments or [])
        builtin = BUILTINS.get(name)
        host = self.host.get(name)
        self.calls.append((name, args, builtin, host))
        slot: list[Node] = []
        self.call_slots.append(slot)
        return lambda ctx, frame: slot[0](ctx, frame)

    def check_names(self, node: Any) -> None:
        """Every called name must be a supported built-in, a host function, or bound in the expression."""
        for call in _walk(node):
            if lint_ast.kind(call) in ("function", "partial"):
                procedure = call.procedure
                name = procedure.value if lint_ast.kind(procedure) == "variable" else None
                if name not in BUILTINS and name not in self.host and name not in self.bound:
                    raise Unsupported(f"function {name}")


def _walk(node: Any) -> list[Any]:
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
        for name in (
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
        ):
            child = _attr(current, name)
            if child is not None and not isinstance(child, str | int | float | bool):
                stack.append(child)
    return found


def _literal_key(node: Any) -> str | None:
    if lint_ast.kind(node) == "string" and isinstance(node.value, str):
        _plain(node)
        return node.value
    return None


def _plain_field(node: Any) -> str | None:
    """The field name when ``node`` is a one-step path ``name`` with nothing else attached."""
    if lint_ast.kind(node) != "path":
        return None
    steps = _attr(node, "steps") or []
    if len(steps) != 1 or lint_ast.kind(steps[0]) != "name" or not isinstance(steps[0].value, str):
        return None
    try:
        _plain(node)
        _plain(steps[0])
    except Unsupported:
        return None
    return str(steps[0].value)


def _plain_except_predicate(node: Any) -> None:
    for name in ("stages", "group", "focus", "index", "tuple", "ancestor", "seeking_parent"):
        if _attr(node, name):
            raise Unsupported(name)
    if _attr(node, "keep_array") or _attr(node, "keep_singleton_array"):
        raise Unsupported("keep array")


# runtime pieces ---------------------------------------------------------------------------------------------------
def _context(ctx: Any, frame: Frame) -> Any:
    return import_value(ctx)


def _variable_reader(name: str, is_function: bool) -> Node:
    def read(ctx: Any, frame: Frame) -> Any:
        value = frame.lookup(name)
        if value is _MISSING:
            if is_function:
                raise Fallback("built-in function as a value")
            return UNDEF
        return value

    return read


def _walk_names(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        kind = type(value)
        if kind is dict:
            value = value.get(name, UNDEF)
        elif kind is list:
            raise Fallback("path over an array")
        else:
            return UNDEF
    if type(value) is list:
        raise Fallback("path to an array")
    return value


def _path_from_context(names: tuple[str, ...]) -> Node:
    if len(names) == 1:
        (only,) = names

        def one(ctx: Any, frame: Frame) -> Any:
            if type(ctx) is dict:
                value = ctx.get(only, UNDEF)
                kind = type(value)
                if kind is str or value is None or kind is bool or value is UNDEF:
                    return value
                if kind is list:
                    raise Fallback("path to an array")
                return import_value(value)
            if type(ctx) is list:
                raise Fallback("path over an array")
            return UNDEF

        return one
    return lambda ctx, frame: import_value(_walk_names(ctx, names))


def _path_from_variable(name: str, names: tuple[str, ...], is_function: bool) -> Node:
    def read(ctx: Any, frame: Frame) -> Any:
        found = frame
        value: Any = _MISSING
        while found is not None:
            if name in found.vars:
                value = found.vars[name]
                break
            found = found.parent  # type: ignore[assignment]
        if value is _MISSING:
            if is_function:
                raise Fallback("path from a built-in function")
            return UNDEF
        if type(value) is Lambda:
            raise Fallback("path from a function")
        return import_value(_walk_names(value, names))

    return read


def _filtered(read: Node, test: Node) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        value = read(ctx, frame)
        if value is UNDEF:
            return UNDEF
        items = value if type(value) is list else [value]
        kept = []
        for item in items:
            verdict = test(item, frame)
            if is_number(verdict) or (type(verdict) is list and any(is_number(v) for v in verdict)):
                raise Fallback("index predicate")
            if boolean(verdict):
                kept.append(item)
        return collapse(kept)

    return run


def _read_field(ctx: Any, name: str) -> Any:
    """``name`` of the context object, imported (the commonest node: a field copied into a row)."""
    value = ctx.get(name, UNDEF)
    kind = type(value)
    if kind is str or value is None or kind is bool or value is UNDEF:
        return value
    if kind is int and -_INT_LIMIT <= value <= _INT_LIMIT:
        return value
    if kind is list:
        raise Fallback("path to an array")
    return import_value(value)


def _object(pairs: list[tuple[Any, Node, str | None]]) -> Node:
    """``{key: value, ...}``; ``pairs`` hold the key (a string, or a node computing it), the value node, and the field
    name when the value is a plain field of the context (read inline)."""
    if all(type(key) is str for key, _, _ in pairs) and len({key for key, _, _ in pairs}) == len(pairs):
        fixed = tuple(pairs)

        def build_fixed(ctx: Any, frame: Frame) -> Any:
            kind = type(ctx)
            if kind is list:
                raise Fallback("object constructor over an array")
            is_object = kind is dict
            result: dict[str, Any] = {}
            for key, value_node, field in fixed:
                if field is not None:
                    value = _read_field(ctx, field) if is_object else UNDEF
                else:
                    value = value_node(ctx, frame)
                    if type(value) is Lambda:
                        raise Fallback("function in an object")
                if value is not UNDEF:
                    result[key] = value
            return result

        return build_fixed

    def build(ctx: Any, frame: Frame) -> Any:
        if type(ctx) is list:
            raise Fallback("object constructor over an array")
        result: dict[str, Any] = {}
        for key_part, value_node, _ in pairs:
            key = key_part if type(key_part) is str else key_part(ctx, frame)
            if type(key) is not str:
                raise Fallback("object key not a string")
            if key in result:
                raise Fallback("duplicate key")
            value = value_node(ctx, frame)
            if value is UNDEF:
                continue
            if type(value) is Lambda:
                raise Fallback("function in an object")
            result[key] = value
        return result

    return build


def _array(items: list[tuple[Node, bool]]) -> Node:
    def build(ctx: Any, frame: Frame) -> Any:
        result: list[Any] = []
        for item, nested in items:
            value = item(ctx, frame)
            if value is UNDEF:
                continue
            if type(value) is Lambda:
                raise Fallback("function in an array")
            if nested or type(value) is not list:
                result.append(value)
            else:
                result.extend(value)
        return result

    return build


def _negate(operand: Node) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        value = operand(ctx, frame)
        if value is UNDEF:
            return UNDEF
        if not is_number(value):
            raise Fallback("negation of a non-number")
        return number(-float(value))

    return run


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": math.fmod,
}


def _arithmetic(op: Callable[[float, float], float], left: Node, right: Node) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        a, b = left(ctx, frame), right(ctx, frame)
        if a is UNDEF or b is UNDEF:
            if (a is not UNDEF and not is_number(a)) or (b is not UNDEF and not is_number(b)):
                raise Fallback("arithmetic on a non-number")
            return UNDEF
        if not (is_number(a) and is_number(b)):
            raise Fallback("arithmetic on a non-number")
        return number(op(float(a), float(b)))

    return run


def _equals(left: Node, right: Node, negate: bool) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        a, b = left(ctx, frame), right(ctx, frame)
        if a is UNDEF or b is UNDEF:
            return False
        return equal(a, b) is not negate

    return run


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _ordering(op: Callable[[Any, Any], bool], left: Node, right: Node) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        a, b = left(ctx, frame), right(ctx, frame)
        if is_number(a) and is_number(b):
            return op(a, b)
        if type(a) is str and type(b) is str:
            return op(bmp_only(a), bmp_only(b))
        if a is UNDEF and b is UNDEF:
            return UNDEF
        if (a is UNDEF and (is_number(b) or type(b) is str)) or (b is UNDEF and (is_number(a) or type(a) is str)):
            return UNDEF
        raise Fallback("ordering of mixed values")

    return run


def _membership(left: Node, right: Node) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        a, b = left(ctx, frame), right(ctx, frame)
        if a is UNDEF or b is UNDEF:
            return False
        if type(a) is dict or type(a) is list or type(a) is Lambda:
            raise Fallback("membership of a container")
        items = b if type(b) is list else [b]
        return any(equal(a, item) for item in items)

    return run


def _block(body: tuple[Node, ...]) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        inner = Frame({}, frame)
        result = UNDEF
        for expression in body:
            result = expression(ctx, inner)
        return result

    return run


def _host_argument(value: Any) -> Any:
    if value is UNDEF:
        return None
    kind = type(value)
    if kind is dict or kind is list or kind is Lambda:
        raise Fallback("container passed to a host function")
    return value


def _call(
    name: str,
    args: tuple[Node, ...],
    builtin: Callable[[list[Any]], Any] | None,
    host: Callable[..., Any] | None,
) -> Node:
    def run(ctx: Any, frame: Frame) -> Any:
        target = frame.lookup(name)
        values = [arg(ctx, frame) for arg in args]
        if target is not _MISSING:
            if type(target) is not Lambda:
                raise Fallback("calling a non-lambda value")
            return target.call(values)
        if host is not None:
            result = host(*[_host_argument(value) for value in values])
            return import_value(result)
        if builtin is not None:
            return builtin(values)
        raise Fallback(f"unknown function {name}")

    return run


def _direct_call(
    args: tuple[Node, ...], builtin: Callable[[list[Any]], Any] | None, host: Callable[..., Any] | None
) -> Node:
    if host is not None:

        def run_host(ctx: Any, frame: Frame) -> Any:
            return import_value(host(*[_host_argument(arg(ctx, frame)) for arg in args]))

        return run_host
    if builtin is None:
        raise Unsupported("unknown function")

    def run_builtin(ctx: Any, frame: Frame) -> Any:
        return builtin([arg(ctx, frame) for arg in args])

    return run_builtin


_PAYING_CALLS = frozenset({"exists", "not", "type", "boolean"})
"""Built-ins cheap enough in Python that an expression calling them still measures faster than jsonatapy."""


_CALL = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def _may_pay(source: str) -> bool:
    """A look at the text before parsing it: an expression defining a lambda or calling anything but the paying
    built-ins cannot pay (:func:`pays`), and the pure-Python parser costs ~2 ms an expression, which at load would
    put every mapping's transforms on the start-up time for nothing. (A false positive here only costs a parse;
    :func:`pays` still decides on the tree.)"""
    if "function" in source or "\u03bb" in source:
        return False
    return all(name in _PAYING_CALLS for name in _CALL.findall(source))


def pays(tree: Any) -> bool:
    """Whether the fast closure measures faster than jsonatapy for this tree.

    Measured (fixture records, one process, interleaved): plain paths, constructors, comparisons, conditions and
    ``$exists``/``$not``/``$type`` win (a row filter of that shape 4.3 -> 2.6 us); whole transforms with lambdas and
    string or date built-ins lose (cursor daily_usage 35 -> 44 us, usage_events 112 -> 213 us): per node, a Python
    closure costs about what jsonatapy costs per field, and ``$toMillis``/``$substring`` are native there.
    """
    for node in _walk(tree):
        kind = lint_ast.kind(node)
        if kind == "lambda":
            return False
        if kind == "function":
            procedure = node.procedure
            if lint_ast.kind(procedure) != "variable" or procedure.value not in _PAYING_CALLS:
                return False
    return True


def compile_expression(
    source: str, host: dict[str, Callable[..., Any]], *, only_if_faster: bool = True
) -> Callable[[Any, Any], Any] | None:
    """The fast closure for ``source``, or None when it is outside the subset (jsonatapy runs it then).

    With ``only_if_faster`` (what the engine uses) an expression in the subset that measures slower here than in
    jsonatapy (:func:`pays`) is left to jsonatapy too; the differential test compiles the whole subset.

    ``host`` are the Python functions jsonatapy has registered under those names (they win over built-ins there too).
    The closure raises on anything it does not cover; the caller then evaluates with jsonatapy.
    """
    if only_if_faster and not _may_pay(source):
        return None
    tree = lint_ast.parse(source)
    if tree is None:
        return None
    nodes = _walk(tree)
    if only_if_faster and not pays(tree):
        return None
    if len({id(node) for node in nodes}) != len(nodes):
        return None  # a node with two parents: the parser rewrites ``?:`` so, and gets ``-5 ?: 1`` wrong
    compiler = _Compiler(host)
    try:
        root = compiler.compile(tree)
        compiler.check_names(tree)
        direct = compiler.link_calls()
    except (Unsupported, Fallback):
        return None

    def evaluate(data: Any, bindings: dict[str, Any] | None) -> Any:
        if type(data) is list:
            raise Fallback("array input")
        if bindings and not direct.isdisjoint(bindings):
            raise Fallback("a binding named like a function")
        result = check_output(root(data, Frame(bindings or {}, None, external=True)))
        return None if result is UNDEF else result

    return evaluate
