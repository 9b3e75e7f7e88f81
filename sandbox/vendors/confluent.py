"""Confluent Cloud Billing API: ``GET /billing/v1/costs``.

Public docs: https://docs.confluent.io/cloud/current/ccloud/list-billing-v-1-costs/ (spec:
https://docs.confluent.io/cloud/current/openapi.yaml).

What it serves, per the vendor doc and ``schemas/vendors/confluent-billing-costs.json``:

* Auth: HTTP Basic with a Cloud API key, key id as username and secret as password; anything else is a 401
  ``Failure`` (``{"errors": [Error]}``) with the documented ``WWW-Authenticate: Basic error="invalid_key"`` header.
* Dates: ``start_date`` inclusive, ``end_date`` exclusive, both ``YYYY-MM-DD`` UTC and required on a first request.
  400 ``Failure`` (with ``source.parameter``) when one is missing or malformed, when the range is empty, when it spans
  more than one month (the end may be at most one calendar month after the start, normalised as Go's
  ``AddDate(0, 1, 0)``: 01-31 -> 03-03), or when the start is more than one year before today
  (SandboxConfig.now, else the real UTC clock). A future ``end_date`` is accepted (undocumented) and, like every day
  of the range, has rows:
  the 72 h availability lag is not simulated.
* Pagination: ``page_size`` (default 5000, 1..10000, else 400) is only read on the first request ("only valid on the
  first request": sent again with a token it is accepted and ignored); ``metadata.next`` is a full URL carrying only
  ``page_token`` (the spec example's form), null on the last page. The token is opaque and self-contained (query,
  page size, offset, signed with the seed), so the next URL also works verbatim without ``start_date``/``end_date``;
  when they are resent they must equal the token's (400 otherwise). Cursors do not expire (the doc names no expiry).
  **Sandbox cap:** a page holds at most one week of rows (``7 x rows_per_day``), whatever ``page_size`` asks for, so
  a month window is read in several pages even with the ``page_size=10000`` the mapping sends (the API documents
  ``page_size`` as a maximum, so a shorter page is within the contract).
* Rows: per UTC day, every resource (``SandboxConfig.resources``; kinds cycle Kafka standard, connector, Schema
  Registry, Kafka dedicated) has three line types, plus one organisation-wide ``PROMO_CREDIT`` row (negative
  amounts, no product, resource, price or quantity; ``unit`` is required by the spec, so it is ``USD``). Amounts are
  whole cents: ``original_amount = round_half_up(quantity x price)``, ``amount = original_amount - discount_amount``.
  Environments: resource ``r`` is in environment ``r % SandboxConfig.organizations`` (one Confluent organisation per
  key). Rows are ordered day, resource, line type, promo last, and generated page by page from the offset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from ..config import SandboxConfig
from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

API_KEY = "SANDBOXCFLTKEY01"
API_SECRET = "sandbox-confluent-cloud-api-secret"
PATH = "/billing/v1/costs"
DEFAULT_PAGE_SIZE = 5000
MAX_PAGE_SIZE = 10_000
LINES_PER_RESOURCE = 3
DAYS_PER_PAGE = 7
PROMO_CODE = "KAFKA101"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class _Line:
    line_type: str
    unit: str
    price: str
    low: int
    high: int
    """Daily quantity range in ten-thousandths (a quantity has at most four decimals)."""


@dataclass(frozen=True)
class _Kind:
    prefix: str
    product: str
    names: tuple[str, ...]
    lines: tuple[_Line, _Line, _Line]


_KINDS = (
    _Kind(
        "lkc",
        "KAFKA",
        ("orders", "payments", "clickstream"),
        (
            _Line("KAFKA_BASE", "Hour", "0.75", 240_000, 240_000),
            _Line("KAFKA_STORAGE", "GB", "0.0033", 100_000, 5_000_000),
            _Line("KAFKA_NETWORK_WRITE", "GB", "0.05", 10_000, 2_000_000),
        ),
    ),
    _Kind(
        "lcc",
        "CONNECT",
        ("s3-sink", "postgres-source", "bigquery-sink"),
        (
            _Line("CONNECT_CAPACITY", "Hour", "0.12", 240_000, 240_000),
            _Line("CONNECT_NUM_TASKS", "Task-hour", "0.034", 240_000, 960_000),
            _Line("CONNECT_THROUGHPUT", "GB", "0.025", 10_000, 900_000),
        ),
    ),
    _Kind(
        "lsrc",
        "STREAM_GOVERNANCE",
        ("schema-registry",),
        (
            _Line("GOVERNANCE_BASE", "Hour", "0.125", 240_000, 240_000),
            _Line("SCHEMA_REGISTRY", "Schema", "0.0014", 1_000_000, 20_000_000),
            _Line("NUM_RULES", "Rule", "0.0013", 0, 500_000),
        ),
    ),
    _Kind(
        "lkc",
        "KAFKA",
        ("ledger", "telemetry", "inventory"),
        (
            _Line("KAFKA_NUM_CKUS", "Hour", "2.25", 240_000, 960_000),
            _Line("KAFKA_NETWORK_READ", "GB", "0.05", 10_000, 3_000_000),
            _Line("KAFKA_PARTITION", "Partition-hour", "0.0015", 240_000, 24_000_000),
        ),
    ),
)
_NETWORKS = ("INTERNET", "PRIVATE_LINK", "TRANSIT_GATEWAY", "PEERED_VPC")
_REGIONS = (("aws", "us-east-1"), ("aws", "eu-west-1"), ("gcp", "us-central1"), ("azure", "westeurope"))
_CONNECTORS = ("S3_SINK", "PostgresCdcSource", "BigQuerySink")
_ERRORS = {
    400: ("invalid_parameter", "Invalid Parameter"),
    401: ("user_unauthenticated", "Authentication Required"),
    403: ("user_unauthorized", "User Access Unauthorized"),
    404: ("not_found", "Not Found"),
    429: ("too_many_requests", "Too Many Requests"),
    500: ("internal_server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
}


@dataclass(frozen=True)
class _Resource:
    index: int
    kind: _Kind
    id: str
    display_name: str
    environment: str
    network: str
    provider: str
    region: str
    discount_percent: int


@dataclass(frozen=True)
class _Query:
    start: date
    end: date
    page_size: int
    offset: int


class _BadRequest(Exception):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class ConfluentSimulator(VendorSimulator):
    name = "confluent"

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._resources: dict[int, _Resource] = {}

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY, "api_secret": API_SECRET}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """The previous calendar month through three days ago (the vendor's data lag): two month windows."""
        end = (now - timedelta(days=3)).date()
        start = _add_months(end.replace(day=1), -1)
        return {"start_date": start.isoformat(), "end_date": end.isoformat()}

    @property
    def rows_per_day(self) -> int:
        return self.config.resources * LINES_PER_RESOURCE + 1

    @property
    def page_cap(self) -> int:
        """The most rows one page holds in the sandbox: a week of rows, so a month takes several pages."""
        return DAYS_PER_PAGE * self.rows_per_day

    def today(self) -> date:
        """The vendor's clock, for the one-year look-back limit."""
        return self.now().date()

    def error(self, status: int, message: str) -> SimResponse:
        return self._failure(status, message)

    def rate_limited(self, retry_after: float) -> SimResponse:
        response = self._failure(429, "Exceeded rate limit")
        reset = f"{retry_after:g}"
        response.headers.update(
            {"retry-after": reset, "x-ratelimit-limit": "80", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        )
        return response

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        if (request.method, request.path) != ("GET", PATH):
            return self._failure(404, f"No route for {request.method} {request.path}")
        if self.basic_auth(request) != (API_KEY, API_SECRET):
            return self._failure(401, "Valid authentication credentials must be provided")
        token = request.param("page_token")
        try:
            query = self._from_token(token, request) if token else self._first_query(request)
        except _BadRequest as bad:
            return self._failure(400, str(bad), parameter=bad.parameter)
        total = self._days_served(query.start, query.end) * self.rows_per_day
        following = query.offset + query.page_size
        if fault == "loop_cursor":
            next_token: str | None = token or self._token(_Query(query.start, query.end, query.page_size, 0))
        elif fault == "restart_cursor":
            next_token = self._token(_Query(query.start, query.end, query.page_size, 0))
        else:
            next_token = (
                self._token(_Query(query.start, query.end, query.page_size, following)) if following < total else None
            )
        host = request.headers.get("host", "127.0.0.1")
        next_url = f"http://{host}{PATH}?page_token={quote(next_token, safe='')}" if next_token else None
        prefix = (
            '{"api_version":"billing/v1","kind":"CostList","metadata":' + json.dumps({"next": next_url}) + ',"data":['
        )
        rows = self._rows(query.start, query.offset, min(following, total))
        return streamed_json(prefix, rows, "]}", headers=self._ok_headers())

    def _days_served(self, start: date, end: date) -> int:
        """The days of ``[start, end)`` that have costs: none after today (costs are reported as they accrue)."""
        return max(0, (min(end, self.today() + timedelta(days=1)) - start).days)

    def invoice(self, start: date, end: date) -> Decimal:
        """Σ amount of every cost line of ``[start, end)``, promotional credits included, in whole cents."""
        cents = 0
        for offset in range(self._days_served(start, end)):
            day = start + timedelta(days=offset)
            for slot in range(self.rows_per_day):
                cents += int(Decimal(repr(self.row(day, slot)["amount"])) * 100)
        return Decimal(cents) / 100

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        return [{"start_date": start.isoformat(), "end_date": (end - timedelta(days=1)).isoformat()}]

    def _first_query(self, request: SimRequest) -> _Query:
        start = _parse_date(request, "start_date")
        end = _parse_date(request, "end_date")
        if end <= start:
            raise _BadRequest(
                "end_date", "end_date must be after start_date (start_date is inclusive, end_date exclusive)"
            )
        if end > _add_months(start, 1):
            raise _BadRequest("end_date", "One month is the maximum window between start and end dates")
        earliest = _add_months(self.today(), -12)
        if start < earliest:
            raise _BadRequest(
                "start_date", f"The start date can be up to one year in the past (on or after {earliest.isoformat()})"
            )
        text = request.param("page_size")
        size = DEFAULT_PAGE_SIZE
        if text is not None:
            if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_PAGE_SIZE:
                raise _BadRequest("page_size", f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}")
            size = int(text)
        return _Query(start, end, min(size, self.page_cap), 0)

    def _from_token(self, token: str, request: SimRequest) -> _Query:
        """The query a token was issued for; resent dates must match it, a resent page_size is ignored."""
        query = self._decode(token)
        if query is None:
            raise _BadRequest("page_token", "The page token is invalid")
        for name, value in (("start_date", query.start), ("end_date", query.end)):
            sent = request.param(name)
            if sent is not None and sent != value.isoformat():
                raise _BadRequest(name, f"{name} does not match the query the page token belongs to")
        return query

    def _token(self, query: _Query) -> str:
        payload = f"{query.start.isoformat()}|{query.end.isoformat()}|{query.page_size}|{query.offset}"
        return base64.urlsafe_b64encode(f"{payload}|{self._sign(payload)}".encode()).decode().rstrip("=")

    def _decode(self, token: str) -> _Query | None:
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            start, end, size, offset, signature = text.split("|")
            if signature != self._sign(f"{start}|{end}|{size}|{offset}"):
                return None
            return _Query(date.fromisoformat(start), date.fromisoformat(end), int(size), int(offset))
        except ValueError:
            return None

    def _sign(self, payload: str) -> str:
        return hashlib.sha256(f"{self.name}|{self.config.seed}|{payload}".encode()).hexdigest()[:12]

    def _rows(self, start: date, first: int, stop: int) -> Iterator[dict[str, Any]]:
        for index in range(first, stop):
            day, slot = divmod(index, self.rows_per_day)
            yield self.row(start + timedelta(days=day), slot)

    def row(self, day: date, slot: int) -> dict[str, Any]:
        """Line ``slot`` of ``day``: resource ``slot // 3``'s line ``slot % 3``, or the day's promo credit."""
        if slot == self.rows_per_day - 1:
            return self._promo(day)
        resource = self._resource(slot // LINES_PER_RESOURCE)
        line = resource.kind.lines[slot % LINES_PER_RESOURCE]
        rng = self.rng("cost", day.isoformat(), resource.index, line.line_type)
        quantity = Decimal(rng.randint(line.low, line.high)) / 10_000
        if revision := self.revision(day):
            # A restated day: the same line (its id comes from the draws below, unchanged), another quantity.
            change = self.rng("revision", day.isoformat(), resource.index, line.line_type, revision).randint(1, 25)
            quantity = (quantity * (100 + change) / 100).quantize(Decimal("0.0001"))
        original = int((quantity * Decimal(line.price) * 100).quantize(Decimal(1), ROUND_HALF_UP))
        discount = original * resource.discount_percent // 100
        row = self._cost(day, rng.getrandbits(28), line.line_type, line.unit, original, discount)
        row.update(
            {
                "network_access_type": resource.network,
                "product": resource.kind.product,
                "price": float(line.price),
                "quantity": float(quantity),
                "resource": {
                    "id": resource.id,
                    "display_name": resource.display_name,
                    "environment": {"id": resource.environment},
                },
            }
        )
        if resource.kind.product == "CONNECT":
            row["tier_dimensions"] = {
                "provider": resource.provider,
                "region": resource.region,
                "connector_type": _CONNECTORS[resource.index % len(_CONNECTORS)],
            }
        return row

    def _promo(self, day: date) -> dict[str, Any]:
        rng = self.rng("promo", day.isoformat())
        credit = -rng.randint(100, 2500)
        row = self._cost(day, rng.getrandbits(28), "PROMO_CREDIT", "USD", credit, 0)
        row["description"] = PROMO_CODE
        return row

    @staticmethod
    def _cost(day: date, serial: int, line_type: str, unit: str, original: int, discount: int) -> dict[str, Any]:
        return {
            "api_version": "billing/v1",
            "kind": "Cost",
            "id": f"dlz-{serial:07x}",
            "start_date": day.isoformat(),
            "end_date": (day + timedelta(days=1)).isoformat(),
            "granularity": "DAILY",
            "line_type": line_type,
            "unit": unit,
            "original_amount": original / 100,
            "discount_amount": discount / 100,
            "amount": (original - discount) / 100,
        }

    def _resource(self, index: int) -> _Resource:
        if index not in self._resources:
            self._resources[index] = self._new_resource(index)
        return self._resources[index]

    def _new_resource(self, index: int) -> _Resource:
        rng = self.rng("resource", index)
        kind = _KINDS[index % len(_KINDS)]
        provider, region = rng.choice(_REGIONS)
        suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
        environment = self.rng("environment", index % max(1, self.config.organizations)).getrandbits(24)
        return _Resource(
            index,
            kind,
            f"{kind.prefix}-{suffix}",
            f"{rng.choice(kind.names)}-{index}",
            f"env-{environment:06x}",
            rng.choice(_NETWORKS),
            provider,
            region,
            rng.choice((0, 0, 10, 20)),
        )

    def _failure(self, status: int, detail: str, parameter: str | None = None) -> SimResponse:
        code, title = _ERRORS.get(status, ("error", "Error"))
        digest = hashlib.sha256(f"{status}|{detail}".encode()).digest()
        error: dict[str, Any] = {
            "id": str(uuid.UUID(bytes=digest[:16])),
            "status": str(status),
            "code": code,
            "title": title,
            "detail": detail,
        }
        if parameter:
            error["source"] = {"parameter": parameter}
        headers = {"x-request-id": uuid.uuid4().hex}
        if status == 401:
            headers["www-authenticate"] = 'Basic error="invalid_key", error_description="The API Key is invalid"'
        return json_response({"errors": [error]}, status, headers)

    @staticmethod
    def _ok_headers() -> dict[str, str]:
        return {
            "x-request-id": uuid.uuid4().hex,
            "x-ratelimit-limit": "80",
            "x-ratelimit-remaining": "79",
            "x-ratelimit-reset": "60",
        }


def _parse_date(request: SimRequest, name: str) -> date:
    text = request.param(name)
    if text is None or text == "":
        raise _BadRequest(name, f"{name} is required (YYYY-MM-DD, UTC)")
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise _BadRequest(name, f"{name} must be a date in the format yyyy-mm-dd, got {text!r}") from None


def _add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, an overflowing day rolling into the next month as Go's AddDate."""
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1) + timedelta(days=day.day - 1)
