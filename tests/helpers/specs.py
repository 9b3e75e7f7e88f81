"""The small inline integration spec the engine's unit tests load: one builder instead of a copy per test file.

``demo_spec()`` is a complete, valid spec (name ``demo``, no auth, one ``list`` operation reading ``data`` into rows
with an ``id``); each keyword replaces one part, so a test states only what it is about::

    demo_spec(operation(" {method: GET, path: /usage}"), sections="params:\\n  day: {type: date}\\n")

The text is plain YAML (no format placeholders), and its lines come in a fixed order: name, label, docs_url, fills,
credentials, base_url, auth, sections, operations, then anything after the operations. Line numbers a test counts
(tests/spec/test_spec.py) are of :data:`VALID`, the default spec.
"""

from __future__ import annotations

DEMO_BASE_URL = "https://api.example.com"
DATA_RECORDS = '{jsonata: "data"}'
ID_TRANSFORM = "{jsonata: \"{'id': id}\"}"
GET_USAGE = "\n      method: GET\n      path: /usage"
"""``request:`` as a block: ``GET /usage``."""
CURSOR_QUERY = '\n      method: GET\n      path: /usage\n      query: {cursor: {jsonata: "$page"}}'
"""``request:`` as a block: ``GET /usage?cursor=$page``."""
CURSOR_NEXT = '{kind: cursor, next: {jsonata: "next"}}'
"""``pagination:`` by the body's ``next`` token."""
BEARER_AUTH = "{kind: headers, headers: {Authorization: {jsonata: \"'Bearer ' & $credentials.api_key\"}}}"


def operation(
    request: str = GET_USAGE,
    *,
    name: str = "list",
    pagination: str | None = None,
    records: str = DATA_RECORDS,
    transform: str = ID_TRANSFORM,
) -> str:
    """One entry of ``operations``; ``request`` follows ``request:`` as written (a block or `` {flow: map}``)."""
    text = f"  - name: {name}\n    request:{request}\n"
    if pagination is not None:
        text += f"    pagination: {pagination}\n"
    return text + f"    records: {records}\n    transform: {transform}\n"


def demo_spec(
    *operations: str,
    name: str = "demo",
    fills: str = "[id]",
    credentials: str = "",
    base_url: str = DEMO_BASE_URL,
    auth: str = "{kind: none}",
    sections: str = "",
    after_operations: str = "",
) -> str:
    """The demo integration's YAML. ``credentials`` and ``sections`` are whole top-level blocks, each line ended."""
    return (
        f"name: {name}\nlabel: {name.capitalize()}\ndocs_url: https://example.com/docs\n"
        f"fills: {fills}\n{credentials}base_url: {base_url}\nauth: {auth}\n{sections}"
        f"operations:\n{''.join(operations) or operation()}{after_operations}"
    )


def day_rows(prefix: str) -> str:
    """A transform giving each record one row of 2026-10-01, with the id ``<prefix>:<record id>``."""
    return (
        f"{{jsonata: \"{{'id': '{prefix}:' & id, 'start_date': '2026-10-01T00:00:00Z', "
        "'end_date': '2026-10-02T00:00:00Z'}\"}"
    )


def bearer_vendor_spec(name: str, *operations: str, base_url: str | None = None, sections: str = "") -> str:
    """An integration of the service suites: an ``api_key`` credential sent as a bearer token to
    ``https://api.<name>.example`` (or ``base_url``), rows with a period (see :func:`day_rows`)."""
    return demo_spec(
        *operations,
        name=name,
        fills="[id, start_date, end_date]",
        credentials="credentials:\n  api_key: {description: the key}\n",
        base_url=base_url or f"https://api.{name}.example",
        auth=BEARER_AUTH,
        sections=sections,
    )


VALID = demo_spec()
"""The smallest valid spec: ``GET /usage``, records ``data``, rows ``{id}``."""
