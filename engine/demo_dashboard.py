"""``unimeter demo --dashboard``: the demo's accounts synced over the last week, then the service with its dashboard.

The demo syncs the sandbox from ``DAYS`` days ago (so the cost chart has a week to show, not a day or two), makes an API
token for the demo's environment and serves the HTTP service, dashboard included, on loopback until interrupted.
The address it prints carries the token in its fragment (``#token=``): a browser keeps the fragment to itself (it is
never sent to the server, nor logged), and the page moves the token into the tab's storage and drops it from the
address. The token dies with the demo: it lives in the demo's temporary store only.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, time, timedelta
from typing import Any, TextIO

DAYS = 7
"""How far back the dashboard demo syncs: a week of daily figures. Longer costs minutes: the sandbox pages its
reports as the vendors do, and the slowest vendor's documented 60 requests a minute bound each day's reads."""


def sync_options() -> Any:
    """A sync of every demo account from ``DAYS`` days ago (UTC midnight) to today."""
    from .sync import SyncOptions

    today = datetime.now(UTC).date()
    return SyncOptions(since=datetime.combine(today - timedelta(days=DAYS - 1), time.min, tzinfo=UTC))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), bound before the address is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve_dashboard(store: Any, destination: Any, *, host: str, port: int, environment: str, out: TextIO) -> None:
    """Serve the service over ``store`` with the dashboard reading ``destination`` until interrupted."""
    import uvicorn

    from .api.cursor import load_cursor_key
    from .api.limits import limits_from_env
    from .service import UsageService, create_app
    from .service.dashboard_api import dashboard_address

    token, _ = store.issue_token(environment=environment, name="unimeter demo --dashboard")
    app = create_app(UsageService(store, load_cursor_key(), limits=limits_from_env()), destination)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"\ndashboard: {dashboard_address(bound_host, bound_port)}#period={DAYS}&token={token}", file=out)
    print(
        f"(the environment {environment!r} of the demo's own store; the token in the address works until the demo "
        "stops; Ctrl-C stops it)",
        file=out,
    )
    out.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn stops gracefully on Ctrl-C, then raises it again; for the demo it is the normal way out.
        pass
    finally:
        sock.close()
    print("dashboard stopped", file=out)
