"""Run one whole command and measure it: ``python bench/spawn.py STDOUT_PATH COMMAND...``.

Prints one JSON line: ``cpu`` (user + system seconds of the command, from ``os.wait4``), ``peak_rss_mb`` (its
``ru_maxrss``), ``wall`` and ``status``. The command's stdout goes to STDOUT_PATH (``/dev/null`` for the figures).

Why a launcher of its own: ``ru_maxrss`` survives ``execve``, so a command started straight from the benchmark
(tens of MB after its imports) would report at least the benchmark's own size. Started from this small process
(stdlib only, a few MB), the floor is this process's size, below any command measured.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    output, command = argv[0], argv[1:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: stdout to the file, then become the command
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.close(fd)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    result = {
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "wall": wall,
        "status": os.waitstatus_to_exitcode(status),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
