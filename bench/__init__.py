"""Benchmarks of the engine against hand-written clients, every figure a ratio measured in the same run.

``python -m bench.run`` prints the table and writes ``bench/RESULTS.md``; ``bench/baselines.py`` holds one
hand-written client per integration (the yardstick), ``bench/workloads.py`` the sandbox workloads they share.
``bench/child.py`` and ``bench/spawn.py`` run one side of a comparison as a process of its own (``bench/processes.py``
drives them), ``bench/previous.py`` installs and serves an earlier commit for the figure against it.
"""

from unimeter.run.destination import allow_base_urls

# The benchmarks are their own operator: their sandboxes and services run on loopback (inherited by child processes).
allow_base_urls(["http://127.0.0.1"])
