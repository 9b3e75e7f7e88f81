"""One side of a benchmark comparison in a process of its own: ``python bench/child.py MODE SPEC_JSON``.

Run by path, not as ``bench.child``: the package's ``__init__`` imports the engine, and the hand-written side must
not pay for (or carry the memory of) an engine it does not use. With ``bench/`` as the script's folder,
``baselines`` imports as a top-level module, and it imports nothing of ``unimeter``.

Modes:

- ``engine`` / ``baseline`` / ``validated``: the library figure. Runs the workload's calls with
  ``unimeter.alist_usage`` (the mapping's rate limit off when ``unpaced``: the sandbox does not enforce it and the
  hand-written client does not keep it), with the hand-written client, or with the hand-written client plus the
  engine's row validation, then prints one JSON line: ``rows``, ``cpu`` and ``wall`` seconds of the calls alone
  (imports excluded) and ``peak_rss_mb``, the process's VmHWM (imports included: a library's footprint is part of
  its cost).
- ``print``: the hand-written client as a user's script, for the ``unimeter usage`` figure: prints
  ``{"result": rows, "next_cursor": null}`` as compact JSON (orjson) on stdout, as the command does when piped.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import datetime
from typing import Any


def peak_rss_mb() -> float:
    """VmHWM of this process (its own address space, unlike ``ru_maxrss``, which survives ``execve``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _engine(spec: dict[str, Any], now: datetime) -> int:
    import dataclasses

    import unimeter
    from unimeter.spec import load_integration

    mapping = load_integration(spec["integration"])
    if spec.get("unpaced"):
        mapping = dataclasses.replace(mapping, rate_limit=None)
    options = {"credentials": spec["endpoint"]["credentials"], "context": spec["context"], "now": now}

    async def run() -> int:
        count = 0
        for params in spec["calls"]:
            count += len((await unimeter.alist_usage(mapping, params=params, **options))["result"])
        return count

    return asyncio.run(run())


def _baseline(spec: dict[str, Any], now: datetime, validate: bool) -> int:
    from baselines import BASELINES, validated  # type: ignore[import-not-found]

    client = validated(spec["integration"]) if validate else BASELINES[spec["integration"]]
    return sum(len(client(spec["endpoint"], params, now)) for params in spec["calls"])


def _print(spec: dict[str, Any], now: datetime) -> None:
    import orjson
    from baselines import BASELINES

    rows = [row for params in spec["calls"] for row in BASELINES[spec["integration"]](spec["endpoint"], params, now)]
    sys.stdout.buffer.write(orjson.dumps({"result": rows, "next_cursor": None}) + b"\n")


def main(mode: str, argument: str) -> None:
    spec = json.loads(argument)
    now = datetime.fromisoformat(spec["now"])
    if mode == "print":
        _print(spec, now)
        return
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "engine":
        rows = _engine(spec, now)
    elif mode in ("baseline", "validated"):
        rows = _baseline(spec, now, validate=mode == "validated")
    else:
        raise SystemExit(f"bench/child.py: unknown mode {mode!r} (engine, baseline, validated, print)")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"rows": rows, "cpu": cpu, "wall": wall, "peak_rss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
