"""Run the vendor sandbox in its own process, so that the process being measured does only client work.

``start_sandbox`` serves from threads of the calling process; in the benchmark those threads would compete with the
client under test for the GIL and be billed to it. This module is the child: it starts the simulators, prints their
endpoints as one JSON line and serves until its stdin closes. :class:`SandboxProcess` is the parent's handle.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from unimeter.sandbox import SandboxConfig, start_sandbox

_ROOT = Path(__file__).resolve().parent.parent


class SandboxProcess:
    """A sandbox in a child process; ``endpoint(name)`` is what ``Sandbox.endpoint`` returns."""

    def __init__(self, vendors: list[str], config: SandboxConfig, **extra: Any) -> None:
        """``extra`` are SandboxConfig fields that this checkout may not have yet; the child drops unknown ones."""
        settings = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(config).items()}
        settings.update(extra)
        self._child = subprocess.Popen(
            [sys.executable, "-m", "bench.sandbox_process", json.dumps({"vendors": vendors, "config": settings})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        assert self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process exited before serving")
        self._endpoints: dict[str, dict[str, Any]] = json.loads(line)

    def endpoint(self, name: str) -> dict[str, Any]:
        return self._endpoints[name]

    def stop(self) -> dict[str, int | None]:
        """Stop the child; per vendor, the requests it refused for breaking the rate limit (None: not counted)."""
        violations: dict[str, int | None] = {}
        if self._child.poll() is None:
            assert self._child.stdin is not None and self._child.stdout is not None
            self._child.stdin.close()
            line = self._child.stdout.readline()
            violations = json.loads(line) if line else {}
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        return violations

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _main(argument: str) -> None:
    spec = json.loads(argument)
    known = {f.name for f in fields(SandboxConfig)}
    settings = {k: v for k, v in spec["config"].items() if k in known}
    if settings.get("now"):
        settings["now"] = datetime.fromisoformat(settings["now"])
    sandbox = start_sandbox(spec["vendors"], SandboxConfig(**settings))
    print(json.dumps(sandbox.endpoints()), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or exits)
    counter = getattr(sandbox, "rate_limit_violations", None)
    print(json.dumps({name: counter(name) if counter else None for name in spec["vendors"]}), flush=True)
    sandbox.stop()


if __name__ == "__main__":
    _main(sys.argv[1])
