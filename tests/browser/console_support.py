"""What every console test module shares: the running suite with an account, a watched page
(failing the test on a page error, a CSP violation or a console answer without the CSP),
signing in, more users of the account, and the docs' screenshots. The fixtures `console`
and `watched` (this folder's conftest.py) are made from `running_console` and
`watched_page`; a module needing other context options (clipboard permissions) makes its
own `watched` from `watched_page`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Response, expect
from support import stored
from support.admin import PASSWORD, Account
from support.suite import Suite

from gateway.console import CONTENT_SECURITY_POLICY
from services.common.sql import Sql

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

    def start(self) -> None:
        """Listen to the page: its errors, CSP reports and the console's answers."""

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Trusted Type" in message.text:
                self.problems.append(message.text)

        def on_response(response: Response) -> None:
            if "/console" in response.url:
                self.console_responses.append(response)

        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("console", on_console)
        self.page.on("response", on_response)

    def finish(self) -> list[str]:
        """Every problem seen, the page's recorded CSP violations and unguarded answers too."""
        if not self.page.is_closed():
            self.problems += self.page.evaluate("window.__violations || []")
        for response in self.console_responses:
            policy = response.headers.get("content-security-policy")
            if policy != CONTENT_SECURITY_POLICY:
                self.problems.append(f"{response.url}: content-security-policy {policy!r}")
        return self.problems


@contextmanager
def watched_page(browser: Browser, **context_options: Any) -> Iterator[Watched]:
    """A fresh context (an empty sessionStorage) whose page must meet no problem."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, **context_options)
    context.add_init_script(RECORD_VIOLATIONS)
    seen = Watched(context.new_page())
    seen.start()
    yield seen
    problems = seen.finish()
    context.close()
    assert problems == []


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in_page(
    watched: Watched, console: Console, path: str = "", email: str | None = None
) -> Page:
    """The watched page, signed in (as the account's owner unless `email`), at the console's
    `path`."""
    page = watched.page
    page.goto(console.url + path)
    sign_in(page, email or console.account.email)
    if not path:
        expect(page.get_by_role("heading", name="Parent segments")).to_be_visible()
    return page


def age_password_entry(console: Console, seconds: float) -> None:
    """Moves the owner's last password entry `seconds` into the past, so that revealing a
    token asks for the password again (as it does ten minutes after signing in)."""

    async def age(sql: Sql) -> None:
        await sql.execute(
            "UPDATE sessions SET authenticated_time = authenticated_time - ? "
            "WHERE user_id = (SELECT id FROM users WHERE email = ?)",
            seconds,
            console.account.email.lower(),
        )

    stored.transaction(console.suite.settings, "auth", age)


_users = itertools.count(1)


def add_user(console: Console, role: str) -> str:
    """A new user of the account with `role` (password PASSWORD); returns the email."""
    email = f"{role.lower()}{next(_users)}@{console.account.email.split('@')[1]}"
    console.account.ok("POST", "/v1/users", {"email": email, "password": PASSWORD, "role": role})
    return email


# axe-core from the npm registry (a dev dependency of console/, installed by `make console`).
# Loaded as an init script, which the page's CSP does not govern: pages are checked as served.
AXE = Path(__file__).parents[2] / "console" / "node_modules" / "axe-core" / "axe.min.js"
# axe's own scale: minor, moderate, serious, critical. The bar is "no serious ones".
SERIOUS = ("serious", "critical")
RUN_AXE = """async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, where: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def load_axe(page: Page) -> None:
    """Make axe-core available in every document `page` opens from now on (call before goto)."""
    page.context.add_init_script(path=str(AXE))


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (dialogs open included)."""
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in found if v["impact"] in SERIOUS]


# Marks every enabled form control inside `root` with its index and returns each one's label
# (its accessible name as far as the page gives it); radios of one group share a mark, as
# Tab stops once per group (arrow keys move inside it).
MARK_CONTROLS = """(root) => {
  const controls = [...root.querySelectorAll("input, select, textarea, button")]
    .filter((c) => !c.disabled && c.type !== "hidden" && c.getClientRects().length > 0);
  const names = [];
  const groups = {};
  for (const c of controls) {
    const group = c.type === "radio" ? `radio:${c.name}` : null;
    if (group && group in groups) { c.dataset.tabMark = groups[group]; continue; }
    const label = c.labels?.[0]?.textContent || c.getAttribute("aria-label") || c.textContent;
    c.dataset.tabMark = String(names.length);
    if (group) groups[group] = c.dataset.tabMark;
    names.push((group ? "radio group " : "") + label.trim());
  }
  return names;
}"""


def unreachable_by_tab(page: Page, root: Locator, from_first: bool = False) -> list[str]:
    """The labels of the enabled controls inside `root` that pressing Tab never focuses (each
    control's turn comes within as many presses as there are controls, plus a few). With
    `from_first` the presses start at `root`'s first control (a form on a page, not a dialog
    that takes the focus), which counts as reached if it is in the tab order."""
    names: list[str] = root.evaluate(MARK_CONTROLS)
    reached: set[str] = set()
    if from_first and names:
        first = root.locator('[data-tab-mark="0"]').first
        first.focus()
        if first.evaluate("(c) => document.activeElement === c && c.tabIndex >= 0"):
            reached.add("0")
    for _ in range(len(names) + 3):
        page.keyboard.press("Tab")
        mark = page.evaluate("document.activeElement?.dataset?.tabMark ?? null")
        if mark is not None:
            reached.add(mark)
    return [name for i, name in enumerate(names) if str(i) not in reached]


SCREENSHOTS = Path(__file__).parents[2] / "docs" / "console"


def screenshot(page: Page, name: str) -> None:
    """The page as the docs show it: docs/console/<name>.png (committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
