"""Figure 7: the service under load. 50 and 200 concurrent clients against one ``unimeter serve``-like process
(uvicorn, one worker, the service's default limits), each client sending one-page requests (``limit=100``) or
reading whole results as ``stream``; a fresh service process per scenario, so each peak RSS is that scenario's.

Reported: requests and rows per second, latency p50/p99 per request, the service's idle and peak RSS, and what it
held per client. Memory is bounded by the limits, not by the results: a one-page response holds ``limit + 1`` rows,
a stream one vendor page at a time. The check for the second is direct: the same clients stream results four times
longer (four times the vendor pages, each page the same size), and the peak must not grow with them (``bounded``).

The vendor is the sandbox in its own process (Confluent: no declared rate limit, so the service's per-account budget
does not pace the load): its one-thread-per-connection server is part of what is measured, as a real vendor would be.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from unimeter.sandbox import SandboxConfig

from .sandbox_process import SandboxProcess
from .service_process import ServiceProcess
from .workloads import NOW, Workload

INTEGRATION = "confluent"
USAGE_PATH = "/unified/usage-metering/usage"
PAGE_LIMIT = 100


@dataclass(frozen=True)
class Scenario:
    mode: str  # "one-page" or "stream"
    clients: int
    requests_per_client: int
    days: int  # of Confluent line items, four a day in pages of one week (a stream reads them all)


def _workload(days: int) -> Workload:
    """One Confluent resource: four line items a day, so a longer range means more pages, not bigger ones."""
    end = NOW - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    return Workload(
        INTEGRATION,
        days * 4,
        SandboxConfig(seed=0, now=NOW, resources=1, organizations=4),
        [{"start_date": start.date().isoformat(), "end_date": end.date().isoformat()}],
        f"4 lines/day x {days} days",
    )


@dataclass
class Outcome:
    latencies_ms: list[float]
    rows: int
    received_bytes: int
    failures: int
    wall_seconds: float
    idle_rss_mb: float
    peak_rss_mb: float


async def _request(client: httpx.AsyncClient, service: ServiceProcess, params: dict[str, str], mode: str) -> Any:
    """(rows, bytes received, ok) of one request."""
    query = {"integrated_account_id": service.account_id, **params}
    headers = {"authorization": f"Bearer {service.token}"}
    if mode == "one-page":
        response = await client.get(USAGE_PATH, params={**query, "limit": str(PAGE_LIMIT)}, headers=headers)
        ok = response.status_code == 200
        return (len(response.json()["result"]) if ok else 0), len(response.content), ok
    rows = size = 0
    ok = False
    async with client.stream(
        "GET", USAGE_PATH, params={**query, "truto_response_format": "stream"}, headers=headers
    ) as response:
        async for line in response.aiter_lines():
            size += len(line) + 1
            if line.startswith('{"end"'):
                ok = response.status_code == 200
            elif line and not line.startswith('{"error"'):
                rows += 1
    return rows, size, ok


async def _drive(service: ServiceProcess, params: dict[str, str], scenario: Scenario) -> tuple[list[Any], float]:
    limits = httpx.Limits(max_connections=scenario.clients, max_keepalive_connections=scenario.clients)
    results: list[Any] = []
    async with httpx.AsyncClient(base_url=service.url, timeout=600, limits=limits) as client:

        async def one_client() -> None:
            for _ in range(scenario.requests_per_client):
                started = time.perf_counter()
                rows, size, ok = await _request(client, service, params, scenario.mode)
                results.append(((time.perf_counter() - started) * 1000, rows, size, ok))

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(scenario.clients)))
        return results, time.perf_counter() - started


def run_scenario(scenario: Scenario) -> Outcome:
    workload = _workload(scenario.days)
    with SandboxProcess([INTEGRATION], workload.config) as sandbox:
        service = ServiceProcess(INTEGRATION, sandbox.endpoint(INTEGRATION), NOW.isoformat())
        try:
            results, wall = asyncio.run(_drive(service, workload.calls[0], scenario))
        finally:
            peak = service.stop()
    return Outcome(
        latencies_ms=[r[0] for r in results],
        rows=sum(r[1] for r in results),
        received_bytes=sum(r[2] for r in results),
        failures=sum(1 for r in results if not r[3]),
        wall_seconds=wall,
        idle_rss_mb=service.idle_maxrss_mb,
        peak_rss_mb=peak,
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def figure_load(report: Any, clients: list[int], requests_per_client: int, days: int) -> None:
    print("7. load: concurrent clients on one service process (one-page and stream)", flush=True)
    header = [
        "mode",
        "clients",
        "requests",
        "failed",
        "req/s",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "idle RSS MB",
        "peak RSS MB",
        "held per client KB",
        "bounded",
    ]
    scenarios = [Scenario("one-page", n, requests_per_client, days) for n in clients]
    scenarios += [Scenario("stream", n, 1, days) for n in clients]
    largest = max(clients)
    scenarios.append(Scenario("stream", largest, 1, days * 4))
    peaks: dict[tuple[str, int, int], float] = {}
    for scenario in scenarios:
        outcome = run_scenario(scenario)
        peaks[(scenario.mode, scenario.clients, scenario.days)] = outcome.peak_rss_mb
        held = (outcome.peak_rss_mb - outcome.idle_rss_mb) * 1024 / scenario.clients
        per_request_kb = outcome.received_bytes / max(1, len(outcome.latencies_ms)) / 1024
        if scenario.mode == "stream" and scenario.days > days:
            growth = outcome.peak_rss_mb / peaks[("stream", largest, days)]
            bounded = f"{growth:.2f}x the peak of 1/4 the pages: {'yes' if growth < 1.25 else 'no'}"
        else:
            bounded = f"{held:.0f} KB held vs {per_request_kb:.0f} KB answered per request"
        report.add(
            "7. load",
            header,
            [
                f"{scenario.mode}, {scenario.days} days",
                scenario.clients,
                len(outcome.latencies_ms),
                outcome.failures,
                f"{len(outcome.latencies_ms) / outcome.wall_seconds:,.1f}",
                f"{outcome.rows / outcome.wall_seconds:,.0f}",
                f"{statistics.median(outcome.latencies_ms):.0f}",
                f"{percentile(outcome.latencies_ms, 0.99):.0f}",
                f"{outcome.idle_rss_mb:.0f}",
                f"{outcome.peak_rss_mb:.0f}",
                f"{held:.0f}",
                bounded,
            ],
        )
