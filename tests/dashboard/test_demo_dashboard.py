"""``unimeter demo --dashboard`` as a user runs it: the command prints the dashboard's address, and the page at that
address, in a real headless Chromium, shows every chart with the sandbox's data (screenshot: demo.png)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.dashboard.test_browser import CHARTS, drawn_marks, wait_loaded

DEMO_TIMEOUT_S = 600
"""The demo syncs a week of the sandbox first: Claude's 60 requests a minute make that about two and a half minutes."""


def test_the_demo_prints_the_dashboard_address_and_the_page_shows_every_chart(
    browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    environment = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "unimeter.cli", "demo", "--dashboard", "--port", "0"]
    command += ["--to", str(tmp_path / "demo.duckdb")]
    errors = (tmp_path / "demo.stderr").open("w")
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment)
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("dashboard: "):
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(DEMO_TIMEOUT_S), "".join(lines[-20:])
        address = next(line for line in lines if line.startswith("dashboard: ")).split(" ", 1)[1].strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/#period=7&token=\S+", address), address
        origin = address.split("/#", 1)[0]
        assert "0 failed" in "".join(lines), "".join(lines[-20:])

        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_default_timeout(30_000)
        page.goto(address)
        wait_loaded(page, "demo")
        assert page.input_value("#period") == "7"
        for name in CHARTS:
            assert page.get_attribute(f"#chart-{name}", "data-rendered") == "true", name
            assert drawn_marks(page, name) >= 5, name
        # The week the demo synced: a stack of several vendors on each of its days.
        option = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-cost')).getOption()")
        days_with_cost = {
            option["xAxis"][0]["data"][index]
            for series in option["series"]
            for index, value in enumerate(series["data"])
            if value
        }
        assert len(days_with_cost) >= 7, days_with_cost
        assert len(option["series"]) >= 6
        page.screenshot(path=str(screenshots / "demo.png"), full_page=True)
        assert [url for url in requests if not url.startswith((origin + "/", "data:", "blob:"))] == []
        context.close()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        errors.close()
    assert demo.returncode == 0, (tmp_path / "demo.stderr").read_text()
