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
from playwright.sync_api import Locator, Page, expect


@pytest.fixture(scope="module")
def segment(console: Console) -> str:
    created = console.account.ok(
        "POST", "/v1/parent_segments", {"name": "Accessible", "primary_key": "td_client_id"}
    )
    return str(created["id"])


def test_axe_is_installed() -> None:
    assert AXE.is_file(), "run `make console` (it installs console/'s npm packages)"


@pytest.mark.parametrize(
    ("path", "loaded"),
    [
        ("", "Accessible"),
        ("parent-segments/{segment}", "td_client_id"),
        ("parent-segments/{segment}/services", "No services yet."),
        ("parent-segments/{segment}/events", "No events yet."),
        ("parent-segments/{segment}/attributes", "No attributes yet."),
        ("parent-segments/{segment}/id-stitching", "stitching keys."),
        ("parent-segments/{segment}/personalizations", "No personalizations yet."),
        ("parent-segments/{segment}/profiles", "No merges yet."),
    ],
)
def test_each_page_has_no_serious_violation(
    watched: Watched, console: Console, segment: str, path: str, loaded: str
) -> None:
    page = watched.page
    load_axe(page)
    page.goto(console.url + path.format(segment=segment))
    assert serious_violations(page) == [], "the sign-in page"
    sign_in(page, console.account.email)
    # What the page shows once its data came: checked as it is, not as it is loading.
    expect(page.get_by_text(loaded).first).to_be_visible()
    expect(page.get_by_text("Loading…")).to_have_count(0)
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
    # Starting at the first control: it counts only if it is in the tab order itself.
    page.get_by_label("Email").evaluate("(input) => input.setAttribute('tabindex', '-1')")
    assert unreachable_by_tab(page, page.locator("form"), from_first=True) == ["Email", "Password"]


def test_the_check_finds_a_control_without_a_label(watched: Watched, console: Console) -> None:
    """The bar above can fail: an input with no label, added to the sign-in page, is one."""
    page = watched.page
    load_axe(page)
    page.goto(console.url)
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    page.evaluate("document.querySelector('form').append(document.createElement('input'))")
    assert [v["id"] for v in serious_violations(page)] == ["label"]


@pytest.fixture(scope="module")
def configured(console: Console) -> tuple[str, str]:
    """A parent segment with an event, a stitching key, an attribute and a personalization:
    every form of the pages below has something to offer; (segment, personalization id)."""
    account = console.account
    segment = account.parent_segment("Accessible forms")
    base = f"/v1/parent_segments/{segment}"
    account.event(segment, "page_view", "forms_db", "page_views")
    account.ok("POST", f"{base}/stitching_keys", {"name": "user_id"})
    counter = {"window": "total"}
    views = {"name": "views", "type": "COUNTER", "event": "page_view", "counter": counter}
    account.ok("POST", f"{base}/attributes", views)
    section = {"name": "Views", "criteria": {}, "payload": [{"name": "n", "attribute": "views"}]}
    created = account.ok(
        "POST",
        f"{base}/personalizations",
        {"name": "Counted", "trigger_events": ["page_view"], "sections": [section]},
    )
    return segment, str(created["id"])


def _checked(page: Page, form: Locator, where: str) -> None:
    """No serious violation on the page, and every control of `form` reached by Tab."""
    expect(form).to_be_visible()
    assert serious_violations(page) == [], where
    assert unreachable_by_tab(page, form, from_first=True) == [], where


def _attributes(watched: Watched, console: Console, segment: str) -> Page:
    page = watched.page
    load_axe(page)
    page.goto(f"{console.url}parent-segments/{segment}/attributes")
    sign_in(page, console.account.email)
    expect(page.get_by_role("cell", name="views", exact=True)).to_be_visible()
    return page


def test_the_attribute_form_is_reached_by_tab_for_a_list_and_a_counter(
    watched: Watched, console: Console, configured: tuple[str, str]
) -> None:
    page = _attributes(watched, console, configured[0])
    page.get_by_role("button", name="Create new attribute").click()
    form = page.get_by_role("dialog", name="Create new attribute")
    form.get_by_label("Type").select_option(label="List")
    form.get_by_role("button", name="Add aggregation").click()
    # Every select a list shows: type, event and each aggregation's sensitivity.
    expect(form.locator("select")).to_have_count(4)
    _checked(page, form, "the attribute form, LIST")
    form.get_by_label("Type").select_option(label="Counter")
    expect(form.get_by_label("Window")).to_be_visible()
    _checked(page, form, "the attribute form, COUNTER")


def test_the_delete_attribute_dialog_is_reached_by_tab(
    watched: Watched, console: Console, configured: tuple[str, str]
) -> None:
    page = _attributes(watched, console, configured[0])
    page.get_by_role("button", name="Delete views").click()
    _checked(page, page.get_by_role("dialog", name="Delete attribute views?"), "delete")


def test_the_profile_lookup_is_reached_by_tab(
    watched: Watched, console: Console, configured: tuple[str, str]
) -> None:
    page = watched.page
    load_axe(page)
    page.goto(f"{console.url}parent-segments/{configured[0]}/profiles")
    sign_in(page, console.account.email)
    lookup = page.get_by_role("search", name="Look up a profile")
    expect(lookup.get_by_role("option", name="user_id")).to_have_count(1)
    _checked(page, lookup, "the profile lookup")


def test_the_preview_of_a_real_profile_is_reached_by_tab(
    watched: Watched, console: Console, configured: tuple[str, str]
) -> None:
    segment, personalization = configured
    page = watched.page
    load_axe(page)
    page.goto(f"{console.url}parent-segments/{segment}/personalizations/{personalization}")
    sign_in(page, console.account.email)
    panel = page.get_by_role("region", name="Preview")
    expect(panel.get_by_label("Event table")).to_have_value("forms_db.page_views")
    panel.get_by_label("A real profile, by key and value").check()
    expect(panel.get_by_role("option", name="user_id")).to_have_count(1)
    _checked(page, panel.locator("form"), "the preview, a real profile")


def test_the_personalization_builder_is_reached_by_tab(
    watched: Watched, console: Console, configured: tuple[str, str]
) -> None:
    page = watched.page
    load_axe(page)
    page.goto(f"{console.url}parent-segments/{configured[0]}/personalizations/new")
    sign_in(page, console.account.email)
    builder = page.get_by_role("region", name="New personalization")
    expect(builder.get_by_label("page_view", exact=True)).to_be_visible()
    builder.get_by_role("button", name="Add section").click()
    section = builder.get_by_role("group", name="Section 1")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    expect(section.get_by_label("Condition 1.1 Subject", exact=True)).to_be_visible()
    section.get_by_role("button", name="Add field to", exact=False).click()
    expect(section.get_by_label("Field 1 Alias", exact=True)).to_be_visible()
    _checked(page, builder.locator("form"), "the personalization builder")
