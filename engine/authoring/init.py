"""``unimeter init NAME``: scaffold a mapping that passes ``unimeter lint`` and its first fixture case."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..resources import schemas_dir

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")


class InitError(Exception):
    """The scaffold cannot be written (the message says why)."""


@dataclass
class Scaffold:
    mapping: Path
    case: Path


def mapping_template(name: str) -> str:
    schema = (schemas_dir() / "integration.schema.json").resolve().as_uri()
    return f"""\
# yaml-language-server: $schema={schema}
#
# {name}: a scaffold from `unimeter init`. Replace every example value with the vendor's; the spec language is
# docs/spec-language.md, the fixtures docs/fixtures.md.
name: {name}
label: {name.replace("-", " ").title()}
docs_url: https://example.com/docs/usage-api     # the vendor's API reference
# The unified fields this mapping fills (schemas/usage.schema.json).
fills: [id, product, metric_name, user, model, charges, usage.tokens, start_date, end_date, remote_data]

credentials:
  api_key:
    secret: true      # secret: redacted everywhere, never stored in fixtures
    required: true
    description: The vendor API key, sent as a Bearer token.

# Where requests go; an account's context.base_url overrides it (`--context base_url=...`).
base_url: https://api.example.com

auth:
  kind: headers     # see docs/spec-language.md for the other kinds
  headers:
    Authorization: {{jsonata: "'Bearer ' & $credentials.api_key"}}

params:
  start_date:
    type: date
    required: false
    default: {{jsonata: "$formatDate($startOfMonth($now()), 'date')"}}
    note: First day reported (inclusive). Defaults to the start of the current month.

errors:
  message: {{jsonata: "error.message"}}   # where the vendor's error body says what went wrong
  auth_statuses: [401, 403]
  retry_statuses: [429, 503]
  max_retries: 1

operations:
  - name: usage
    money: billed       # what the charges are: see docs/money.md
    request:
      method: GET
      path: /v1/usage
      query:
        since: {{jsonata: "$params.start_date"}}
        cursor: {{jsonata: "$page"}}
    pagination:
      kind: cursor      # or another kind from docs/spec-language.md
      next: {{jsonata: "next_cursor"}}
    records: {{jsonata: "data"}}
    transform:
      jsonata: |
        {{
          "id": "{name}:" & date & ":" & user_id,
          "product": {{"id": "{name}", "name": "{name}"}},
          "metric_name": "daily_tokens",
          "user": {{"id": user_id, "email": email}},
          "model": {{"id": model, "provider": "{name}"}},
          "charges": [{{"amount": $money(cost), "currency": "USD", "type": "net"}}],
          "usage": {{"tokens": {{"input": input_tokens, "output": output_tokens}}}},
          "start_date": $toInstant(date),
          "end_date": $addDays(date, 1)
        }}
"""


CASE_TEMPLATE = """\
# Recorded by `unimeter record {name} defaults ...`, which keeps this description and writes the rest.
description: "Defaults: the current month"
"""


def init_integration(name: str, mappings: Path, fixtures: Path) -> Scaffold:
    """Write ``mappings/NAME.yaml`` and ``fixtures/NAME/defaults/case.yaml``; never overwrites either."""
    if not NAME_PATTERN.match(name):
        raise InitError(f"integration name {name!r} must be lowercase letters, digits and '-', starting with a letter")
    mapping = mappings / f"{name}.yaml"
    case = fixtures / name / "defaults" / "case.yaml"
    for path in (mapping, case):
        if path.exists():
            raise InitError(f"{path} already exists; init never overwrites a file")
    mappings.mkdir(parents=True, exist_ok=True)
    case.parent.mkdir(parents=True, exist_ok=True)
    mapping.write_text(mapping_template(name), encoding="utf-8")
    case.write_text(CASE_TEMPLATE.format(name=name), encoding="utf-8")
    return Scaffold(mapping, case)
