"""What each integration on the mapping search path offers, as data and as the page ``docs/integrations.md``.

:func:`integration_info` is the one description of an integration: ``unimeter docs`` renders it as Markdown and the
HTTP service answers it as JSON (``GET /integrations``), so both always say the same thing. It never holds a
credential's value: only its name, whether it is secret and required, and what it is.
"""

from __future__ import annotations

from typing import Any

import yaml

from .resources import load_schema
from .spec.model import IntegrationSpec, LateDataSpec, Template
from .spec.registry import integration_sources, load_integration

MONEY_MEANING = {
    "billed": "net is what the vendor invoices",
    "estimated": "net is the vendor's estimate of an open period's bill",
    "list_price": "no net: total is a list-price illustration nobody is billed",
    "none": "no charges",
}
"""What an operation's ``money`` declaration means (docs/money.md)."""


def valid_fills() -> list[dict[str, str]]:
    """Every value a mapping's ``fills`` may name: the Usage schema's top-level fields but ``usage``, and its groups
    ``usage.<group>``."""
    schema = load_schema("usage.schema.json")
    definitions = schema.get("$defs", {})

    def describe(prop: dict[str, Any]) -> str:
        text = prop.get("description")
        ref = prop.get("$ref", "")
        if not text and ref.startswith("#/$defs/"):
            text = definitions.get(ref.removeprefix("#/$defs/"), {}).get("description")
        return " ".join(str(text or "").split())

    fills: list[dict[str, str]] = []
    for name, prop in schema["properties"].items():
        if name != "usage":
            fills.append({"name": name, "description": describe(prop)})
        else:  # fills names the usage groups, never usage as a whole
            group = definitions.get(prop.get("$ref", "").removeprefix("#/$defs/"), prop)
            for sub, sub_prop in group.get("properties", {}).items():
                fills.append({"name": f"usage.{sub}", "description": describe(sub_prop)})
    return fills


def _template(template: Template | None) -> Any:
    """A template as shown: its literal, ``computed`` for JSONata (the expression is an implementation detail)."""
    if template is None:
        return None
    if template.is_expression or template.children is not None:
        return "computed"
    return template.literal


def _source(template: Template | None) -> str | None:
    if template is None:
        return None
    if template.expression is not None:
        return " ".join(template.expression.source.split())
    return str(template.literal) if template.children is None else "computed"


def late_data_info(late: LateDataSpec | None) -> dict[str, Any] | None:
    """A late_data declaration as public data (``unimeter docs``, ``unimeter integrations --json``, the service)."""
    if late is None:
        return None
    return {
        "revised_for_seconds": int(late.revised_for.total_seconds()),
        "final_after": "declared" if late.final_after is not None else "end + revised_for",
        "source": late.source,
        "note": late.note or None,
    }


def _description(spec: IntegrationSpec) -> str | None:
    """The mapping's top-level ``description`` (the loaded spec does not keep it: it only documents)."""
    with open(spec.file, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    text = data.get("description") if isinstance(data, dict) else None
    return " ".join(str(text).split()) if text else None


def _partition(spec: IntegrationSpec) -> dict[str, Any]:
    size = spec.partition.size
    return {
        "grain": spec.partition.kind,
        "size": size if isinstance(size, int) else "computed",
        "concurrency": spec.partition.concurrency,
    }


def spec_info(spec: IntegrationSpec) -> dict[str, Any]:
    """The public description of one loaded integration (no secrets: credential names and descriptions only)."""
    return {
        "name": spec.name,
        "label": spec.label,
        "docs_url": spec.docs_url,
        "description": _description(spec),
        "credentials": [
            {"name": c.name, "secret": c.secret, "required": c.required, "description": " ".join(c.description.split())}
            for c in spec.credentials.values()
        ],
        "context": [
            {
                "name": c.name,
                "required": c.required,
                "enum": list(c.enum) if c.enum else None,
                "default": c.default,
                "description": " ".join(c.description.split()),
            }
            for c in spec.context.values()
        ],
        "params": [
            {
                "name": p.name,
                "type": p.type,
                "list": p.is_list,
                "required": p.required,
                "default": _template(p.default),
                "enum": list(p.enum) if p.enum else None,
                "note": " ".join(p.note.split()),
            }
            for p in spec.params.values()
        ],
        "fills": list(spec.fills),
        "partition": _partition(spec),
        "rate_limit": (
            {"requests": spec.rate_limit.requests, "per_seconds": spec.rate_limit.per_seconds}
            if spec.rate_limit is not None
            else None
        ),
        "late_data": late_data_info(spec.late_data),
        "operations": [
            {
                "name": op.name,
                "when": _source(op.when),
                "method": op.request.method,
                "path": _source(op.request.path),
                "pagination": op.pagination.kind,
                "money": op.money,
                "late_data": late_data_info(op.late_data),
            }
            for op in spec.operations
        ],
    }


def integration_info(name: str) -> dict[str, Any]:
    """The public description of the integration ``name`` on the search path (UnknownIntegrationError if none)."""
    return spec_info(load_integration(name))


def integrations_info() -> list[dict[str, Any]]:
    """Every integration on the search path, sorted by name."""
    return [integration_info(name) for name in integration_sources()]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value)
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _late_text(late: dict[str, Any] | None) -> str:
    if late is None:
        return "not declared"
    text = f"revised for {_duration(late['revised_for_seconds'])} after a period ends (final: {late['final_after']})"
    text += f"; source: <{late['source']}>"
    if late["note"]:
        text += f"; {' '.join(str(late['note']).split())}"
    return text


def render_markdown(infos: list[dict[str, Any]]) -> str:
    """``docs/integrations.md``: deterministic (sorted input, no dates, no paths), ends with one newline."""
    out = [
        "# Integrations",
        "",
        "<!-- Generated by `unimeter docs` from the mappings; do not edit. CI runs `unimeter docs --check`. -->",
        "",
        "Every integration on the mapping search path, what it asks for and what it fills. The same data is served",
        "as JSON by the HTTP service at `GET /integrations` and `GET /integrations/{name}`. How to write one:",
        "[authoring.md](authoring.md). What `money` means: [money.md](money.md).",
        "",
    ]
    out += [f"- [{i['label']}](#{i['name']}) (`{i['name']}`)" for i in infos]
    for info in infos:
        out += ["", f'<a id="{info["name"]}"></a>', "", f"## {info['label']} (`{info['name']}`)", ""]
        if info["description"]:
            out += [info["description"], ""]
        out += [f"Vendor docs: <{info['docs_url']}>", ""]
        out += ["### Credentials", ""]
        if info["credentials"]:
            out += ["| name | secret | required | what it is |", "|---|---|---|---|"]
            out += [
                f"| `{c['name']}` | {_cell(c['secret'])} | {_cell(c['required'])} | {_cell(c['description'])} |"
                for c in info["credentials"]
            ]
        else:
            out += ["None."]
        out += ["", "### Context", ""]
        if info["context"]:
            out += ["| name | required | default | enum | what it is |", "|---|---|---|---|---|"]
            out += [
                f"| `{c['name']}` | {_cell(c['required'])} | {_cell(c['default'])} | {_cell(c['enum'])} "
                f"| {_cell(c['description'])} |"
                for c in info["context"]
            ]
        else:
            out += ["Only `base_url`, which every integration accepts."]
        out += ["", "### Parameters", ""]
        if info["params"]:
            out += ["| name | type | required | default | enum | note |", "|---|---|---|---|---|---|"]
            for p in info["params"]:
                default = p["default"] if p["default"] in (None, "computed") else f"`{p['default']}`"
                kind = f"list of {p['type']}" if p["list"] else p["type"]
                out.append(
                    f"| `{p['name']}` | {kind} | {_cell(p['required'])} | {_cell(default)} | {_cell(p['enum'])} "
                    f"| {_cell(p['note'])} |"
                )
        else:
            out += ["None."]
        part = info["partition"]
        rate = info["rate_limit"]
        out += [
            "",
            "### Query",
            "",
            f"- Fills: {_cell(info['fills'])}",
            f"- Partition: grain `{part['grain']}`, window size {part['size']}, concurrency {part['concurrency']}",
            "- Rate limit: "
            + (f"{rate['requests']} requests per {rate['per_seconds']:g} s" if rate else "none declared"),
            f"- Late data: {_late_text(info['late_data'])}",
            "",
            "### Operations",
            "",
            "| operation | when | request | pagination | money | late data |",
            "|---|---|---|---|---|---|",
        ]
        for op in info["operations"]:
            when = f"`{_cell(op['when'])}`" if op["when"] else "always"
            late = _late_text(op["late_data"]) if op["late_data"] else "as the integration"
            out.append(
                f"| `{op['name']}` | {when} | {op['method']} `{_cell(op['path'])}` | {op['pagination']} "
                f"| [{op['money']}](money.md) ({MONEY_MEANING.get(op['money'], '')}) | {_cell(late)} |"
            )
    out += ["", "## Valid `fills` values", "", "From `schemas/usage.schema.json`:", ""]
    out += ["| value | what it is |", "|---|---|"]
    out += [f"| `{f['name']}` | {_cell(f['description'])} |" for f in valid_fills()]
    return "\n".join(out) + "\n"


def generate() -> str:
    """The page for every integration on the search path."""
    return render_markdown(integrations_info())
