"""The OpenAPI 3.1 document of the service, built from the mappings so it always lists every integration's params."""

from __future__ import annotations

import functools
import json
from typing import Any

from ..api.formats import RESPONSE_FORMATS
from ..resources import load_schema
from ..spec import available_integrations, load_integration

_PARAM_SCHEMAS = {
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "description": "YYYY-MM-DD or RFC 3339 date-time"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "error", "message"],
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
        "is_remote_error": {"type": "boolean"},
        "remote_status": {"type": ["integer", "null"]},
        "remote_message": {"type": ["string", "null"]},
        "request_id": {"type": ["string", "null"], "description": "Also in the X-Request-Id response header"},
        "debug": {"type": "object", "description": "With truto_response_format=debug: the requests made"},
    },
}


def _integration_params() -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for name in available_integrations():
        spec = load_integration(name)
        for param in spec.params.values():
            entry = merged.setdefault(param.name, {"schema": dict(_PARAM_SCHEMAS[param.type]), "notes": []})
            if param.enum:
                entry["schema"]["enum"] = sorted(set(entry["schema"].get("enum", [])) | set(param.enum))
            if param.is_list:
                entry["list"] = True
            entry["notes"].append(f"{spec.label}: {param.note}" if param.note else spec.label)
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            # A list parameter is repeated (name=a&name=b: form style, exploded, OpenAPI's default for a query).
            "schema": {"type": "array", "items": entry["schema"]} if entry.get("list") else entry["schema"],
            "description": "Integration specific. " + " | ".join(entry["notes"]),
        }
        for name, entry in sorted(merged.items())
    ]


_RESULT_DESCRIPTION = (
    "Usage rows (keyed by truto_key_by when given); the vendor bodies for raw; "
    "rows flattened to dotted keys for normalized"
)


ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "integration", "environment", "status"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "integration": {"type": "string"},
        "environment": {"type": "string"},
        "credentials": {
            "type": "object",
            "additionalProperties": {"const": "set"},
            "description": "Which credential fields are set; their values are never returned",
        },
        "context": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "status": {"enum": ["active", "needs_reauth", "unreadable"]},
        "error": {"type": "string", "description": "Why an unreadable account cannot be read"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
ACCOUNT_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "integration": {"type": "string", "description": "Required on create"},
        "credentials": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The integration's declared credential fields (write-only). Required again whenever a "
            "change moves where they are sent (base_url, or a field the base URL is computed from)",
        },
        "context": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            "description": "On PATCH a JSON Merge Patch (RFC 7396): given fields replace theirs, null removes one",
        },
    },
}


TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "environment", "status", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^tok_[0-9a-f]{16}$"},
        "environment": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "status": {"enum": ["active", "expired", "revoked"]},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "description": "An API token without its secret (shown once, by `unimeter tokens create`)",
}


def _tokens_paths() -> dict[str, Any]:
    """``/api-tokens``: list, bring an expiry forward, revoke; creating tokens is the operator's (CLI)."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    token = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiToken"}}}
    one = {"description": "The token", "content": token}
    unauthorized = {"401": {"description": "Missing, wrong, expired or revoked API token", **error}}
    missing = {"404": {"description": "No such token in this environment", **error}}
    token_id = [{"name": "token_id", "in": "path", "required": True, "schema": TOKEN_SCHEMA["properties"]["id"]}]
    expiry = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["expires_at"],
                    "properties": {
                        "expires_at": {
                            "type": "string",
                            "description": "An RFC 3339 instant or a duration from now (7d, 12h, 30m); only earlier "
                            "than the token's current expiry",
                        }
                    },
                }
            }
        },
    }
    listing = {
        "description": "The environment's tokens",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"result": {"type": "array", "items": {"$ref": "#/components/schemas/ApiToken"}}},
                }
            }
        },
    }
    return {
        "/api-tokens": {"get": {"operationId": "listTokens", "responses": {"200": listing, **unauthorized}}},
        "/api-tokens/{token_id}": {
            "parameters": token_id,
            "patch": {
                "operationId": "expireToken",
                "requestBody": expiry,
                "responses": {
                    "200": one,
                    "400": {"description": "Not an instant, in the past, or later than now set", **error},
                    **unauthorized,
                    **missing,
                },
            },
            "delete": {"operationId": "revokeToken", "responses": {"200": one, **unauthorized, **missing}},
        },
    }


def _integrations_paths() -> dict[str, Any]:
    """``/integrations``: what each integration offers (the data of docs/integrations.md)."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    unauthorized = {"401": {"description": "Missing, wrong, expired or revoked API token", **error}}
    info = {
        "type": "object",
        "description": "One integration: credentials by name (never values), context, params, fills, partition, "
        "rate_limit, late_data and operations (pagination and money, docs/money.md)",
        "required": ["name", "label", "docs_url", "credentials", "params", "fills", "partition", "operations"],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "docs_url": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "credentials": {"type": "array", "items": {"type": "object"}},
            "context": {"type": "array", "items": {"type": "object"}},
            "params": {"type": "array", "items": {"type": "object"}},
            "fills": {"type": "array", "items": {"type": "string"}},
            "partition": {"type": "object"},
            "rate_limit": {"type": ["object", "null"]},
            "late_data": {"type": ["object", "null"]},
            "operations": {"type": "array", "items": {"type": "object"}},
        },
    }
    listing = {
        "description": "Every integration on the mapping search path",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"result": {"type": "array", "items": info}}}
            }
        },
    }
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/integrations": {"get": {"operationId": "listIntegrations", "responses": {"200": listing, **unauthorized}}},
        "/integrations/{name}": {
            "parameters": name,
            "get": {
                "operationId": "getIntegration",
                "responses": {
                    "200": {"description": "The integration", "content": {"application/json": {"schema": info}}},
                    **unauthorized,
                    "404": {"description": "No such integration", **error},
                },
            },
        },
    }


def _dashboard_paths() -> dict[str, Any]:
    """``/dashboard/api/*``: the JSON and CSV behind the dashboard at ``/`` (docs/dashboard.md), in the token's
    environment."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    failures = {
        "400": {"description": "A bad filter (details.parameter names it)", **error},
        "401": {"description": "Missing, wrong, expired or revoked API token", **error},
        "503": {"description": "The sync destination cannot be read now (a sync writing a DuckDB file)", **error},
    }
    day = {"type": "string", "format": "date"}
    filters = [
        {"name": "from", "in": "query", "schema": day, "description": "first UTC day (default: 29 days before to)"},
        {"name": "to", "in": "query", "schema": day, "description": "last UTC day, included (default: today)"},
        {"name": "granularity", "in": "query", "schema": {"type": "string", "enum": ["day", "month"]}},
        {
            "name": "integration",
            "in": "query",
            "schema": {"type": "string"},
            "description": "only these integrations (comma-separated or repeated)",
        },
        {"name": "currency", "in": "query", "schema": {"type": "string", "pattern": "^[A-Z]{3}$"}},
    ]
    page = [
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    ]

    def answer(operation: str, text: str, params: list[dict[str, Any]], media: str = "application/json") -> Any:
        schema = {"type": "string"} if media == "text/csv" else {"type": "object"}
        return {
            "get": {
                "operationId": operation,
                "parameters": params,
                "responses": {"200": {"description": text, "content": {media: {"schema": schema}}}, **failures},
            }
        }

    return {
        "/dashboard/api/session": answer("dashboardSession", "The token's environment", []),
        "/dashboard/api/overview": answer("dashboardOverview", "Totals, figures and filter choices", filters),
        "/dashboard/api/health": answer("dashboardHealth", "Each account's status and sync state", []),
        "/dashboard/api/rows": answer("dashboardRows", "A page of the synced rows", filters + page),
        "/dashboard/api/rows.csv": answer("dashboardRowsCsv", "Every row of the filters", filters, "text/csv"),
    }


def _accounts_paths() -> dict[str, Any]:
    """``/integrated-accounts``: the accounts API, in the caller's environment."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    one = {
        "description": "The account",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}},
    }
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AccountInput"}}},
    }
    failures = {
        "400": {"description": "Invalid account", **error},
        "401": {"description": "Missing or wrong API token", **error},
        "413": {"description": "Body too large", **error},
    }
    account_id = [
        {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ]
    missing = {"404": {"description": "No such account in this environment", **error}}
    listing = {
        "description": "The environment's accounts",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"result": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}},
                }
            }
        },
    }
    return {
        "/integrated-accounts": {
            "post": {
                "operationId": "createAccount",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        "description": "Retries with the same key and body (for 24 hours) get the first answer, "
                        "with Idempotent-Replayed: true, and make no second account",
                    }
                ],
                "requestBody": body,
                "responses": {
                    "201": one,
                    **failures,
                    "422": {"description": "The Idempotency-Key was used for another body", **error},
                },
            },
            "get": {"operationId": "listAccounts", "responses": {"200": listing, "401": failures["401"]}},
        },
        "/integrated-accounts/{account_id}": {
            "parameters": account_id,
            "get": {"operationId": "getAccount", "responses": {"200": one, "401": failures["401"], **missing}},
            "patch": {
                "operationId": "updateAccount",
                "requestBody": body,
                "responses": {"200": one, **failures, **missing},
            },
            "delete": {
                "operationId": "deleteAccount",
                "responses": {"204": {"description": "Deleted"}, "401": failures["401"], **missing},
            },
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    # The Usage schema's refs (#/$defs/..., or <$id>#/$defs/... once a validator has resolved them in the shared
    # loaded schema) must point into where it sits inside this document.
    schema = load_schema("usage.schema.json")
    text = json.dumps(schema)
    if schema.get("$id"):
        text = text.replace(f'"{schema["$id"]}#/$defs/', '"#/$defs/')
    usage = json.loads(text.replace('"#/$defs/', '"#/components/schemas/Usage/$defs/'))
    common = [
        {
            "name": "integrated_account_id",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
        {"name": "truto_response_format", "in": "query", "schema": {"type": "string", "enum": list(RESPONSE_FORMATS)}},
        {"name": "truto_key_by", "in": "query", "schema": {"type": "string"}},
        {"name": "truto_ignore_limit", "in": "query", "schema": {"type": "boolean"}},
        {"name": "truto_ignore_remote_data", "in": "query", "schema": {"type": "boolean"}},
        {
            "name": "truto_exclude_fields[]",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        },
        {
            "name": "remote_query",
            "in": "query",
            "style": "deepObject",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        {
            "name": "limit",
            "in": "query",
            "description": "Rows per response; the stream format ignores it.",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        },
        {"name": "next_cursor", "in": "query", "schema": {"type": "string"}},
    ]
    error_response = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "unimeter",
            "version": "0.1.0",
            "description": "Unified usage metering over " + ", ".join(available_integrations()),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Usage": {k: v for k, v in usage.items() if k not in {"$schema", "$id"}},
                "Error": ERROR_SCHEMA,
                "Account": ACCOUNT_SCHEMA,
                "AccountInput": ACCOUNT_INPUT_SCHEMA,
                "ApiToken": TOKEN_SCHEMA,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/unified/usage-metering/usage": {
                "get": {
                    "operationId": "listUsage",
                    "summary": "List Usage",
                    "parameters": common + _integration_params(),
                    "responses": {
                        "200": {
                            "description": "Usage rows",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["result"],
                                        "properties": {
                                            "result": {
                                                "anyOf": [
                                                    {"type": "array", "items": {"$ref": "#/components/schemas/Usage"}},
                                                    {
                                                        "type": "object",
                                                        "additionalProperties": {"$ref": "#/components/schemas/Usage"},
                                                    },
                                                    {"type": "array", "items": {}},
                                                    {"type": "object", "additionalProperties": {"type": "object"}},
                                                ],
                                                "description": _RESULT_DESCRIPTION,
                                            },
                                            "next_cursor": {"type": ["string", "null"]},
                                            "debug": {"type": "object"},
                                        },
                                    }
                                },
                                "application/x-ndjson": {"schema": {"type": "string"}},
                            },
                        },
                        **{
                            str(code): {"description": text, **error_response}
                            for code, text in [
                                (400, "Bad parameter"),
                                (401, "Missing or wrong API token"),
                                (404, "Unknown account"),
                                (429, "Vendor rate limit"),
                                (502, "Vendor failure"),
                                (504, "Vendor timeout"),
                            ]
                        },
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {
                        "200": {"description": "The service and its store are up"},
                        "503": {"description": "Degraded: the store cannot be reached (the reason is in 'store')"},
                    },
                }
            },
            **_accounts_paths(),
            **_integrations_paths(),
            **_tokens_paths(),
            **_dashboard_paths(),
        },
    }
