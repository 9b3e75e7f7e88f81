"""Benchmarks of the engine against hand-written clients, every figure a ratio measured in the same run.

``python -m bench.run`` prints the table and writes ``bench/RESULTS.md``; ``bench/baselines.py`` holds one
hand-written client per integration (the yardstick), ``bench/workloads.py`` the sandbox workloads they share.
"""

from unimeter.run.destination import allow_base_urls

# The benchmarks are their own operator: their sandboxes and services run on loopback (inherited by child processes).
allow_base_urls(["http://127.0.0.1"])
