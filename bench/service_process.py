"""Run the HTTP service (uvicorn) in its own process over a fresh SQLite store with one integrated account.

The child prints ``{"url", "token", "account_id", "idle_maxrss_mb"}`` once it serves, serves until its stdin closes,
then prints ``{"maxrss_mb"}``: its own peak resident set size (VmHWM, see :func:`_maxrss_mb`), which is how
the benchmark measures the memory of ``truto_response_format=stream``. :class:`ServiceProcess` is the parent's handle.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent


def _maxrss_mb() -> float:
    """This process's peak RSS. On Linux, VmHWM: ``ru_maxrss`` survives ``execve``, so a child started from a big
    parent (the benchmark holds 100k rows) would report the parent's peak; VmHWM belongs to the new address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class ServiceProcess:
    """The service in a child process, with an account pointing at ``endpoint`` (a sandbox endpoint)."""

    def __init__(
        self,
        integration: str,
        endpoint: dict[str, Any],
        now: str,
        *,
        python: str = sys.executable,
        tree: Path = _ROOT,
        env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        """``python`` and ``tree``: the interpreter and the checkout whose ``bench/service_process.py`` and engine
        serve (another commit's worktree and venv, for the figure against it); ``env``: the child's environment."""
        argument = json.dumps({"integration": integration, "endpoint": endpoint, "now": now, "workers": workers})
        self._child = subprocess.Popen(
            [python, "-m", "bench.service_process", argument],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=tree,
            env=env,
        )
        self.pid = self._child.pid
        assert self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the service process exited before serving")
        info = json.loads(line)
        self.url: str = info["url"]
        self.token: str = info["token"]
        self.account_id: str = info["account_id"]
        self.idle_maxrss_mb: float = info["idle_maxrss_mb"]

    def stop(self) -> float:
        """Stop the child; its peak RSS in MB."""
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.close()
        line = self._child.stdout.readline()
        self._child.wait(timeout=30)
        return float(json.loads(line)["maxrss_mb"]) if line else float("nan")

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._child.poll() is None:
            self.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _main(argument: str) -> None:
    import uvicorn

    from unimeter.sandbox import account_fields
    from unimeter.service import UsageService, create_app
    from unimeter.spec.functions import parse_instant
    from unimeter.store import open_store

    spec = json.loads(argument)
    endpoint = spec["endpoint"]
    with tempfile.TemporaryDirectory(prefix="unimeter-bench-") as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}", key_file=Path(folder) / "secret.key")
        token = store.create_token(environment="bench")
        account = store.create_account(
            spec["integration"],
            environment="bench",
            **account_fields(endpoint),
        )
        port = _free_port()
        if spec.get("workers", 1) > 1:
            _serve_workers(spec["workers"], port, Path(folder), token, str(account.id))
            return
        service = UsageService(store, b"bench-cursor-key-0123456789abcdef", now=parse_instant(spec["now"]))
        server = uvicorn.Server(
            uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        print(
            json.dumps(
                {
                    "url": f"http://127.0.0.1:{port}",
                    "token": token,
                    "account_id": str(account.id),
                    "idle_maxrss_mb": _maxrss_mb(),
                }
            ),
            flush=True,
        )
        sys.stdin.read()
        server.should_exit = True
        thread.join(timeout=10)
        print(json.dumps({"maxrss_mb": _maxrss_mb()}), flush=True)


def _serve_workers(workers: int, port: int, folder: Path, token: str, account_id: str) -> None:
    """``unimeter serve --workers N`` over the store just made (its database URL and secret key passed on as an
    operator would), until stdin closes. Its RSS is that of several processes, so none is reported. The service's
    clock is the real one here (the workload's dates are explicit and in the past)."""
    import httpx

    env = {
        **os.environ,
        "UNIMETER_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "UNIMETER_SECRET_KEY": (folder / "secret.key").read_text().strip(),
        "UNIMETER_CURSOR_KEY": "bench-cursor-key",
        "XDG_DATA_HOME": str(folder),
    }
    command = [sys.executable, "-m", "unimeter.cli", "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"unimeter serve --workers {workers} did not start")
            time.sleep(0.05)
        info = {"url": f"http://127.0.0.1:{port}", "token": token, "account_id": account_id}
        print(json.dumps({**info, "idle_maxrss_mb": float("nan")}), flush=True)
        sys.stdin.read()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps({"maxrss_mb": float("nan")}), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
