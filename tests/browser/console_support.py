"""What every console browser test needs: a running suite with an account, a watched page
(failing the test on a page error, a CSP violation or a console response without the CSP)
and signing in. Each test module makes its own fixtures from these, so a suite is started
per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect
from support.admin import PASSWORD, Account
from support.suite import Suite

from gateway.console import CONTENT_SECURITY_POLICY

# Recorded in the page before any of its scripts run (Playwright's init script is not
# subject to the page's CSP): every violation the browser reports as an event.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class Console:
    suite: Suite
    account: Account

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.suite.admin_port}/console/"


@contextmanager
def running_console(data_dir: Path) -> Iterator[Console]:
    suite = Suite(data_dir)
    suite.start()
    try:
        yield Console(suite, Account.create(suite))
    finally:
        suite.close()


@dataclass
class Watched:
    page: Page
    problems: list[str] = field(default_factory=list)
    console_responses: list[Response] = field(default_factory=list)


@contextmanager
def watched_page(browser: Browser, **context_options: Any) -> Iterator[Watched]:
    """A fresh context (an empty sessionStorage) whose page must meet no problem."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, **context_options)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    seen = Watched(page)
    page.on("pageerror", lambda error: seen.problems.append(str(error)))

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Trusted Type" in message.text:
            seen.problems.append(message.text)

    def on_response(response: Response) -> None:
        if "/console" in response.url:
            seen.console_responses.append(response)

    page.on("console", on_console)
    page.on("response", on_response)
    yield seen
    if not page.is_closed():
        seen.problems += page.evaluate("window.__violations || []")
    for response in seen.console_responses:
        policy = response.headers.get("content-security-policy")
        if policy != CONTENT_SECURITY_POLICY:
            seen.problems.append(f"{response.url}: content-security-policy {policy!r}")
    context.close()
    assert seen.problems == []


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in_page(watched: Watched, console: Console, email: str | None = None) -> Page:
    page = watched.page
    page.goto(console.url)
    sign_in(page, email or console.account.email)
    expect(page.get_by_role("heading", name="Parent segments")).to_be_visible()
    return page
