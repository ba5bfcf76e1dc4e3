"""Real headless Chromium for the browser tests: Debian's binary, never a downloaded one; and
for the console's tests, a running suite with an account and a watched page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.console_support import Console, Watched, running_console, watched_page
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(Path(tmp_path_factory.mktemp("console-suite"))) as running:
        yield running


@pytest.fixture
def watched(console: Console, browser: Browser) -> Iterator[Watched]:  # noqa: ARG001
    # `console` first: the account is made with asyncio.run, impossible once Playwright's
    # sync API runs its event loop in this thread.
    with watched_page(browser) as seen:
        yield seen
