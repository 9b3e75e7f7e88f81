"""Fixtures of the dashboard tests: the synced world (once per session) and a real headless Chromium.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), or the one ``UNIMETER_TEST_CHROMIUM``
names, driven by Playwright with ``executable_path`` (Playwright's own browser download is never used). Without a
Chromium the browser tests fail in CI (``CI`` set) and are skipped elsewhere, saying how to get one.

Chromium starts with no route to anything but loopback (``--host-resolver-rules``), so a page that reached for a CDN
would fail to load, and every test also checks that each request the page made went to the service itself.
Screenshots of each view go to ``test-artifacts/dashboard/`` at the repository's root (the README names it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.world import World, build_world

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ENV = "UNIMETER_TEST_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # tests and CI run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("dashboard")) as built:
        yield built


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """One Chromium per test module. Playwright's synchronous API keeps an event loop running in this thread while
    it is open, where ``asyncio.run`` (a sync, say) would refuse to start: so the world is built first, and the
    browser closes with its module, before any other test module runs."""
    executable = chromium_path()
    if executable is None:
        message = f"no Chromium: apt-get install chromium, or set {CHROMIUM_ENV} to a Chromium or Chrome binary"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class PageLog:
    """What a page asked for and what went wrong in it: every request's URL, console errors, uncaught errors."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []

    def foreign(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith((origin + "/", "data:", "blob:"))]


@pytest.fixture
def page(browser: Any, world: World) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    log = PageLog()
    page.on("request", lambda request: log.requests.append(request.url))
    page.on("console", lambda message: log.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    page.log = log
    page.set_default_timeout(20_000)
    try:
        yield page
        assert not log.foreign(world.url), f"the page reached beyond the service: {log.foreign(world.url)}"
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
