"""Benchmarks of the engine against hand-written clients, every figure a ratio measured in the same run.

``python -m bench.run`` prints the table and writes ``bench/RESULTS.md``; ``bench/baselines.py`` holds one
hand-written client per integration (the yardstick), ``bench/workloads.py`` the sandbox workloads they share.
"""
