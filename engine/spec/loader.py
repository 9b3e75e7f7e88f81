"""Load an integration spec (``mappings/<name>.yaml``) into typed, compiled, validated form, or lint it.

Loading checks the file against ``schemas/integration.schema.json`` and compiles every JSONata expression once, so a
broken mapping fails at load with ``file:line:col: message (key path)`` and never in the middle of a vendor call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jsonschema_rs

from ..errors import ExpressionSyntaxError, SpecError
from ..resources import load_schema
from .jsonata import Expression, JsonataEvaluationError, JsonataSyntaxError
from .late_data import parse_duration
from .model import (
    AuthSpec,
    CheckSpec,
    ContextField,
    CredentialField,
    ErrorRule,
    ErrorSpec,
    FocusSpec,
    IntegrationSpec,
    LateDataSpec,
    NestedSpec,
    OperationSpec,
    PaginationSpec,
    ParamSpec,
    PartitionSpec,
    RateLimitSpec,
    RequestSpec,
    Template,
)
from .scope import ENGINE_BINDINGS
from .yaml_source import KeyPath, SourceDocument, format_key_path, load_yaml


class _Builder:
    """Turns validated plain data into the dataclasses above, compiling expressions with their positions."""

    def __init__(self, document: SourceDocument) -> None:
        self.doc = document
        self.helpers: dict[str, str] = {}
        self.helpers = self.helper_functions(document.data.get("helpers") or {})

    def helper_functions(self, raw: dict[str, Any]) -> dict[str, str]:
        """The mapping's ``helpers:``, each checked alone: it parses, evaluates to a function, and its name shadows
        no engine binding or function (a shadowed ``$money`` would silently change every expression using it)."""
        from .functions import FUNCTIONS
        from .jsonata_names import JSONATA_BUILTINS

        for name, body in raw.items():
            path: KeyPath = ("helpers", name)
            if name in ENGINE_BINDINGS or name in FUNCTIONS or name in JSONATA_BUILTINS:
                what = "an engine binding" if name in ENGINE_BINDINGS else "a built-in function"
                raise self.error(f"helper name {name!r} is {what}; choose another name", path)
            template = self.template(body, path)
            assert template.expression is not None  # the schema makes every helper an expression
            try:
                kind = Expression(f"$type(({template.expression.source}))").evaluate(None)
            except JsonataEvaluationError as error:
                raise self.error(f"helper {name!r} fails when defined: {error}", (*path, "jsonata")) from None
            if kind != "function":
                raise self.error(
                    f"helper {name!r} must be a function, e.g. function($v) {{ ... }}; it is a {kind or 'undefined'}",
                    (*path, "jsonata"),
                )
        return {name: body["jsonata"] for name, body in raw.items()}

    def error(
        self,
        message: str,
        path: KeyPath,
        cls: type[SpecError] = SpecError,
        position: int | None = None,
        excerpt: str = "",
    ) -> SpecError:
        line, column = self.doc.position(path) or (None, None)
        return cls(
            message,
            file=self.doc.file,
            line=line,
            column=column,
            key_path=format_key_path(path),
            position=position,
            excerpt=excerpt,
        )

    def template(self, raw: Any, path: KeyPath) -> Template:
        key_path = format_key_path(path)
        if isinstance(raw, dict) and set(raw) == {"jsonata"}:
            source = raw["jsonata"]
            try:
                return Template(expression=Expression(source, self.helpers), key_path=key_path)
            except JsonataSyntaxError as error:
                lines = self.doc.text.splitlines()
                if error.position is None or not lines:
                    raise self.error(
                        f"JSONata syntax error: {error}", (*path, "jsonata"), ExpressionSyntaxError
                    ) from None
                from .semantic_lint import source_position

                at = source_position(self.doc, lines, (*path, "jsonata"), min(error.position, len(source)))
                offset = min(error.position, len(source))
                line_start = source.rfind("\n", 0, offset) + 1
                line_end = source.find("\n", offset)
                shown = source[line_start : len(source) if line_end < 0 else line_end]
                raise ExpressionSyntaxError(
                    f"JSONata syntax error at position {error.position} of the expression: {error}",
                    file=self.doc.file,
                    line=at[0],
                    column=at[1],
                    key_path=format_key_path((*path, "jsonata")),
                    position=error.position,
                    excerpt=f"\n    {shown}\n    {' ' * (offset - line_start)}^",
                ) from None
        if isinstance(raw, dict):
            return Template(children={k: self.template(v, (*path, k)) for k, v in raw.items()}, key_path=key_path)
        if isinstance(raw, list):
            return Template(children=[self.template(v, (*path, i)) for i, v in enumerate(raw)], key_path=key_path)
        return Template(literal=raw, key_path=key_path)

    def optional(self, raw: dict[str, Any], key: str, path: KeyPath) -> Template | None:
        return self.template(raw[key], (*path, key)) if key in raw else None

    def build(self) -> IntegrationSpec:
        data: dict[str, Any] = self.doc.data
        operations = tuple(self.operation(op, ("operations", i), i) for i, op in enumerate(data["operations"]))
        names = [op.name for op in operations]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise self.error(f"duplicate operation name {name!r}", ("operations", index, "name"))
        return IntegrationSpec(
            name=data["name"],
            label=data["label"],
            docs_url=data["docs_url"],
            file=self.doc.file,
            fills=tuple(data["fills"]),
            base_url=self.template(data["base_url"], ("base_url",)),
            auth=self.auth(data["auth"]),
            operations=operations,
            credentials={k: CredentialField(k, **v) for k, v in (data.get("credentials") or {}).items()},
            context={
                k: ContextField(k, **{**v, "enum": tuple(v["enum"]) if "enum" in v else None})
                for k, v in (data.get("context") or {}).items()
            },
            params={k: self.param(k, v) for k, v in (data.get("params") or {}).items()},
            checks=tuple(
                CheckSpec(
                    self.template(c["fail_if"], ("checks", i, "fail_if")),
                    self.template(c["message"], ("checks", i, "message")),
                )
                for i, c in enumerate(data.get("checks") or [])
            ),
            partition=self.partition(data.get("partition") or {"kind": "none"}),
            errors=self.errors(data.get("errors") or {}),
            rate_limit=RateLimitSpec(**data["rate_limit"]) if "rate_limit" in data else None,
            allowed_base_urls=self.allowed_base_urls(data),
            late_data=self.late_data(data.get("late_data"), ("late_data",)),
            focus=self.focus(data),
        )

    def focus(self, data: dict[str, Any]) -> FocusSpec | None:
        """The ``focus:`` block, defaults filled in; each query names declared parameters only, and never the range
        (start_date and end_date are the export's)."""
        raw = data.get("focus")
        if raw is None:
            return None
        params = data.get("params") or {}
        queries = tuple(raw.get("queries") or [{}])
        for index, query in enumerate(queries):
            for key, value in query.items():
                path: KeyPath = ("focus", "queries", index, key)
                if key in ("start_date", "end_date"):
                    raise self.error(f"a focus query does not set {key}: the export gives the range", path)
                if key not in params:
                    raise self.error(f"focus query parameter {key!r} is not a declared parameter", path)
                allowed = params[key].get("enum")
                if allowed is not None and value not in allowed:
                    raise self.error(f"focus query {key}={value!r} is not one of {', '.join(allowed)}", path)
        provider = raw["provider"]
        return FocusSpec(
            provider=provider,
            publisher=raw.get("publisher", provider),
            invoice_issuer=raw.get("invoice_issuer", provider),
            service_name=raw.get("service_name", data["label"]),
            service_category=raw["service_category"],
            resource_type=raw.get("resource_type"),
            queries=queries,
        )

    def late_data(self, raw: dict[str, Any] | None, path: KeyPath) -> LateDataSpec | None:
        if raw is None:
            return None
        return LateDataSpec(
            revised_for=parse_duration(raw["revised_for"]),
            source=raw["source"],
            final_after=self.optional(raw, "final_after", path),
            note=raw.get("note", ""),
        )

    def allowed_base_urls(self, data: dict[str, Any]) -> tuple[str, ...]:
        declared = tuple(data.get("allowed_base_urls") or ())
        base_url = data["base_url"]
        if isinstance(base_url, str):
            return declared if base_url in declared else (base_url, *declared)
        if not declared:
            raise self.error(
                "base_url is computed, so the mapping must declare allowed_base_urls: every base URL "
                "the vendor serves (credentials go nowhere else)",
                ("base_url",),
            )
        return declared

    def param(self, name: str, raw: dict[str, Any]) -> ParamSpec:
        path: KeyPath = ("params", name)
        return ParamSpec(
            name=name,
            type=raw["type"],
            enum=tuple(raw["enum"]) if "enum" in raw else None,
            required=bool(raw.get("required", False)),
            default=self.optional(raw, "default", path),
            note=raw.get("note", ""),
            is_list=bool(raw.get("list", False)),
        )

    def auth(self, raw: dict[str, Any]) -> AuthSpec:
        kind = raw["kind"]
        if kind == "basic" and "username" not in raw:
            raise self.error("basic auth needs a username", ("auth",))
        if kind == "headers" and not raw.get("headers"):
            raise self.error("header auth needs at least one header", ("auth",))
        headers = {k: self.template(v, ("auth", "headers", k)) for k, v in (raw.get("headers") or {}).items()}
        return AuthSpec(
            kind=kind,
            headers=headers,
            username=self.optional(raw, "username", ("auth",)),
            password=self.optional(raw, "password", ("auth",)),
        )

    def partition(self, raw: dict[str, Any]) -> PartitionSpec:
        if raw["kind"] != "none" and ("start" not in raw or "end" not in raw):
            raise self.error(f"a {raw['kind']!r} partition needs start and end", ("partition",))
        return PartitionSpec(
            kind=raw["kind"],
            size=self.template(raw["size"], ("partition", "size"))
            if isinstance(raw.get("size"), dict)
            else raw.get("size", 1),
            concurrency=raw.get("concurrency", 1),
            start=self.optional(raw, "start", ("partition",)),
            end=self.optional(raw, "end", ("partition",)),
        )

    def errors(self, raw: dict[str, Any]) -> ErrorSpec:
        defaults = ErrorSpec()
        return ErrorSpec(
            message=self.optional(raw, "message", ("errors",)),
            rules=tuple(
                ErrorRule(frozenset(rule["status"]), rule["means"], self.optional(rule, "when", ("errors", "rules", i)))
                for i, rule in enumerate(raw.get("rules") or [])
            ),
            auth_statuses=frozenset(raw.get("auth_statuses", defaults.auth_statuses)),
            retry_statuses=frozenset(raw.get("retry_statuses", defaults.retry_statuses)),
            retry_after=self.optional(raw, "retry_after", ("errors",)),
            max_retries=raw.get("max_retries", defaults.max_retries),
        )

    def pagination(self, raw: dict[str, Any], path: KeyPath) -> PaginationSpec:
        kind = raw["kind"]
        needs = {"cursor": "next", "next_url": "next", "page": "stop", "offset": "limit"}.get(kind)
        if needs and needs not in raw:
            raise self.error(f"{kind!r} pagination needs {needs!r}", path)
        return PaginationSpec(
            kind=kind,
            next=self.optional(raw, "next", path),
            stop=self.optional(raw, "stop", path),
            start=raw.get("start", 0 if kind == "offset" else 1),
            limit=raw.get("limit"),
            max_pages=raw.get("max_pages", 1000),
        )

    def operation(self, raw: dict[str, Any], path: KeyPath, index: int) -> OperationSpec:
        request = raw["request"]
        request_path: KeyPath = (*path, "request")
        return OperationSpec(
            name=raw["name"],
            index=index,
            request=RequestSpec(
                method=request["method"],
                path=self.template(request["path"], (*request_path, "path")),
                query=self.optional(request, "query", request_path),
                headers=self.optional(request, "headers", request_path),
                body=self.optional(request, "body", request_path),
            ),
            records=self.template(raw["records"], (*path, "records")),
            transform=self.template(raw["transform"], (*path, "transform")),
            pagination=self.pagination(raw.get("pagination") or {"kind": "none"}, (*path, "pagination")),
            when=self.optional(raw, "when", path),
            filter=self.optional(raw, "filter", path),
            envelope=self.optional(raw, "envelope", path),
            expect=self.optional(raw, "expect", path),
            money=raw.get("money", "none"),
            late_data=self.late_data(raw.get("late_data"), (*path, "late_data")),
            nested=self.nested(raw.get("nested"), (*path, "nested")),
        )

    def nested(self, raw: dict[str, Any] | None, path: KeyPath) -> NestedSpec | None:
        if raw is None:
            return None
        bind_as = raw.get("as", "bucket")
        if bind_as in ENGINE_BINDINGS or bind_as in self.helpers:
            raise self.error(
                f"nested.as {bind_as!r} is already an engine binding or a helper; choose another name", (*path, "as")
            )
        return NestedSpec(field=raw["field"], bind_as=bind_as)


@functools.cache
def _is_valid_spec() -> Callable[[Any], bool]:
    """The fast yes/no of ``integration.schema.json`` (jsonschema-rs). A valid mapping, the common case at start-up,
    never imports ``jsonschema``, whose import alone took longer than loading every mapping."""
    schema = load_schema("integration.schema.json")
    return cast(Callable[[Any], bool], jsonschema_rs.validator_for(schema).is_valid)


def _schema_errors(document: SourceDocument) -> list[SpecError]:
    if _is_valid_spec()(document.data):
        return []
    import jsonschema  # only to explain an invalid mapping: which key, and the best-placed error first

    validator = jsonschema.Draft202012Validator(load_schema("integration.schema.json"))
    found: list[SpecError] = []
    # Unknown keys first: a misspelt key also makes the right key "missing", and the typo is what to show.
    ordered = sorted(
        validator.iter_errors(document.data),
        key=lambda e: (e.validator != "additionalProperties", list(map(str, e.absolute_path))),
    )
    for error in ordered:
        chosen = jsonschema.exceptions.best_match([error])
        path: KeyPath = tuple(chosen.absolute_path)
        message = chosen.message
        if chosen.validator == "additionalProperties":
            extras = [k for k in chosen.instance if k not in chosen.schema.get("properties", {})]
            if extras:
                path = (*path, extras[0])
                message = f"unknown key {extras[0]!r}"
                allowed = sorted(chosen.schema.get("properties", {}))
                if allowed:
                    message += f"; allowed here: {', '.join(allowed)}"
        line, column = document.position(path) or (None, None)
        found.append(SpecError(message, file=document.file, line=line, column=column, key_path=format_key_path(path)))
    return found


def _read_document(path: Path | str, text: str | None) -> SourceDocument:
    """The spec file as positioned data; a SpecError when it is not YAML or not a mapping."""
    document = load_yaml(path, text)
    if not isinstance(document.data, dict):
        raise SpecError("a spec must be a YAML mapping", file=str(path), line=1, column=1)
    return document


def lint_spec(path: Path | str, text: str | None = None) -> list[SpecError]:
    """Every problem found in one spec file (empty when it is valid)."""
    try:
        document = _read_document(path, text)
    except OSError as error:
        return [SpecError(f"cannot read the file: {error.strerror}", file=str(path))]
    except SpecError as error:
        return [error]
    problems = _schema_errors(document)
    if problems:
        return problems
    try:
        spec = _Builder(document).build()
    except SpecError as error:
        return [error]
    from .semantic_lint import LintWarning, semantic_problems  # the lint is not needed to load a mapping

    semantic = semantic_problems(document, text if text is not None else Path(path).read_text(encoding="utf-8"))
    if any(not isinstance(problem, LintWarning) for problem in semantic):
        return semantic
    expected_name = Path(path).stem
    if spec.name != expected_name:
        line, column = document.position(("name",)) or (None, None)
        return [
            *semantic,
            SpecError(
                f"name {spec.name!r} must match the file name {expected_name!r}",
                file=str(path),
                line=line,
                column=column,
                key_path="name",
            ),
        ]
    return semantic


def load_spec(path: Path | str, text: str | None = None) -> IntegrationSpec:
    """Load one spec, raising the first :class:`SpecError` found."""
    document = _read_document(path, text)
    problems = _schema_errors(document)
    if problems:
        raise problems[0]
    return _Builder(document).build()
