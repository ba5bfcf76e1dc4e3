"""No serious accessibility violation on any console page, by axe-core run in the page.

axe-core (console_support.AXE) is loaded as a Playwright init script, which the page's
Content-Security-Policy does not govern, so the pages are checked exactly as they are
served; the watched page still fails the test on any CSP violation. Each page's own test
module also checks its dialogs with `serious_violations`.
"""

from __future__ import annotations

import pytest
from browser.console_support import (
    AXE,
    Console,
    Watched,
    load_axe,
    serious_violations,
    sign_in,
    unreachable_by_tab,
)
from playwright.sync_api import expect


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
        ("parent-segments/{segment}/attributes", None),
        ("parent-segments/{segment}/id-stitching", "ID stitching keys"),
        ("parent-segments/{segment}/personalizations", None),
        ("parent-segments/{segment}/profiles", None),
    ],
)
def test_each_page_has_no_serious_violation(
    watched: Watched, console: Console, segment: str, path: str, heading: str | None
) -> None:
    page = watched.page
    load_axe(page)
    page.goto(console.url + path.format(segment=segment))
    assert serious_violations(page) == [], "the sign-in page"
    sign_in(page, console.account.email)
    if heading:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    else:
        expect(page.get_by_role("main")).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert serious_violations(page) == [], path


@pytest.mark.parametrize(
    ("path", "opener", "dialog"),
    [
        ("", "New parent segment", "New parent segment"),
        ("parent-segments/{segment}/services", "New service", "New personalization service"),
        ("parent-segments/{segment}/events", "Create new event", "Create new event"),
        ("parent-segments/{segment}/id-stitching", "Add stitching key", "Add stitching key"),
    ],
)
def test_each_dialog_has_no_serious_violation_and_every_control_is_reached_by_tab(
    watched: Watched, console: Console, segment: str, path: str, opener: str, dialog: str
) -> None:
    page = watched.page
    load_axe(page)
    page.goto(console.url + path.format(segment=segment))
    sign_in(page, console.account.email)
    page.get_by_role("button", name=opener, exact=True).click()
    form = page.get_by_role("dialog", name=dialog)
    expect(form).to_be_visible()
    assert serious_violations(page) == [], dialog
    assert unreachable_by_tab(page, form) == [], dialog


def test_the_tab_check_finds_a_control_taken_out_of_the_tab_order(
    watched: Watched, console: Console
) -> None:
    """The keyboard bar above can fail: a control with tabindex=-1 is never reached."""
    page = watched.page
    page.goto(console.url)
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.get_by_label("Password").evaluate("(input) => input.setAttribute('tabindex', '-1')")
    assert unreachable_by_tab(page, page.locator("form")) == ["Password"]


def test_the_check_finds_a_control_without_a_label(watched: Watched, console: Console) -> None:
    """The bar above can fail: an input with no label, added to the sign-in page, is one."""
    page = watched.page
    load_axe(page)
    page.goto(console.url)
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.evaluate("document.querySelector('form').append(document.createElement('input'))")
    assert [v["id"] for v in serious_violations(page)] == ["label"]
