"""Whole processes for the figures that compare CPU time and peak memory: each side in a process of its own.

- :func:`side`: one side of the library figure (``bench/child.py``): the call's CPU and wall time, the process's
  peak RSS.
- :func:`measured`: any command through ``bench/spawn.py``: CPU (user + system) and ``ru_maxrss`` of the whole
  process, as ``os.wait4`` reports them.
- :func:`unpaced_mappings`: a mappings folder holding a copy of every built-in mapping that declares a
  ``rate_limit``, without it. The sandbox does not enforce vendor limits unless asked and the hand-written clients
  do not keep them, so a paced engine would measure its own waiting (Cursor's 20 requests a minute turn a 100k-event
  query into minutes of sleep). Waiting costs no CPU and no memory, so the figures are what they would be paced.
- :func:`cpu_seconds`: user + system time of a running process (``/proc/PID/stat``), for the service figures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from unimeter.sandbox import account_fields
from unimeter.spec import available_integrations, load_integration
from unimeter.spec.registry import MAPPINGS_PATH_ENV, find_integration

from .workloads import NOW, Workload

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
_RATE_LIMIT_LINE = re.compile(r"^rate_limit:.*\n", re.MULTILINE)


def unpaced_mappings(folder: Path) -> Path:
    """Write the unpaced copies into ``folder`` (see the module docstring); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in available_integrations():
        if load_integration(name).rate_limit is None:
            continue
        text = find_integration(name).file.read_text(encoding="utf-8")
        stripped, count = _RATE_LIMIT_LINE.subn("", text)
        if count != 1:
            raise RuntimeError(f"{name}: expected one top-level 'rate_limit:' line on one line, found {count}")
        (folder / f"{name}.yaml").write_text(stripped, encoding="utf-8")
    return folder


def child_spec(workload: Workload, endpoint: dict[str, Any], **extra: Any) -> str:
    """The JSON argument of ``bench/child.py`` for ``workload`` against a sandbox ``endpoint``."""
    fields = account_fields(endpoint)
    return json.dumps(
        {
            "integration": workload.integration,
            "endpoint": endpoint,
            "context": fields["context"],
            "calls": workload.calls,
            "now": NOW.isoformat(),
            **extra,
        }
    )


def side(mode: str, workload: Workload, endpoint: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Run one side of the library figure (``engine``, ``baseline`` or ``validated``) in its own process; ``extra``
    goes into the child's spec (``profile=PATH`` profiles the engine instead of timing it)."""
    completed = subprocess.run(
        [sys.executable, str(BENCH / "child.py"), mode, child_spec(workload, endpoint, unpaced=True, **extra)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench/child.py {mode} {workload.label} failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def measured(command: list[str], stdout: str = os.devnull, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command`` under ``bench/spawn.py``: its CPU seconds, peak RSS (MB), wall seconds and exit status."""
    completed = subprocess.run(
        [sys.executable, str(BENCH / "spawn.py"), stdout, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise RuntimeError(f"bench/spawn.py {command[:3]} failed:\n{completed.stderr[-3000:]}")
    result = dict(json.loads(completed.stdout.strip().splitlines()[-1]))
    if result["status"] != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... exited {result['status']}:\n{completed.stderr[-3000:]}")
    return result


def unimeter_usage_command(workload: Workload, endpoint: dict[str, Any], params: dict[str, str]) -> list[str]:
    """``unimeter usage INTEGRATION --credential ... --context ... --param ... --now ...`` for one call."""
    fields = account_fields(endpoint)
    script = Path(sys.executable).parent / "unimeter"
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from unimeter.cli import main; main()"]
    command += ["usage", workload.integration, "--now", NOW.isoformat()]
    command += [f"--credential={k}={v}" for k, v in fields["credentials"].items()]
    command += [f"--context={k}={v}" for k, v in fields["context"].items()]
    command += [f"--param={k}={v}" for k, v in params.items()]
    return command


def handwritten_command(workload: Workload, endpoint: dict[str, Any]) -> list[str]:
    """The hand-written client as a user's script printing the rows of every call as compact JSON."""
    return [sys.executable, str(BENCH / "child.py"), "print", child_spec(workload, endpoint)]


def env_with_mappings(folder: Path) -> dict[str, str]:
    """This process's environment with ``folder`` first on the mapping search path."""
    current = os.environ.get(MAPPINGS_PATH_ENV, "")
    return {**os.environ, MAPPINGS_PATH_ENV: os.pathsep.join([str(folder), *([current] if current else [])])}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (Linux ``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
