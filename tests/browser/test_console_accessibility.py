"""No serious accessibility violation on any console page, by axe-core run in the page.

axe-core comes from the npm registry (a dev dependency of console/, installed by `make
console`, which `make test` runs first). It is loaded as a Playwright init script, which
the page's Content-Security-Policy does not govern, so the pages are checked exactly as
they are served; the watched page still fails the test on any CSP violation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser.console_support import Console, Watched, sign_in
from playwright.sync_api import Page, expect

AXE = Path(__file__).parents[2] / "console" / "node_modules" / "axe-core" / "axe.min.js"
# axe's own scale: minor, moderate, serious, critical. The bar is "no serious ones".
SERIOUS = ("serious", "critical")
RUN_AXE = """async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, where: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def _violations(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in found if v["impact"] in SERIOUS]


@pytest.fixture(scope="module")
def segment(console: Console) -> str:
    created = console.account.ok(
        "POST", "/v1/parent_segments", {"name": "Accessible", "primary_key": "td_client_id"}
    )
    return str(created["id"])


def test_axe_is_installed() -> None:
    assert AXE.is_file(), "run `make console` (it installs console/'s npm packages)"


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("", "Parent segments"),
        ("parent-segments/{segment}", None),
        ("parent-segments/{segment}/services", "Personalization services"),
        ("parent-segments/{segment}/events", None),
        ("parent-segments/{segment}/id-stitching", "ID stitching keys"),
    ],
)
def test_each_page_has_no_serious_violation(
    watched: Watched, console: Console, segment: str, path: str, heading: str | None
) -> None:
    page = watched.page
    page.context.add_init_script(path=str(AXE))
    page.goto(console.url + path.format(segment=segment))
    assert _violations(page) == [], "the sign-in page"
    sign_in(page, console.account.email)
    if heading:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    else:
        expect(page.get_by_role("main")).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert _violations(page) == [], path


def test_the_check_finds_a_control_without_a_label(watched: Watched, console: Console) -> None:
    """The bar above can fail: an input with no label, added to the sign-in page, is one."""
    page = watched.page
    page.context.add_init_script(path=str(AXE))
    page.goto(console.url)
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.evaluate("document.querySelector('form').append(document.createElement('input'))")
    assert [v["id"] for v in _violations(page)] == ["label"]
