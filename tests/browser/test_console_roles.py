"""Roles in the console, in real Chromium against the whole suite: a VIEWER sees every section
read-only (no create, edit or delete control anywhere), Services (ADMIN to read) refused with
the server's words for a VIEWER and an EDITOR; and when the console offers an action the
server then refuses, the refusal is shown as the server wrote it and nothing changes.

The console offers no role an action that role may not do, so the refused actions are
reached the way a stale view of one's role would reach them: the page is told (its
/v1/me answer rewritten in the browser) that a VIEWER is an EDITOR. The server still answers
as the VIEWER's session deserves. Every test also fails on a CSP violation (conftest)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from browser.console_support import Console, Watched, add_user, signed_in_page
from playwright.sync_api import Locator, Page, Route, expect
from support.admin import PASSWORD
from support.http import request

from services.common.errors import PERMISSION_DENIED_MESSAGE

_names = itertools.count(1)

# The only buttons a VIEWER may meet: they change nothing. Everything else is a control to
# create, edit or delete.
READ_ONLY_BUTTONS = {
    "Sign out",  # every page's header
    "Look up",  # Profiles: looks a profile up
    "Load more",  # Profiles: the merge log's next page
    "Preview",  # Personalizations: shows what a personalization would answer, stores nothing
}


def _segment(console: Console) -> tuple[str, str]:
    """A parent segment with data in every section a VIEWER may read; (id, name)."""
    n = next(_names)
    name = f"Roles {n}"
    segment = console.account.parent_segment(name)
    base = f"/v1/parent_segments/{segment}"
    account = console.account
    account.ok("POST", f"{base}/stitching_keys", {"name": "user_id"})
    account.event(segment, "page_view", f"roles_{n}", "page_views")
    account.ok(
        "POST",
        f"{base}/attributes",
        {"name": "views", "type": "COUNTER", "event": "page_view", "counter": {"window": "total"}},
    )
    account.service(segment, "web")
    reply = request(
        "POST",
        console.suite.data_port,
        f"/records/roles_{n}/page_views",
        headers={"authorization": f"TD1 {account.api_key}"},
        body={"records": [{"td_client_id": "c1", "user_id": "u1"}]},
        timeout=30,
    )
    assert reply.status == 200, reply.body
    return segment, name


def _session(console: Console, email: str) -> str:
    """An API session of the user (as the console's sign-in makes one)."""
    reply = request(
        "POST",
        console.suite.admin_port,
        "/v1/sessions",
        body={"email": email, "password": PASSWORD},
    )
    assert reply.status == 200, reply.body
    return f"Bearer {reply.json()['session_token']}"


def _buttons(page: Page) -> set[str]:
    """The accessible names of every button on the page as it is now: callers first wait for
    what the page loads (a client-side navigation leaves no network state to wait for)."""
    names: list[str] = page.get_by_role("button").evaluate_all(
        "buttons => buttons.map((b) => (b.getAttribute('aria-label') || b.textContent).trim())"
    )
    return set(names)


# A control to change something may also be a link (a builder's route, `.../new`).
CHANGE_WORDS = re.compile(r"^(new|create|add|edit|delete|remove)\b", re.IGNORECASE)


def _change_links(page: Page) -> list[str]:
    """Links on the page that lead to a change: named like one, or to a `new` route."""
    links: list[list[str]] = page.get_by_role("link").evaluate_all(
        "links => links.map((a) => [a.textContent.trim(), a.getAttribute('href') || ''])"
    )
    return [name for name, href in links if CHANGE_WORDS.match(name) or href.endswith("/new")]


def _assert_read_only(page: Page, where: str) -> None:
    """Only READ_ONLY_BUTTONS and no link to a change on the page (`where`, for the message)."""
    assert _buttons(page) <= READ_ONLY_BUTTONS, where
    assert _change_links(page) == [], where


def _refusal(page: Page) -> None:
    expect(page.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)


def test_a_viewer_reads_every_section_and_is_offered_no_change(
    watched: Watched, console: Console
) -> None:
    segment, name = _segment(console)
    email = add_user(console, "VIEWER")
    # The server refuses a VIEWER the services (ADMIN reads them) with exactly these words.
    refused = console.account.call(
        "GET",
        f"/v1/parent_segments/{segment}/services",
        authorization=_session(console, email),
    )
    assert (refused.status, refused.json()["message"]) == (403, PERMISSION_DENIED_MESSAGE)

    page = signed_in_page(watched, console, email=email)
    expect(page.get_by_role("link", name=name)).to_be_visible()
    _assert_read_only(page, "Parent segments")
    expect(page.get_by_role("button", name="New parent segment")).to_have_count(0)

    page.get_by_role("link", name=name).click()
    nav = page.get_by_role("navigation", name="Parent segment sections")
    # Each section with what shows it has loaded: the fixture's data, or what an empty list
    # says once its answer came (the server's refusal, for the services).
    loaded: dict[str, Callable[[], Locator]] = {
        "Services": lambda: page.get_by_role("alert"),
        "Events": lambda: page.get_by_role("cell", name="page_view", exact=True),
        "Attributes": lambda: page.get_by_role("cell", name="views", exact=True),
        "ID stitching": lambda: page.get_by_role("cell", name="user_id", exact=True),
        "Personalizations": lambda: page.get_by_text("No personalizations yet."),
        "Profiles": lambda: page.get_by_text("No merges yet."),
    }
    for title, content in loaded.items():
        nav.get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", name=f"{name}: {title}")).to_be_visible()
        expect(content()).to_be_visible()
        if title == "Services":
            _refusal(page)
            expect(page.get_by_role("button", name="New service")).to_have_count(0)
        if title == "Profiles":
            # The lookup form's stitching keys (the primary key first) are a list of their own.
            keys = page.get_by_label("Stitching key").locator("option")
            expect(keys).to_have_text(["td_client_id", "user_id"])
        expect(page.get_by_text("Loading…")).to_have_count(0)
        _assert_read_only(page, title)

    # Profiles: a VIEWER looks up (allowed) and still meets only read-only buttons.
    page.get_by_label("Stitching key").select_option("user_id")
    page.get_by_label("Value", exact=True).fill("u1")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name="Profile c1")).to_be_visible()
    _assert_read_only(page, "Profiles with a profile shown")


def test_an_editor_is_refused_the_services_and_offered_no_way_to_create_one(
    watched: Watched, console: Console
) -> None:
    segment, name = _segment(console)
    email = add_user(console, "EDITOR")
    page = signed_in_page(watched, console, f"parent-segments/{segment}/services", email=email)
    expect(page.get_by_role("heading", name=f"{name}: Services")).to_be_visible()
    _refusal(page)
    expect(page.get_by_role("button", name="New service")).to_have_count(0)
    assert _buttons(page) == {"Sign out"}
    # An EDITOR does configure the parent segment: the Events page offers it.
    page.get_by_role("link", name="Events", exact=True).click()
    expect(page.get_by_role("button", name="Create new event")).to_be_visible()


def _as_editor(page: Page) -> None:
    """The page believes its user is an EDITOR (a stale or tampered view of the role)."""

    def rewrite(route: Route) -> None:
        answer = route.fetch()
        me: dict[str, Any] = answer.json()
        route.fulfill(response=answer, body=json.dumps({**me, "role": "EDITOR"}))

    page.route("**/v1/me", rewrite)


@pytest.fixture
def viewer_as_editor(watched: Watched, console: Console) -> tuple[Page, str, str]:
    """A VIEWER's signed-in page that offers an EDITOR's controls; (page, segment, its name)."""
    segment, name = _segment(console)
    email = add_user(console, "VIEWER")
    _as_editor(watched.page)
    page = signed_in_page(watched, console, email=email)
    return page, segment, name


def test_a_refused_create_shows_the_servers_words_and_creates_nothing(
    viewer_as_editor: tuple[Page, str, str], console: Console
) -> None:
    page, segment, name = viewer_as_editor
    before = console.account.ok("GET", "/v1/parent_segments?page_size=1000")

    page.get_by_role("button", name="New parent segment").click()
    dialog = page.get_by_role("dialog", name="New parent segment")
    dialog.get_by_label("Name").fill("Not allowed")
    dialog.get_by_label("Primary key").fill("td_client_id")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    dialog.get_by_role("button", name="Cancel").click()
    assert console.account.ok("GET", "/v1/parent_segments?page_size=1000") == before

    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_role("button", name="Create new event").click()
    dialog = page.get_by_role("dialog", name="Create new event")
    dialog.get_by_label("Name").fill("purchase")
    dialog.get_by_label("Database").fill("shop_db")
    dialog.get_by_label("Table").fill("purchases")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    events = console.account.ok("GET", f"/v1/parent_segments/{segment}/events?page_size=1000")
    assert [event["name"] for event in events["events"]] == ["page_view"]


def test_a_refused_edit_and_delete_show_the_servers_words_and_change_nothing(
    viewer_as_editor: tuple[Page, str, str], console: Console
) -> None:
    page, segment, name = viewer_as_editor
    path = f"/v1/parent_segments/{segment}/stitching_keys?page_size=1000"
    before = console.account.ok("GET", path)
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="ID stitching", exact=True).click()

    page.get_by_role("button", name="Edit user_id").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Regex").fill("u[0-9]+")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Delete user_id").click()
    dialog = page.get_by_role("dialog", name="Delete stitching key user_id?")
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    assert console.account.ok("GET", path) == before


def test_a_refused_attribute_create_edit_and_delete_show_the_servers_words_and_change_nothing(
    viewer_as_editor: tuple[Page, str, str], console: Console
) -> None:
    page, segment, name = viewer_as_editor
    path = f"/v1/parent_segments/{segment}/attributes?page_size=1000"
    before = console.account.ok("GET", path)
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Attributes", exact=True).click()

    page.get_by_role("button", name="Create new attribute").click()
    dialog = page.get_by_role("dialog", name="Create new attribute")
    dialog.get_by_label("Name").fill("tier")
    dialog.get_by_label("Type").select_option(label="Imported")
    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Edit views").click()
    dialog = page.get_by_role("dialog", name="Edit attribute views")
    dialog.get_by_label("Window").fill("7d")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Delete views").click()
    dialog = page.get_by_role("dialog", name="Delete attribute views?")
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog.get_by_role("alert")).to_have_text(PERMISSION_DENIED_MESSAGE)
    assert console.account.ok("GET", path) == before
