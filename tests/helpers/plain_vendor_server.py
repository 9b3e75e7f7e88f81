# ruff: noqa: E501  (the vendor payloads below are copied verbatim, long lines included)
"""A plain local HTTP server that plays a vendor API from its documented example payloads, for CLI tests.

`VendorServer` is a `http.server.ThreadingHTTPServer` on 127.0.0.1 (port 0) running in a background thread. Each
route answers one method and path with a fixed body for ANY query string or request body; a route can name page
tokens (a query or JSON-body value) that get another body, so a documented payload that announces a next page can be
followed by the engine to a final page instead of looping. Every request is recorded (method, path, query, lower-cased
headers, body) for assertions.

The payloads are the examples of each vendor's public API reference (URL above each one), copied verbatim as JSON
text and served byte for byte; where a vendor publishes no example, the payload is assembled from its documented
fields and says so. The only bodies not taken from the vendor docs are the final pages (`*_LAST_PAGE`): the documented
envelope with no records and no next-page marker.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Route:
    body: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)


class VendorServer:
    """Serve fixed bodies at fixed paths on 127.0.0.1 and record every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="plain-vendor-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(
        self,
        method: str,
        path: str,
        body: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        pages: dict[str, str] | None = None,
    ) -> None:
        """Answer ``method path`` (any query) with ``body``; a request carrying a token of ``pages`` gets that body."""
        self.routes[(method.upper(), path)] = Route(
            body=body, status=status, headers=dict(headers or {}), pages=dict(pages or {})
        )

    def start(self) -> VendorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                server._record(
                    RecordedRequest(
                        method=self.command,
                        path=split.path,
                        query=query,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                route = server.routes.get((self.command, split.path))
                if route is None:
                    self._send(
                        404,
                        {"content-type": "application/json"},
                        json.dumps({"error": f"plain vendor server: no route for {self.command} {split.path}"}),
                    )
                    return
                carried = {v for values in query.values() for v in values}
                if isinstance(body, dict):
                    carried |= {str(v) for v in body.values() if isinstance(v, str | int)}
                text = next((page for token, page in route.pages.items() if token in carried), route.body)
                self._send(route.status, {"content-type": "application/json", **route.headers}, text)

            def _send(self, status: int, headers: dict[str, str], text: str) -> None:
                payload = text.encode("utf-8")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
                return

        return Handler


# ---------------------------------------------------------------------------------------------------------------------
# Documented vendor payloads, verbatim.
# ---------------------------------------------------------------------------------------------------------------------

# POST /teams/daily-usage-data, verbatim from https://cursor.com/docs/account/teams/admin-api
CURSOR_DAILY_USAGE_DATA = """\
{
  "data": [
    {
      "userId": 12345,
      "day": "2024-03-18",
      "date": 1710720000000,
      "isActive": true,
      "totalLinesAdded": 1543,
      "totalLinesDeleted": 892,
      "acceptedLinesAdded": 1102,
      "acceptedLinesDeleted": 645,
      "totalApplies": 87,
      "totalAccepts": 73,
      "totalRejects": 14,
      "totalTabsShown": 342,
      "totalTabsAccepted": 289,
      "composerRequests": 45,
      "chatRequests": 128,
      "agentRequests": 12,
      "cmdkUsages": 67,
      "subscriptionIncludedReqs": 180,
      "apiKeyReqs": 0,
      "usageBasedReqs": 5,
      "bugbotUsages": 3,
      "mostUsedModel": "gpt-5",
      "applyMostUsedExtension": ".tsx",
      "tabMostUsedExtension": ".ts",
      "clientVersion": "0.25.1",
      "email": "developer@company.com"
    },
    {
      "userId": 12346,
      "day": "2024-03-18",
      "date": 1710720000000,
      "isActive": false,
      "totalLinesAdded": 0,
      "totalLinesDeleted": 0,
      "acceptedLinesAdded": 0,
      "acceptedLinesDeleted": 0,
      "totalApplies": 0,
      "totalAccepts": 0,
      "totalRejects": 0,
      "totalTabsShown": 0,
      "totalTabsAccepted": 0,
      "composerRequests": 0,
      "chatRequests": 0,
      "agentRequests": 0,
      "cmdkUsages": 0,
      "subscriptionIncludedReqs": 0,
      "apiKeyReqs": 0,
      "usageBasedReqs": 0,
      "bugbotUsages": 0,
      "mostUsedModel": null,
      "applyMostUsedExtension": null,
      "tabMostUsedExtension": null,
      "clientVersion": null,
      "email": "inactive-user@company.com"
    }
  ],
  "period": {
    "startDate": 1710720000000,
    "endDate": 1710892800000
  },
  "pagination": {
    "page": 1,
    "pageSize": 1000,
    "totalUsers": 150,
    "totalPages": 1,
    "hasNextPage": false,
    "hasPreviousPage": false
  }
}
"""

# Cursor's common error shape, verbatim from https://cursor.com/docs/api
CURSOR_401 = """\
{"error": "Unauthorized", "message": "Invalid API key"}
"""

# GET /api/v2/usage/estimated_cost, assembled from the field examples of the spec behind (no response example there)
# https://docs.datadoghq.com/api/latest/usage-metering/get-estimated-cost-across-your-account/
DATADOG_ESTIMATED_COST = """\
{
  "data": [
    {
      "type": "cost_by_org",
      "id": "3c6c6f0a5b1e4c2f9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d",
      "attributes": {
        "org_name": "Acme Prod",
        "public_id": "abcd1234efgh5678",
        "account_name": "Acme",
        "account_public_id": "wxyz9876",
        "region": "us",
        "date": "2026-10-01T00:00:00Z",
        "total_cost": 1250.5,
        "charges": [
          { "product_name": "infra_host", "charge_type": "committed", "cost": 900.0 },
          { "product_name": "infra_host", "charge_type": "on_demand", "cost": 150.5 },
          { "product_name": "infra_host", "charge_type": "total", "cost": 1050.5 },
          { "product_name": "logs_indexed_15day", "charge_type": "on_demand", "cost": 200.0 },
          { "product_name": "logs_indexed_15day", "charge_type": "total", "cost": 200.0 }
        ]
      }
    }
  ]
}
"""

# GET /billing/v1/costs, assembled from the field examples of the public spec (it has no success example)
# https://docs.confluent.io/cloud/current/openapi.yaml
CONFLUENT_COSTS = """\
{
  "api_version": "billing/v1",
  "kind": "CostList",
  "metadata": { "next": "https://api.confluent.cloud/billing/v1/costs?page_token=UvmDWOB1iwfAIBPj6EYb" },
  "data": [
    {
      "api_version": "billing/v1",
      "kind": "Cost",
      "id": "dlz-f3a90de",
      "start_date": "2022-10-12",
      "end_date": "2022-10-15",
      "granularity": "DAILY",
      "network_access_type": "INTERNET",
      "product": "KAFKA",
      "line_type": "KAFKA_NUM_CKUS",
      "price": 1.5,
      "unit": "GB",
      "quantity": 99.9,
      "original_amount": 149.85,
      "discount_amount": 20.85,
      "amount": 129.0,
      "description": "KAFKA101",
      "tier_dimensions": { "provider": "aws", "region": "us-east-1", "connector_type": "BigQuerySink" },
      "resource": {
        "id": "lkc-12345",
        "display_name": "prod-kafka-cluster",
        "environment": { "id": "env-123" }
      }
    }
  ]
}
"""

# Confluent's 401 error example, verbatim from https://docs.confluent.io/cloud/current/openapi.yaml
CONFLUENT_401 = """\
{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"401","code":"user_unauthenticated","title":"Authentication Required","detail":"Valid authentication credentials must be provided"}]}
"""

# GET /v1/analytics/codex/workspaces/{workspace_id}/usage, assembled (no public example; fields per
# https://developers.openai.com/codex/enterprise/governance)
CODEX_USAGE = """\
{
  "object": "page",
  "data": [
    {
      "object": "codex.usage.result",
      "start_time": 1772668800,
      "end_time": 1772755200,
      "user_id": "user-AbC123xyz",
      "actor": { "type": "ACCOUNT_USER", "user_id": "user-AbC123xyz", "email": "dev@example.com" },
      "totals": { "threads": 12, "turns": 48, "credits": 1234.5, "cost_usd": null, "estimated_cost_usd": 49.38,
                  "uncached_text_input_tokens": 100000, "cached_text_input_tokens": 2000000,
                  "text_output_tokens": 50000, "text_total_tokens": 2150000 },
      "clients": [
        { "client_id": "CODEX_CLI", "threads": 8, "turns": 30, "credits": 800.0,
          "uncached_text_input_tokens": 70000, "cached_text_input_tokens": 1400000, "text_output_tokens": 32000, "text_total_tokens": 1502000 },
        { "client_id": "CODEX_IDE_VSCODE", "threads": 4, "turns": 18, "credits": 434.5,
          "uncached_text_input_tokens": 30000, "cached_text_input_tokens": 600000, "text_output_tokens": 18000, "text_total_tokens": 648000 }
      ],
      "models": [ { "model": "gpt-5.5", "speed": "standard", "credits": 1234.5,
                    "uncached_text_input_tokens": 100000, "cached_text_input_tokens": 2000000,
                    "text_output_tokens": 50000, "text_total_tokens": 2150000 } ],
      "code_attribution": { "lines_added": 420, "lines_removed": 95 }
    }
  ],
  "has_more": false,
  "next_page": null
}
"""

# GET /v1/organizations/analytics/users, verbatim from https://platform.claude.com/docs/en/api/admin/analytics/users
CLAUDE_ANALYTICS_USERS = """\
{
  "data": [
    {
      "chat_metrics": {
        "connectors_used_count": 0,
        "distinct_artifacts_created_count": 0,
        "distinct_conversation_count": 0,
        "distinct_files_uploaded_count": 0,
        "distinct_projects_created_count": 0,
        "distinct_projects_used_count": 0,
        "distinct_shared_artifacts_viewed_count": 0,
        "distinct_skills_used_count": 0,
        "message_count": 0,
        "shared_conversations_viewed_count": 0,
        "thinking_message_count": 0
      },
      "claude_code_metrics": {
        "core_metrics": {
          "commit_count": 0,
          "distinct_session_count": 0,
          "lines_of_code": { "added_count": 0, "removed_count": 0 },
          "pull_request_count": 0
        },
        "tool_actions": {
          "edit_tool": { "accepted_count": 0, "rejected_count": 0 },
          "multi_edit_tool": { "accepted_count": 0, "rejected_count": 0 },
          "notebook_edit_tool": { "accepted_count": 0, "rejected_count": 0 },
          "write_tool": { "accepted_count": 0, "rejected_count": 0 }
        }
      },
      "cowork_metrics": {
        "action_count": 0,
        "connectors_used_count": 0,
        "dispatch_turn_count": 0,
        "distinct_connectors_used_count": 0,
        "distinct_session_count": 0,
        "distinct_skills_used_count": 0,
        "message_count": 0,
        "skills_used_count": 0
      },
      "design_metrics": {
        "distinct_projects_created_count": 0,
        "distinct_projects_used_count": 0,
        "distinct_session_count": 0,
        "message_count": 0
      },
      "office_metrics": {
        "excel": { "connectors_used_count": 0, "distinct_connectors_used_count": 0, "distinct_session_count": 0, "distinct_skills_used_count": 0, "message_count": 0, "skills_used_count": 0 },
        "outlook": { "connectors_used_count": 0, "distinct_connectors_used_count": 0, "distinct_session_count": 0, "distinct_skills_used_count": 0, "message_count": 0, "skills_used_count": 0 },
        "powerpoint": { "connectors_used_count": 0, "distinct_connectors_used_count": 0, "distinct_session_count": 0, "distinct_skills_used_count": 0, "message_count": 0, "skills_used_count": 0 },
        "word": { "connectors_used_count": 0, "distinct_connectors_used_count": 0, "distinct_session_count": 0, "distinct_skills_used_count": 0, "message_count": 0, "skills_used_count": 0 }
      },
      "web_search_count": 0,
      "user": { "id": "id", "email_address": "email_address" }
    }
  ],
  "next_page": "next_page"
}
"""

# GET /v1/organizations/analytics/user_usage_report, assembled (no public example; field names from the
# anthropics/anthropic-sdk-python types, schemas/vendors/claude-analytics-user-usage-report.json)
CLAUDE_USER_USAGE_REPORT = """\
{
  "organization_id": "3f1e7a0c-1234-5678-9abc-def012345678",
  "data": [
    {
      "actor": { "type": "user_actor", "user_id": "user_01AbCdEfGhJkLmNoPq", "name": "Jane Smith",
                 "email_address": "jane@example.com", "deleted": false },
      "product": "claude_code", "model": "claude-opus-4-6",
      "context_window": null, "inference_geo": null, "speed": null, "rbac_group_id": null,
      "starting_at": null, "ending_at": null,
      "uncached_input_tokens": 182340,
      "cache_creation": { "ephemeral_5m_input_tokens": 40210, "ephemeral_1h_input_tokens": 0 },
      "cache_read_input_tokens": 2210400, "output_tokens": 51234, "total_tokens": 2484184,
      "server_tool_use": { "web_search_requests": 3 }, "requests": 412
    }
  ],
  "has_more": false, "next_page": null, "data_refreshed_at": "2026-03-04T08:00:00Z"
}
"""

# GET /v1/organizations/usage_report/claude_code, verbatim from
# https://docs.anthropic.com/en/api/admin-api/claude-code/get-claude-code-usage-report
CLAUDE_CODE_USAGE_REPORT = """\
{
  "data": [
    {
      "actor": { "email_address": "user@emaildomain.com", "type": "user_actor" },
      "core_metrics": {
        "commits_by_claude_code": 8,
        "lines_of_code": { "added": 342, "removed": 128 },
        "num_sessions": 15,
        "pull_requests_by_claude_code": 2
      },
      "customer_type": "api",
      "date": "2025-08-08T00:00:00Z",
      "model_breakdown": [
        {
          "estimated_cost": { "amount": 186, "currency": "USD" },
          "model": "claude-sonnet-4-20250514",
          "tokens": { "cache_creation": 2340, "cache_read": 8790, "input": 45230, "output": 12450 }
        },
        {
          "estimated_cost": { "amount": 42, "currency": "USD" },
          "model": "claude-3-5-haiku-20241022",
          "tokens": { "cache_creation": 890, "cache_read": 3420, "input": 23100, "output": 5680 }
        }
      ],
      "organization_id": "12345678-1234-5678-1234-567812345678",
      "subscription_type": "enterprise",
      "terminal_type": "iTerm.app",
      "tool_actions": {
        "edit_tool": { "accepted": 25, "rejected": 3 },
        "multi_edit_tool": { "accepted": 12, "rejected": 1 },
        "notebook_edit_tool": { "accepted": 5, "rejected": 2 },
        "write_tool": { "accepted": 8, "rejected": 0 }
      }
    }
  ],
  "has_more": true,
  "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
}
"""

# The 401 bodies of vendors whose docs print none verbatim: the documented error shape with an authentication message.
# Datadog: APIErrorResponse {"errors": [string]}, the 400/403/429 body of the cost endpoints' spec.
DATADOG_401 = '{"errors": ["Unauthorized"]}'
# OpenAI: ErrorResponse {"error": {"message", "type", "param", "code"}} (openai/openai-openapi).
CODEX_401 = '{"error": {"message": "Invalid API key", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}'
# Claude: {"type": "error", "error": {"type", "message"}, "request_id"}
# (https://platform.claude.com/docs/en/api/errors).
CLAUDE_401 = '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}'

# ---------------------------------------------------------------------------------------------------------------------
# Final pages (not vendor text): the documented envelope with no records and no next-page marker, served when the
# engine follows the next-page token of a documented payload above.
# ---------------------------------------------------------------------------------------------------------------------

CONFLUENT_NEXT_PAGE_TOKEN = "UvmDWOB1iwfAIBPj6EYb"
CONFLUENT_LAST_PAGE = '{"api_version": "billing/v1", "kind": "CostList", "metadata": {"next": null}, "data": []}'
CLAUDE_USERS_NEXT_PAGE_TOKEN = "next_page"
CLAUDE_USERS_LAST_PAGE = '{"data": [], "next_page": null}'
CLAUDE_CODE_NEXT_PAGE_TOKEN = "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
CLAUDE_CODE_LAST_PAGE = '{"data": [], "has_more": false, "next_page": null}'
