"""The console's Events page (the client-side guide's Step 3) in real Chromium against the
whole suite: events created and edited with filters, read back through the API; names and
regexes checked as typed with the server's rules; the server's message when it refuses a
regex; a VIEWER offered no changes. Every test also fails on a CSP violation (conftest)."""

from __future__ import annotations

import itertools
from typing import Any

from browser.console_support import (
    Console,
    Watched,
    add_user,
    screenshot,
    signed_in_page,
)
from playwright.sync_api import Locator, Page, expect

_names = itertools.count(1)
LOOKAHEAD = "(?=/retail)/.*"
# JavaScript's RegExp (no u flag) and RE2 accept it; Python's re, which the server also
# asks, does not: only the server can say so.
PYTHON_REFUSES = r"\p{L}+"
PRODUCT_PAGES = "^/retail/.*/product/.*"


def _segment(console: Console) -> str:
    return console.account.parent_segment(f"Events {next(_names)}")


def _events(console: Console, segment: str) -> list[dict[str, Any]]:
    path = f"/v1/parent_segments/{segment}/events?page_size=1000"
    found: list[dict[str, Any]] = console.account.ok("GET", path).get("events", [])
    return found


def _events_page(watched: Watched, console: Console, segment: str) -> Page:
    page = signed_in_page(watched, console, f"parent-segments/{segment}/events")
    expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
    return page


def _error(dialog: Locator, control_id: str) -> Locator:
    return dialog.locator(f"#{control_id}-error")


def _refusal(console: Console, segment: str, body: dict[str, Any]) -> str:
    refused = console.account.call("POST", f"/v1/parent_segments/{segment}/events", body)
    assert refused.status == 400, refused.body
    message = refused.json()["message"]
    assert isinstance(message, str)
    return message


def test_an_event_with_a_filter_is_created_after_a_refused_regex(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _events_page(watched, console, segment)
    page.get_by_role("button", name="Create new event").click()
    dialog = page.get_by_role("dialog", name="Create new event")
    dialog.get_by_label("Name").fill("product_page_view")
    dialog.get_by_label("Database").fill("web_db")
    dialog.get_by_label("Table").fill("page_views")
    dialog.get_by_role("button", name="Add filter").click()
    filter_1 = dialog.get_by_role("group", name="Filter 1")
    filter_1.get_by_label("Field").fill("td_path")
    regex = filter_1.get_by_label("Regex")

    # As typed: the browser knows RE2 has no lookahead.
    regex.fill(LOOKAHEAD)
    expect(_error(dialog, "filter-0-regex")).to_have_text(
        "Regex is not supported: a lookahead (?= (patterns run on RE2, which has no "
        "backreferences or lookarounds)"
    )
    # Sent anyway, the server's own words replace the browser's.
    body = {"name": "product_page_view", "database": "web_db", "table": "page_views"}
    refused = _refusal(
        console, segment, {**body, "filters": [{"field": "td_path", "regex": LOOKAHEAD}]}
    )
    dialog.get_by_role("button", name="Create").click()
    expect(_error(dialog, "filter-0-regex")).to_have_text(refused)

    # A pattern only the server can refuse: nothing as typed, its message after sending.
    regex.fill(PYTHON_REFUSES)
    expect(_error(dialog, "filter-0-regex")).to_have_count(0)
    refused = _refusal(
        console, segment, {**body, "filters": [{"field": "td_path", "regex": PYTHON_REFUSES}]}
    )
    dialog.get_by_role("button", name="Create").click()
    expect(_error(dialog, "filter-0-regex")).to_have_text(refused)
    expect(regex).to_have_attribute("aria-invalid", "true")
    assert _events(console, segment) == []

    regex.fill(PRODUCT_PAGES)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="product_page_view")
    expect(row).to_contain_text("web_db.page_views")
    expect(row).to_contain_text(f"td_path matches {PRODUCT_PAGES}")
    screenshot(page, "events")
    [made] = _events(console, segment)
    assert {k: made[k] for k in ("name", "database", "table", "filters")} == {
        **body,
        "filters": [{"field": "td_path", "regex": PRODUCT_PAGES}],
    }


def test_editing_an_event_changes_what_the_api_returns(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    console.account.event(
        segment, "signup", "web_db", "forms", filters=[{"field": "form", "regex": "signup"}]
    )
    page = _events_page(watched, console, segment)
    page.get_by_role("button", name="Edit signup").click()
    dialog = page.get_by_role("dialog", name="Edit event signup")
    expect(dialog.get_by_role("group", name="Filter 1").get_by_label("Regex")).to_have_value(
        "signup"
    )
    dialog.get_by_label("Name").fill("newsletter_signup")
    dialog.get_by_label("Table").fill("signups")
    dialog.get_by_role("button", name="Remove filter 1").click()
    dialog.get_by_role("button", name="Add filter").click()
    filter_1 = dialog.get_by_role("group", name="Filter 1")
    filter_1.get_by_label("Field").fill("list")
    filter_1.get_by_label("Regex").fill("news(letter)?")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text="newsletter_signup")).to_contain_text(
        "web_db.signups"
    )
    [edited] = _events(console, segment)
    assert (edited["name"], edited["table"], edited["filters"]) == (
        "newsletter_signup",
        "signups",
        [{"field": "list", "regex": "news(letter)?"}],
    )


def test_names_are_checked_as_typed_and_a_taken_name_by_the_server(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.event(segment, "page_view", "web_db", "page_views")
    page = _events_page(watched, console, segment)
    page.get_by_role("button", name="Create new event").click()
    dialog = page.get_by_role("dialog", name="Create new event")
    name = dialog.get_by_label("Name")
    name.fill("x")
    name.fill("")
    expect(_error(dialog, "event-name")).to_have_text("Name can't be blank")
    name.fill("n" * 101)
    expect(_error(dialog, "event-name")).to_have_text(
        "Name is too long (maximum is 100 characters)"
    )
    dialog.get_by_label("Database").fill("Web")
    expect(_error(dialog, "event-database")).to_have_text(
        "Database name 'Web' is invalid: use 3 to 128 characters of a-z, 0-9 and _"
    )
    dialog.get_by_label("Database").fill("records")
    expect(_error(dialog, "event-database")).to_have_text(
        "Database name 'records' is reserved: public, records and v1 would shadow API paths"
    )
    # What the browser knows is wrong is not sent.
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_visible()
    assert [event["name"] for event in _events(console, segment)] == ["page_view"]

    dialog.get_by_label("Database").fill("web_db")
    dialog.get_by_label("Table").fill("other_views")
    name.fill("Page_View")  # the same name to the server: case is ignored
    refused = _refusal(
        console, segment, {"name": "Page_View", "database": "web_db", "table": "other_views"}
    )
    assert refused == "Name has already been taken"
    dialog.get_by_role("button", name="Create").click()
    expect(_error(dialog, "event-name")).to_have_text(refused)


def test_a_viewer_sees_the_events_and_no_way_to_change_them(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.event(segment, "page_view", "web_db", "page_views")
    email = add_user(console, "VIEWER")
    page = signed_in_page(watched, console, f"parent-segments/{segment}/events", email=email)
    expect(page.get_by_role("row").filter(has_text="page_view")).to_contain_text(
        "web_db.page_views"
    )
    expect(page.get_by_role("button", name="Create new event")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit page_view")).to_have_count(0)
