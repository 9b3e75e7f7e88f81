"""One side of a benchmark comparison in a process of its own: ``python bench/child.py MODE SPEC_JSON``.

Run by path, not as ``bench.child``: the package's ``__init__`` imports the engine, and the hand-written side must
not pay for (or carry the memory of) an engine it does not use. With ``bench/`` as the script's folder,
``baselines`` imports as a top-level module, and it imports nothing of ``unimeter``.

Modes:

- ``engine`` / ``baseline`` / ``validated``: the library figure. Runs the workload's calls with
  ``unimeter.alist_usage`` (the mapping's rate limit off when ``unpaced``: the sandbox does not enforce it and the
  hand-written client does not keep it), with the hand-written client, or with the hand-written client plus the
  engine's row validation, then prints one JSON line: ``rows``, ``cpu`` and ``wall`` seconds of the calls alone
  (imports and the mapping's load and compile done before: start-up is figure 5's) and ``peak_rss_mb``, the
  process's VmHWM (imports included: a library's footprint is part of its cost). With ``profile`` in the spec,
  the calls run under cProfile instead (see :func:`_profiled`).
- ``print``: the hand-written client as a user's script, for the ``unimeter usage`` figure: prints
  ``{"result": rows, "next_cursor": null}`` as compact JSON (orjson) on stdout, as the command does when piped.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Callable
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


def _engine(spec: dict[str, Any], now: datetime) -> Callable[[], int]:
    """The engine's calls, ready to run: the engine imported and the mapping loaded and compiled first (start-up is
    figure 5's, and figure 1b's whole processes include it)."""
    import dataclasses

    import unimeter
    import unimeter.run.pipeline  # unimeter.alist_usage would import it on first use
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

    return lambda: asyncio.run(run())


def _baseline(spec: dict[str, Any], now: datetime, validate: bool) -> Callable[[], int]:
    """The hand-written client's calls, ready to run (its modules, and the validator's, imported first)."""
    from baselines import BASELINES, validated  # type: ignore[import-not-found]

    client = validated(spec["integration"]) if validate else BASELINES[spec["integration"]]
    if validate:
        from unimeter.run.validation import is_valid_row

        is_valid_row({})  # builds the compiled validator once, as the engine does at its first row
    return lambda: sum(len(client(spec["endpoint"], params, now)) for params in spec["calls"])


def _print(spec: dict[str, Any], now: datetime) -> None:
    import orjson
    from baselines import BASELINES

    rows = [row for params in spec["calls"] for row in BASELINES[spec["integration"]](spec["endpoint"], params, now)]
    sys.stdout.buffer.write(orjson.dumps({"result": rows, "next_cursor": None}) + b"\n")


def _profiled(calls: Callable[[], int], base: str) -> None:
    """The calls under cProfile (not timed): ``<base>.pstats`` and the top functions by own time and by cumulative
    time in ``<base>.txt``, for RESULTS.md's "where the time goes"."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    rows = calls()
    profiler.disable()
    profiler.dump_stats(f"{base}.pstats")
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    text.write(f"{rows} rows\n")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    with open(f"{base}.txt", "w", encoding="utf-8") as out:
        out.write(text.getvalue())
    print(json.dumps({"rows": rows, "profile": f"{base}.txt"}), flush=True)


def main(mode: str, argument: str) -> None:
    spec = json.loads(argument)
    now = datetime.fromisoformat(spec["now"])
    if mode == "print":
        _print(spec, now)
        return
    if mode == "engine":
        calls = _engine(spec, now)
    elif mode in ("baseline", "validated"):
        calls = _baseline(spec, now, validate=mode == "validated")
    else:
        raise SystemExit(f"bench/child.py: unknown mode {mode!r} (engine, baseline, validated, print)")
    if spec.get("profile"):
        _profiled(calls, spec["profile"])
        return
    wall, cpu = time.perf_counter(), time.process_time()
    rows = calls()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"rows": rows, "cpu": cpu, "wall": wall, "peak_rss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
