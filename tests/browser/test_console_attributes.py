"""The console's Attributes page (the client-side guide's Step 4) in real Chromium against the
whole suite: one attribute of each type created with its type's fields and read back through
the API; the list's sensitivity badges; sensitivity absent without flag m2-2; names and ranges
checked as typed, the server's refusals shown by the field they name; an EDITOR's lowering
refused with the server's message; the type fixed on edit; deleting, and the refusal while a
personalization uses it; a VIEWER offered no changes. Every test also fails on a CSP
violation or a page error (conftest)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from browser.console_support import (
    Console,
    Watched,
    add_user,
    load_axe,
    screenshot,
    serious_violations,
    signed_in_page,
    watched_page,
)
from playwright.sync_api import Browser, Locator, Page, Request, Route, expect
from support.admin import Account

from services.auth.validation import FLAG_PUBLIC_SERVICES
from services.profile.sensitivity import LOWERING_NEEDS_ADMIN

_names = itertools.count(1)
WINDOW_REFUSED = (
    "Window must be 'total' or from 1h to 60d in whole hours or days, such as '12h' or '7d' "
    "(got '90d')"
)


@pytest.fixture(scope="module")
def flagless(console: Console) -> Console:
    """The same suite, an account with flag m2-1 only: no sensitivity (m2-2 off)."""
    # In a thread of its own: the account is made with asyncio.run, which cannot run in a
    # thread where Playwright's sync API (a module-scoped browser) already runs its loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        account = pool.submit(Account.create, console.suite, flags=(FLAG_PUBLIC_SERVICES,))
        return Console(console.suite, account.result())


@pytest.fixture
def flagless_watched(flagless: Console, browser: Browser) -> Iterator[Watched]:  # noqa: ARG001
    with watched_page(browser) as seen:
        yield seen


def _segment(console: Console) -> str:
    segment = console.account.parent_segment(f"Web shop {next(_names)}")
    console.account.event(segment, "page_view", "web_db", "page_views")
    console.account.event(segment, "purchase", "web_db", "purchases")
    return segment


def _attributes(console: Console, segment: str) -> list[dict[str, Any]]:
    path = f"/v1/parent_segments/{segment}/attributes?page_size=1000"
    found: list[dict[str, Any]] = console.account.ok("GET", path).get("attributes", [])
    return found


# What the API prints for a field nobody gave (proto3 defaults: "" and the zero enum).
UNSET = ("", "SENSITIVITY_UNSPECIFIED")


def _by_name(console: Console, segment: str) -> dict[str, dict[str, Any]]:
    """Each attribute as entered: without the server's id, summary and unset fields."""
    return {
        attribute["name"]: {
            k: v
            for k, v in attribute.items()
            if k not in ("id", "sensitivity_summary") and v not in UNSET
        }
        for attribute in _attributes(console, segment)
    }


def _attributes_page(watched: Watched, console: Console, segment: str) -> Page:
    page = signed_in_page(watched, console, f"parent-segments/{segment}/attributes")
    expect(page.get_by_role("heading", name="Attributes", exact=True)).to_be_visible()
    return page


def _open_form(page: Page) -> Locator:
    page.get_by_role("button", name="Create new attribute").click()
    dialog = page.get_by_role("dialog", name="Create new attribute")
    expect(dialog).to_be_visible()
    return dialog


def _name(dialog: Locator) -> Locator:
    # The attribute's own name comes first; a list's aggregations have names too.
    return dialog.get_by_label("Name").first


def _error(dialog: Locator, control_id: str) -> Locator:
    return dialog.locator(f"#{control_id}-error")


def _create(dialog: Locator) -> None:
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()


def _row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))


def _aggregation(dialog: Locator, n: int, name: str, field: str, sensitivity: str) -> None:
    group = dialog.get_by_role("group", name=f"Aggregation {n}")
    group.get_by_label("Name").fill(name)
    group.get_by_label("Field").fill(field)
    group.get_by_label("Sensitivity").select_option(label=sensitivity)


def test_one_attribute_of_each_type_is_created_and_read_back(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    load_axe(watched.page)
    page = _attributes_page(watched, console, segment)
    expect(page.get_by_text("No attributes yet.")).to_be_visible()
    assert serious_violations(page) == []

    dialog = _open_form(page)
    # The event is one of the parent segment's event definitions.
    expect(dialog.get_by_label("Event").locator("option")).to_have_text(
        ["Choose an event", "page_view", "purchase"]
    )
    _name(dialog).fill("last_page")
    dialog.get_by_label("Event").select_option("page_view")
    dialog.get_by_label("Field").fill("td_url")
    dialog.get_by_label("Sensitivity").select_option(label="Sensitive")
    assert serious_violations(page) == [], "the form, SINGLE"
    _create(dialog)

    dialog = _open_form(page)
    _name(dialog).fill("recent")
    dialog.get_by_label("Type").select_option(label="List")
    dialog.get_by_label("Event").select_option("page_view")
    dialog.get_by_label("Max items").fill("20")
    dialog.get_by_label("Expire days").fill("7")
    _aggregation(dialog, 1, "urls", "td_url", "Non-Sensitive")
    dialog.get_by_role("button", name="Add aggregation").click()
    _aggregation(dialog, 2, "terms", "search", "Sensitive")
    assert serious_violations(page) == [], "the form, LIST"
    _create(dialog)

    dialog = _open_form(page)
    _name(dialog).fill("spend_7d")
    dialog.get_by_label("Type").select_option(label="Counter")
    dialog.get_by_label("Event").select_option("purchase")
    dialog.get_by_label("Window").fill("7d")
    dialog.get_by_label("Sum field (optional)").fill("amount")
    # Fixed, not a choice: counters are always non-sensitive.
    expect(dialog.get_by_label("Sensitivity")).to_have_count(0)
    expect(dialog.get_by_text("Sensitivity: Non-Sensitive")).to_be_visible()
    assert serious_violations(page) == [], "the form, COUNTER"
    _create(dialog)

    dialog = _open_form(page)
    _name(dialog).fill("tier")
    dialog.get_by_label("Type").select_option(label="Imported")
    expect(dialog.get_by_label("Event")).to_have_count(0)
    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    _create(dialog)

    expect(_row(page, "last_page").locator(".badge")).to_have_text("Sensitive")
    expect(_row(page, "recent").locator(".badge")).to_have_text("1/2 Sensitive")
    expect(_row(page, "spend_7d").locator(".badge")).to_have_text("Non-Sensitive")
    expect(_row(page, "tier").locator(".badge")).to_have_text("Non-Sensitive")
    expect(_row(page, "spend_7d")).to_contain_text("Sum of amount over 7d")
    assert serious_violations(page) == [], "the list"
    screenshot(page, "attributes")

    assert _by_name(console, segment) == {
        "last_page": {
            "name": "last_page",
            "type": "SINGLE",
            "event": "page_view",
            "field": "td_url",
            "sensitivity": "SENSITIVE",
        },
        "recent": {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 20,
                "expire_days": 7,
                "aggregations": [
                    {"name": "urls", "field": "td_url", "sensitivity": "NON_SENSITIVE"},
                    {"name": "terms", "field": "search", "sensitivity": "SENSITIVE"},
                ],
            },
        },
        "spend_7d": {
            "name": "spend_7d",
            "type": "COUNTER",
            "event": "purchase",
            "sensitivity": "NON_SENSITIVE",
            "counter": {"window": "7d", "sum_field": "amount"},
        },
        "tier": {"name": "tier", "type": "IMPORTED", "sensitivity": "NON_SENSITIVE"},
    }


def _refusal(console: Console, segment: str, body: dict[str, Any]) -> str:
    refused = console.account.call("POST", f"/v1/parent_segments/{segment}/attributes", body)
    assert refused.status == 400, refused.body
    message = refused.json()["message"]
    assert isinstance(message, str)
    return message


def test_values_are_checked_as_typed_and_refusals_shown_by_field(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.ok(
        "POST",
        f"/v1/parent_segments/{segment}/attributes",
        {"name": "views", "type": "COUNTER", "event": "page_view", "counter": {"window": "total"}},
    )
    page = _attributes_page(watched, console, segment)
    # Every attribute the page sends, to show what the browser stops is never sent.
    sent: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith(f"/{segment}/attributes"):
            sent.append(request.url)

    page.on("request", on_request)
    dialog = _open_form(page)
    name = _name(dialog)
    name.fill("x")
    name.fill("")
    expect(_error(dialog, "attribute-name")).to_have_text("Name can't be blank")
    name.fill("n" * 101)
    expect(_error(dialog, "attribute-name")).to_have_text(
        "Name is too long (maximum is 100 characters)"
    )
    dialog.get_by_label("Type").select_option(label="List")
    dialog.get_by_label("Max items").fill("101")
    expect(_error(dialog, "attribute-max-items")).to_have_text("Max items must be from 1 to 100")
    dialog.get_by_label("Expire days").fill("0")
    expect(_error(dialog, "attribute-expire-days")).to_have_text("Expire days must be from 1 to 60")
    # What the browser knows is wrong is not sent; what was never touched is named now.
    dialog.get_by_role("button", name="Create").click()
    no_event = _refusal(
        console,
        segment,
        {
            "name": "recent",
            "type": "LIST",
            "event": "",
            "list": {"max_items": 10, "expire_days": 30},
        },
    )
    expect(_error(dialog, "attribute-event")).to_have_text(no_event)
    expect(_error(dialog, "aggregation-0-sensitivity")).to_have_text("Sensitivity can't be blank")
    assert sent == []

    # Only the server knows two aggregations share a name: its words, by the field.
    name.fill("recent")
    dialog.get_by_label("Event").select_option("page_view")
    dialog.get_by_label("Max items").fill("10")
    dialog.get_by_label("Expire days").fill("30")
    _aggregation(dialog, 1, "urls", "td_url", "Sensitive")
    dialog.get_by_role("button", name="Add aggregation").click()
    _aggregation(dialog, 2, "urls", "url", "Sensitive")
    aggregation = {"name": "urls", "field": "td_url", "sensitivity": "SENSITIVE"}
    body = {"name": "recent", "type": "LIST", "event": "page_view"}
    settings = {"max_items": 10, "expire_days": 30}
    refused = _refusal(
        console,
        segment,
        {
            **body,
            "list": {**settings, "aggregations": [aggregation, {**aggregation, "field": "url"}]},
        },
    )
    assert refused == "Name has already been taken"
    dialog.get_by_role("button", name="Create").click()
    expect(_error(dialog, "aggregation-1-name")).to_have_text(refused)
    assert len(sent) == 1  # what the browser cannot know is sent
    expect(
        dialog.get_by_role("group", name="Aggregation 2").get_by_label("Name")
    ).to_have_attribute("aria-invalid", "true")
    expect(_error(dialog, "attribute-name")).to_have_count(0)

    # A counter's window: checked as typed, in the server's words.
    dialog.get_by_label("Type").select_option(label="Counter")
    dialog.get_by_label("Window").fill("90d")
    refused = _refusal(console, segment, {**body, "type": "COUNTER", "counter": {"window": "90d"}})
    assert refused == WINDOW_REFUSED
    expect(_error(dialog, "attribute-window")).to_have_text(refused)

    # A taken name (case does not count): the server's message under the name.
    name.fill("Views")
    dialog.get_by_label("Window").fill("12h")
    refused = _refusal(
        console, segment, {**body, "name": "Views", "type": "COUNTER", "counter": {"window": "12h"}}
    )
    assert refused == "Name has already been taken"
    dialog.get_by_role("button", name="Create").click()
    expect(_error(dialog, "attribute-name")).to_have_text(refused)
    assert [a["name"] for a in _attributes(console, segment)] == ["views"]


def test_editing_keeps_the_type_and_an_editor_cannot_lower_a_sensitivity(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    path = f"/v1/parent_segments/{segment}/attributes"
    single = {"name": "email", "type": "SINGLE", "event": "page_view", "field": "email"}
    console.account.ok("POST", path, {**single, "sensitivity": "SENSITIVE"})
    email = add_user(console, "EDITOR")
    page = signed_in_page(watched, console, f"parent-segments/{segment}/attributes", email=email)
    page.get_by_role("button", name="Edit email").click()
    dialog = page.get_by_role("dialog", name="Edit attribute email")
    # UpdateAttribute's mask has no `type`: the type is shown, fixed.
    expect(dialog.get_by_label("Type")).to_be_disabled()
    expect(dialog.get_by_label("Type")).to_have_value("SINGLE")
    expect(dialog.get_by_label("Field")).to_have_value("email")

    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text(LOWERING_NEEDS_ADMIN)
    [stored] = _attributes(console, segment)
    assert stored["sensitivity"] == "SENSITIVE"

    # What an EDITOR may change is saved.
    dialog.get_by_label("Sensitivity").select_option(label="Sensitive")
    dialog.get_by_label("Event").select_option("purchase")
    dialog.get_by_label("Field").fill("buyer_email")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, "email")).to_contain_text("Latest buyer_email")
    [stored] = _attributes(console, segment)
    assert (stored["type"], stored["event"], stored["field"], stored["sensitivity"]) == (
        "SINGLE",
        "purchase",
        "buyer_email",
        "SENSITIVE",
    )


def test_deleting_asks_first_and_shows_why_a_used_one_stays(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    path = f"/v1/parent_segments/{segment}/attributes"
    for name in ("views", "clicks"):
        counter = {"name": name, "type": "COUNTER", "event": "page_view"}
        console.account.ok("POST", path, {**counter, "counter": {"window": "total"}})
    section = {"name": "Views", "criteria": {}, "payload": [{"name": "n", "attribute": "views"}]}
    console.account.ok(
        "POST",
        f"/v1/parent_segments/{segment}/personalizations",
        {"name": "Counted", "trigger_events": ["page_view"], "sections": [section]},
    )
    views = next(a for a in _attributes(console, segment) if a["name"] == "views")
    refused = console.account.call("DELETE", f"{path}/{views['id']}")
    assert refused.status == 400, refused.body
    load_axe(watched.page)
    page = _attributes_page(watched, console, segment)

    page.get_by_role("button", name="Delete views").click()
    dialog = page.get_by_role("dialog", name="Delete attribute views?")
    assert serious_violations(page) == []
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog.get_by_role("alert")).to_have_text(refused.json()["message"])
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Delete clicks").click()
    dialog = page.get_by_role("dialog", name="Delete attribute clicks?")
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, "clicks")).to_have_count(0)
    assert [a["name"] for a in _attributes(console, segment)] == ["views"]


def test_without_the_sensitivity_flag_no_sensitivity_is_asked(
    flagless_watched: Watched, flagless: Console
) -> None:
    segment = _segment(flagless)
    load_axe(flagless_watched.page)
    page = _attributes_page(flagless_watched, flagless, segment)
    dialog = _open_form(page)
    _name(dialog).fill("last_page")
    dialog.get_by_label("Event").select_option("page_view")
    dialog.get_by_label("Field").fill("td_url")
    expect(dialog.get_by_label("Sensitivity")).to_have_count(0)
    _create(dialog)

    dialog = _open_form(page)
    _name(dialog).fill("recent")
    dialog.get_by_label("Type").select_option(label="List")
    dialog.get_by_label("Event").select_option("page_view")
    group = dialog.get_by_role("group", name="Aggregation 1")
    group.get_by_label("Name").fill("urls")
    group.get_by_label("Field").fill("td_url")
    expect(dialog.get_by_label("Sensitivity")).to_have_count(0)
    assert serious_violations(page) == []
    _create(dialog)

    # Stored UNSPECIFIED, which the public path treats as sensitive.
    expect(_row(page, "last_page").locator(".badge")).to_have_text("Unspecified")
    expect(_row(page, "recent").locator(".badge")).to_have_text("1/1 Sensitive")
    assert _by_name(flagless, segment) == {
        "last_page": {
            "name": "last_page",
            "type": "SINGLE",
            "event": "page_view",
            "field": "td_url",
        },
        "recent": {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 10,
                "expire_days": 30,
                "aggregations": [
                    {"name": "urls", "field": "td_url", "sensitivity": "SENSITIVITY_UNSPECIFIED"}
                ],
            },
        },
    }


def test_a_viewer_sees_the_attributes_and_no_way_to_change_them(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.ok(
        "POST",
        f"/v1/parent_segments/{segment}/attributes",
        {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"},
    )
    email = add_user(console, "VIEWER")
    page = signed_in_page(watched, console, f"parent-segments/{segment}/attributes", email=email)
    expect(_row(page, "tier").locator(".badge")).to_have_text("Sensitive")
    expect(page.get_by_role("button")).to_have_text(["Sign out"])


def test_editing_a_list_replaces_its_settings(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    urls = {"name": "urls", "field": "td_url", "sensitivity": "SENSITIVE"}
    settings = {"max_items": 10, "expire_days": 30, "aggregations": [urls]}
    console.account.ok(
        "POST",
        f"/v1/parent_segments/{segment}/attributes",
        {"name": "recent", "type": "LIST", "event": "page_view", "list": settings},
    )
    page = _attributes_page(watched, console, segment)
    expect(_row(page, "recent").locator(".badge")).to_have_text("1/1 Sensitive")
    page.get_by_role("button", name="Edit recent").click()
    dialog = page.get_by_role("dialog", name="Edit attribute recent")
    expect(dialog.get_by_label("Max items")).to_have_value("10")
    expect(dialog.get_by_role("group", name="Aggregation 1").get_by_label("Field")).to_have_value(
        "td_url"
    )
    dialog.get_by_label("Expire days").fill("14")
    dialog.get_by_role("button", name="Add aggregation").click()
    _aggregation(dialog, 2, "referrers", "td_referrer", "Non-Sensitive")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, "recent").locator(".badge")).to_have_text("1/2 Sensitive")
    [stored] = _attributes(console, segment)
    assert stored["list"] == {
        "max_items": 10,
        "expire_days": 14,
        "aggregations": [
            urls,
            {"name": "referrers", "field": "td_referrer", "sensitivity": "NON_SENSITIVE"},
        ],
    }


def test_a_field_of_blanks_is_sent_as_the_server_takes_it(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _attributes_page(watched, console, segment)
    dialog = _open_form(page)
    _name(dialog).fill("spaced")
    dialog.get_by_label("Event").select_option("page_view")
    field = dialog.get_by_label("Field")
    field.fill("x")
    field.fill("  ")
    # The server refuses only an empty field: the form says nothing and sends it.
    expect(_error(dialog, "attribute-field")).to_have_count(0)
    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    _create(dialog)
    assert _by_name(console, segment)["spaced"]["field"] == "  "


def test_aggregations_keep_their_own_messages_when_one_is_removed(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    path = f"/v1/parent_segments/{segment}/attributes"
    tier = {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"}
    console.account.ok("POST", path, tier)
    page = _attributes_page(watched, console, segment)
    dialog = _open_form(page)
    dialog.get_by_label("Type").select_option(label="List")
    dialog.get_by_role("button", name="Add aggregation").click()
    # The second aggregation's name touched and left blank: its message, the first's none.
    second = dialog.get_by_role("group", name="Aggregation 2").get_by_label("Name")
    second.fill("x")
    second.fill("")
    expect(_error(dialog, "aggregation-1-name")).to_have_text("Name can't be blank")
    expect(_error(dialog, "aggregation-0-name")).to_have_count(0)

    # Removing the first: the second (now first) keeps its message...
    dialog.get_by_role("button", name="Remove aggregation 1").click()
    expect(dialog.get_by_role("group", name="Aggregation 2")).to_have_count(0)
    first = dialog.get_by_role("group", name="Aggregation 1")
    expect(first.get_by_label("Field")).to_have_value("")
    expect(_error(dialog, "aggregation-0-name")).to_have_text("Name can't be blank")
    # ...and one added now is untouched: nothing said about it yet.
    dialog.get_by_role("button", name="Add aggregation").click()
    expect(dialog.get_by_role("group", name="Aggregation 2")).to_be_visible()
    expect(_error(dialog, "aggregation-1-name")).to_have_count(0)
    dialog.get_by_role("button", name="Remove aggregation 2").click()

    # The server's word about the name stays when the aggregations change.
    _name(dialog).fill("tier")
    dialog.get_by_label("Event").select_option("page_view")
    _aggregation(dialog, 1, "urls", "td_url", "Sensitive")
    dialog.get_by_role("button", name="Create").click()
    taken = _error(dialog, "attribute-name")
    expect(taken).to_have_text("Name has already been taken")
    dialog.get_by_role("button", name="Add aggregation").click()
    expect(dialog.get_by_role("group", name="Aggregation 2")).to_be_visible()
    expect(taken).to_have_text("Name has already been taken")
    assert [a["name"] for a in _attributes(console, segment)] == ["tier"]


def test_the_counter_hint_describes_its_fields_and_required_selects_say_so(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _attributes_page(watched, console, segment)
    dialog = _open_form(page)
    for label in ("Type", "Event", "Sensitivity"):
        expect(dialog.get_by_label(label)).to_have_attribute("aria-required", "true")
    dialog.get_by_label("Type").select_option(label="Counter")
    hint = dialog.get_by_text("Whole hours or days from 1h to 60d")
    expect(hint).to_be_visible()
    described = hint.inner_text()
    expect(dialog.get_by_label("Window")).to_have_accessible_description(described)
    expect(dialog.get_by_label("Sum field (optional)")).to_have_accessible_description(described)


def test_an_item_path_under_the_attributes_shows_the_attributes_at_their_own_path(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.ok(
        "POST",
        f"/v1/parent_segments/{segment}/attributes",
        {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"},
    )
    page = signed_in_page(watched, console, f"parent-segments/{segment}/attributes/anything")
    expect(page).to_have_url(f"{console.url}parent-segments/{segment}/attributes")
    expect(page.get_by_role("heading", name="Attributes", exact=True)).to_be_visible()
    expect(_row(page, "tier")).to_be_visible()


def test_a_failed_list_is_said_once_and_gone_when_the_list_loads_again(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    path = f"/v1/parent_segments/{segment}/attributes"
    console.account.ok(
        "POST", path, {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"}
    )
    page = watched.page
    failures = {"left": 1}

    def fail_once(route: Route) -> None:
        if route.request.method == "GET" and failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"code": 14, "message": "The attributes are unavailable"}',
            )
        else:
            route.continue_()

    page.route(re.compile(re.escape(f"{path}?")), fail_once)
    page = _attributes_page(watched, console, segment)
    expect(page.get_by_role("alert")).to_have_text("The attributes are unavailable")

    # A save loads the list again: the old failure goes with it.
    dialog = _open_form(page)
    _name(dialog).fill("plan")
    dialog.get_by_label("Type").select_option(label="Imported")
    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    _create(dialog)
    expect(_row(page, "plan")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert sorted(a["name"] for a in _attributes(console, segment)) == ["plan", "tier"]


def test_a_list_answered_late_does_not_replace_a_newer_one(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    path = f"/v1/parent_segments/{segment}/attributes"
    tier = {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"}
    console.account.ok("POST", path, tier)
    stale = json.dumps({"attributes": _attributes(console, segment)})
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if route.request.method == "GET" and not held:
            held.append(route)  # answered below, after a newer list
        else:
            route.continue_()

    page = watched.page
    page.route(re.compile(re.escape(f"{path}?")), hold_the_first)
    page = _attributes_page(watched, console, segment)
    expect(page.get_by_text("Loading…")).to_be_visible()

    dialog = _open_form(page)
    _name(dialog).fill("plan")
    dialog.get_by_label("Type").select_option(label="Imported")
    dialog.get_by_label("Sensitivity").select_option(label="Non-Sensitive")
    _create(dialog)
    expect(_row(page, "plan")).to_be_visible()

    # The first list (without "plan") now arrives: it is older than what is shown.
    [first] = held
    with page.expect_response(lambda response: response.request == first.request):
        first.fulfill(status=200, content_type="application/json", body=stale)
    # Nothing to wait for when nothing should change: give the page time to (not) render it.
    page.wait_for_timeout(500)
    expect(_row(page, "plan")).to_be_visible()
    expect(page.get_by_text("2 of ")).to_be_visible()
