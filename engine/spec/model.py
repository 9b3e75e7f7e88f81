"""What a mapping can say, as typed data: the dataclasses a loaded ``mappings/<name>.yaml`` becomes.

Every computed value is a :class:`Template` (a literal, a JSONata expression, or a dict/list of templates); the
kinds (auth, partition, pagination) are plain strings checked by ``schemas/integration.schema.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import ExpressionEvaluationError
from .jsonata import Expression, JsonataEvaluationError
from .scope import Scope


@dataclass(frozen=True)
class Template:
    """A literal, a JSONata expression, or a dict/list of templates; evaluated into plain JSON data.

    ``None`` results inside a dict are dropped, so a value that evaluates to null or undefined is left out.
    """

    literal: Any = None
    expression: Expression | None = None
    children: dict[str, Template] | list[Template] | None = None
    key_path: str = ""

    def evaluate(self, data: Any = None, scope: Scope | None = None) -> Any:
        if self.expression is not None:
            try:
                return self.expression.evaluate(data, scope.variables if scope is not None else None)
            except JsonataEvaluationError as error:
                raise ExpressionEvaluationError(
                    f"JSONata error in {self.key_path}: {error}",
                    key_path=self.key_path,
                    expression=self.expression.source,
                ) from None
        if isinstance(self.children, dict):
            result = {}
            for key, child in self.children.items():
                value = child.evaluate(data, scope)
                if value is not None:
                    result[key] = value
            return result
        if isinstance(self.children, list):
            return [child.evaluate(data, scope) for child in self.children]
        return self.literal

    @property
    def is_expression(self) -> bool:
        return self.expression is not None


@dataclass(frozen=True)
class CredentialField:
    name: str
    secret: bool = True
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class ContextField:
    name: str
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None
    default: Any = None


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    enum: tuple[str, ...] | None = None
    required: bool = False
    default: Template | None = None
    note: str = ""
    is_list: bool = False
    """Several values (``name=a&name=b`` or ``name[]=a``); ``$params.NAME`` is then an array of ``type`` values."""


@dataclass(frozen=True)
class CheckSpec:
    fail_if: Template
    message: Template


@dataclass(frozen=True)
class AuthSpec:
    kind: str
    headers: dict[str, Template] = field(default_factory=dict)
    username: Template | None = None
    password: Template | None = None


@dataclass(frozen=True)
class PartitionSpec:
    kind: str = "none"
    size: int | Template = 1
    """Days or months per window; a Template when it depends on the query (evaluated with $params, $context)."""
    concurrency: int = 1
    start: Template | None = None
    end: Template | None = None


@dataclass(frozen=True)
class RateLimitSpec:
    requests: int
    per_seconds: float


@dataclass(frozen=True)
class PaginationSpec:
    kind: str = "none"
    next: Template | None = None
    stop: Template | None = None
    start: int = 1
    limit: int | None = None
    max_pages: int = 1000


@dataclass(frozen=True)
class ErrorRule:
    """What a failing answer with one of ``statuses`` means, when ``when`` (on the error body) holds or is absent."""

    statuses: frozenset[int]
    means: str
    when: Template | None = None


@dataclass(frozen=True)
class ErrorSpec:
    message: Template | None = None
    rules: tuple[ErrorRule, ...] = ()
    auth_statuses: frozenset[int] = frozenset({401, 403})
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    retry_after: Template | None = None
    max_retries: int = 3


@dataclass(frozen=True)
class RequestSpec:
    method: str
    path: Template
    query: Template | None = None
    headers: Template | None = None
    body: Template | None = None


@dataclass(frozen=True)
class NestedSpec:
    """Records grouped inside the selected records: the items of each group's ``field``, the group bound as ``$as``."""

    field: str
    bind_as: str = "bucket"


@dataclass(frozen=True)
class OperationSpec:
    name: str
    request: RequestSpec
    records: Template
    transform: Template
    pagination: PaginationSpec = field(default_factory=PaginationSpec)
    when: Template | None = None
    filter: Template | None = None
    envelope: Template | None = None
    expect: Template | None = None
    index: int = 0
    money: str = "none"
    """What the rows' money is: billed, estimated, list_price or none (docs/money.md)."""
    late_data: LateDataSpec | None = None
    """This operation's revision window when it differs from the integration's."""
    nested: NestedSpec | None = None
    """When the selected records are groups (day buckets) of the records that make rows."""


@dataclass(frozen=True)
class LateDataSpec:
    """How late a vendor revises what it reported: a sync re-fetches a period until it is final."""

    revised_for: timedelta
    """How long after a period's end the vendor may still revise it."""
    source: str
    """Where the vendor documents that."""
    final_after: Template | None = None
    """When a period is final (input: ``{start, end}``); None: its end plus ``revised_for``."""
    note: str = ""


@dataclass(frozen=True)
class FocusSpec:
    """How an integration's money rows read as FOCUS rows (``focus:``; docs/focus.md): who provides, publishes and
    invoices its services, and which queries make its billed money. Plain strings only, so a SQL view over synced
    rows can state the same values as the export."""

    provider: str
    publisher: str
    invoice_issuer: str
    service_name: str
    """ServiceName of a row with no product (a row's product name comes first)."""
    service_category: str
    resource_type: str | None = None
    """ResourceType of a row's resource; None: the row's product name, else ``service_name``."""
    queries: tuple[dict[str, str], ...] = ({},)
    """Parameter sets besides start_date/end_date whose rows together are the billed money (one row once)."""


@dataclass(frozen=True)
class IntegrationSpec:
    """One vendor integration, ready to run."""

    name: str
    label: str
    docs_url: str
    file: str
    fills: tuple[str, ...]
    base_url: Template
    auth: AuthSpec
    operations: tuple[OperationSpec, ...]
    credentials: dict[str, CredentialField] = field(default_factory=dict)
    context: dict[str, ContextField] = field(default_factory=dict)
    params: dict[str, ParamSpec] = field(default_factory=dict)
    checks: tuple[CheckSpec, ...] = ()
    partition: PartitionSpec = field(default_factory=PartitionSpec)
    errors: ErrorSpec = field(default_factory=ErrorSpec)
    rate_limit: RateLimitSpec | None = None
    allowed_base_urls: tuple[str, ...] = ()
    """Where this integration's credentials may go: the declared ``allowed_base_urls``, else the literal base_url."""
    late_data: LateDataSpec | None = None
    focus: FocusSpec | None = None
    """The ``focus:`` block; None when the mapping has none (engine/focus then derives it from the label)."""

    @property
    def file_name(self) -> str:
        """The mapping's file name without its folder: what run-time errors show (a caller never sees a server path;
        ``unimeter lint`` still shows the whole path)."""
        return self.file.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.credentials.items() if spec.secret)
