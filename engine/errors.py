"""Every error unimeter raises, grouped by what the caller should do about it.

Hierarchy::

    UnimeterError
    ├── SpecError                  a mapping file is wrong (fix the YAML)
    │   └── ExpressionSyntaxError  a JSONata expression does not parse
    ├── QueryError                 the caller's query is wrong (HTTP 400)
    │   ├── UnsupportedParameterError
    │   ├── InvalidParameterError
    │   ├── QueryCheckError        a cross-parameter rule of the mapping failed
    │   ├── InvalidCursorError     a next_cursor that is tampered, foreign or stale
    │   ├── KeyByError             truto_key_by names a missing or non-unique field
    │   ├── PayloadTooLargeError   a request body over the service's limit (HTTP 413)
    │   └── ResultTooLargeError    more rows than one non-stream response may hold: use stream or limit (HTTP 413)
    ├── ApiTokenError              the service's caller sent no valid API token (HTTP 401)
    ├── ConfigurationError         credentials or context of the account are wrong (HTTP 400)
    │   ├── UnknownIntegrationError  no mapping has that name
    │   └── DestinationError       a base URL or request URL the integration may not send credentials to
    ├── AccountNotFoundError       no such account in the caller's environment (HTTP 404)
    ├── StoreError                 the accounts store cannot be reached or read (HTTP 503)
    │   └── SecretKeyError         the secret key is missing, malformed or not the one that sealed the credentials
    ├── MappingError               a transform produced something unusable (fix the mapping)
    │   ├── ExpressionEvaluationError
    │   └── RowValidationError     a row fails schemas/usage.schema.json
    ├── VendorError                the vendor answered with an error (HTTP 502 unless below)
    │   ├── VendorAuthError        bad credentials (401/403): the account is marked needs_reauth
    │   ├── VendorPermissionError  good credentials that may not read this (a role, a scope, an old period)
    │   ├── VendorRateLimitError   429 after the retries ran out
    │   ├── VendorClientError      another 4xx
    │   ├── VendorServerError      5xx after the retries ran out
    │   └── VendorResponseError    a body that is not the JSON we need
    ├── TransportError             no answer: connection failed or timed out
    │   └── VendorTimeoutError
    ├── DeadlineExceededError      the whole request took longer than the service allows (HTTP 504)
    ├── ClientDisconnectedError    the caller hung up; its vendor calls were cancelled (HTTP 499, never seen)
    └── PaginationError            pagination could not finish
        ├── PaginationLoopError    the same cursor or page came back twice
        └── MaxPagesExceededError

Errors carry a place (file, line, key path, record index, JSON path) so that a person can find the cause
without a debugger. Messages never contain a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class UnimeterError(Exception):
    """Base of all unimeter errors. ``code`` is a stable, machine-readable name."""

    code = "unimeter_error"
    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = {k: v for k, v in details.items() if v is not None}
        self.debug: dict[str, Any] | None = None
        """The ``debug`` format's section for a failed query (the requests made before it failed), if asked."""

    def redact(self, secrets: Iterable[str]) -> None:
        """Remove every secret from the message and details (vendors sometimes echo a key back)."""
        from .redaction import redact, redact_text

        secrets = tuple(secrets)
        self.message = redact_text(self.message, secrets)
        self.args = (self.message, *self.args[1:])
        self.details = redact(self.details, secrets)
        vendor_message = getattr(self, "vendor_message", None)
        if isinstance(vendor_message, str):
            setattr(self, "vendor_message", redact_text(vendor_message, secrets))  # noqa: B010 (set by VendorError)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, as the error envelope and the fixtures show it."""
        return {"type": type(self).__name__, "code": self.code, "message": self.message, **self.details}


class SpecError(UnimeterError):
    """A mapping file is invalid. ``location`` is ``file:line:col`` and ``key_path`` the dotted key."""

    code = "invalid_spec"

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: int | None = None,
        key_path: str = "",
        position: int | None = None,
        excerpt: str = "",
    ) -> None:
        self.file, self.line, self.column, self.key_path, self.position = file, line, column, key_path, position
        where = file if line is None else f"{file}:{line}:{column or 1}"
        text = f"{where}: {message}"
        if key_path:
            text += f" ({key_path})"
        text += excerpt
        super().__init__(text, file=file, line=line, column=column, key_path=key_path, position=position)


class ExpressionSyntaxError(SpecError):
    code = "invalid_expression"


class QueryError(UnimeterError):
    code = "invalid_query"
    http_status = 400


class UnsupportedParameterError(QueryError):
    code = "unsupported_parameter"


class InvalidParameterError(QueryError):
    code = "invalid_parameter"


class QueryCheckError(QueryError):
    code = "invalid_query"


class InvalidCursorError(QueryError):
    code = "invalid_cursor"


class KeyByError(QueryError):
    code = "invalid_key_by"


class PayloadTooLargeError(QueryError):
    code = "payload_too_large"
    http_status = 413


class ResultTooLargeError(QueryError):
    code = "result_too_large"
    http_status = 413


class ApiTokenError(UnimeterError):
    code = "unauthorized"
    http_status = 401


class ConfigurationError(UnimeterError):
    code = "invalid_account_configuration"
    http_status = 400


class UnknownIntegrationError(ConfigurationError):
    code = "unknown_integration"


class DestinationError(ConfigurationError):
    """A URL outside the integration's ``allowed_base_urls`` and the operator's ``UNIMETER_ALLOWED_BASE_URLS``."""

    code = "base_url_not_allowed"


class IdempotencyKeyReusedError(UnimeterError):
    """An Idempotency-Key sent again with a different request body."""

    code = "idempotency_key_reused"
    http_status = 422


class TokenNotFoundError(UnimeterError):
    """Also raised for a token of another environment."""

    code = "token_not_found"
    http_status = 404


class AccountNotFoundError(UnimeterError):
    """Also raised for an account of another environment, so that an id reveals nothing across environments."""

    code = "account_not_found"
    http_status = 404


class StoreError(UnimeterError):
    code = "store_unavailable"
    http_status = 503


class SecretKeyError(StoreError):
    code = "secret_key_error"
    http_status = 500


class MappingError(UnimeterError):
    code = "mapping_error"
    http_status = 500


class ExpressionEvaluationError(MappingError):
    code = "expression_error"


class RowValidationError(MappingError):
    code = "invalid_row"


class VendorError(UnimeterError):
    """The vendor answered, but not with what we need. ``status`` is the vendor's HTTP status."""

    code = "remote_error"
    http_status = 502

    def __init__(
        self, message: str, *, status: int | None = None, vendor_message: str | None = None, **details: Any
    ) -> None:
        self.status = status
        self.vendor_message = vendor_message
        super().__init__(message, status=status, vendor_message=vendor_message, **details)


class VendorAuthError(VendorError):
    code = "remote_unauthorized"


class VendorPermissionError(VendorError):
    code = "remote_forbidden"


class VendorRateLimitError(VendorError):
    code = "remote_rate_limited"
    http_status = 429


class VendorClientError(VendorError):
    code = "remote_bad_request"


class VendorServerError(VendorError):
    code = "remote_server_error"


class VendorResponseError(VendorError):
    code = "remote_invalid_response"


class TransportError(UnimeterError):
    code = "remote_unreachable"
    http_status = 502


class VendorTimeoutError(TransportError):
    code = "remote_timeout"
    http_status = 504


class ClientDisconnectedError(UnimeterError):
    code = "client_closed_request"
    http_status = 499


class DeadlineExceededError(UnimeterError):
    code = "deadline_exceeded"
    http_status = 504


class PaginationError(UnimeterError):
    code = "pagination_error"
    http_status = 502


class PaginationLoopError(PaginationError):
    code = "pagination_loop"


class MaxPagesExceededError(PaginationError):
    code = "max_pages_exceeded"
