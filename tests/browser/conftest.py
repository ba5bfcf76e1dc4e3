"""Real headless Chromium for the browser tests: Debian's binary, never a downloaded one; and
for the console's tests, a running suite with an account and a watched page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.console_support import RECORD_VIOLATIONS, Console, Watched
from playwright.sync_api import Browser, sync_playwright
from support.admin import Account
from support.suite import Suite

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
    suite = Suite(Path(tmp_path_factory.mktemp("console-suite")))
    suite.start()
    try:
        yield Console(suite, Account.create(suite))
    finally:
        suite.close()


@pytest.fixture
def watched(console: Console, browser: Browser) -> Iterator[Watched]:  # noqa: ARG001
    # `console` first: the account is made with asyncio.run, impossible once Playwright's
    # sync API runs its event loop in this thread.
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.add_init_script(RECORD_VIOLATIONS)
    seen = Watched(context.new_page())
    seen.start()
    yield seen
    problems = seen.finish()
    context.close()
    assert problems == []
