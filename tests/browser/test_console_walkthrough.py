"""The client-side guide's Steps 2-5 done entirely in the console, as a marketer does them,
in real Chromium against the whole suite: a parent segment, a public service and its token
(revealed after the password prompt, copied), an event with a filter, attributes (one
sensitive), a stitching key and a personalization with a locked section, previewed for one
visitor. Then proved from outside: the admin API reads back what was entered, and a real
public event sent with the copied token gets exactly the public answer the preview showed.
The pages' own tests cover their details and screenshots; this one covers the journey.
Every step also fails on a CSP violation or a page error (console_support)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser.console_support import (
    Console,
    Watched,
    age_password_entry,
    load_axe,
    serious_violations,
    signed_in_page,
    watched_page,
)
from playwright.sync_api import Browser, Locator, Page, expect
from support.admin import PASSWORD
from support.http import request

SEGMENT = "Walkthrough shoppers"
ORIGIN = "http://shop.example"
SERVICE = "Storefront"
TOKEN = "browser"
DATABASE, TABLE = "web_db", "page_views"
PATH_FILTER = "^/shop/.*"
LOCK = "Redacted for browsers"
VISITOR = "visitor-1"
# The one event of the journey: previewed in the panel, then sent for real. It passes the
# event's filter and carries the sensitive field.
EVENT: dict[str, Any] = {
    "td_client_id": VISITOR,
    "td_path": "/shop/shoes",
    "email_domain": "example.com",
}


@pytest.fixture
def watched(console: Console, browser: Browser) -> Iterator[Watched]:  # noqa: ARG001
    # Copying the token reads the clipboard back: the context must allow both.
    with watched_page(browser, permissions=["clipboard-read", "clipboard-write"]) as seen:
        yield seen


@dataclass
class Journey:
    """Where the marketer is: the page, and the parent segment made in step 1."""

    console: Console
    page: Page
    segment: str = ""

    def api(self, path: str) -> Any:
        """The admin API's answer about this parent segment (200 or the test fails)."""
        return self.console.account.ok("GET", f"/v1/parent_segments/{self.segment}{path}")

    def open_section(self, link: str, heading: str) -> None:
        """Moves to one of the parent segment's pages by its navigation, as a user does."""
        sections = self.page.get_by_role("navigation", name="Parent segment sections")
        sections.get_by_role("link", name=link).click()
        expect(self.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


# -- the console, step by step ------------------------------------------------------------


def create_parent_segment(journey: Journey) -> None:
    page = journey.page
    page.get_by_role("button", name="New parent segment").click()
    dialog = page.get_by_role("dialog", name="New parent segment")
    dialog.get_by_label("Name").fill(SEGMENT)
    dialog.get_by_label("Primary key").fill("td_client_id")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=SEGMENT)).to_be_visible()
    # The console opens the new parent segment: its id is the last part of the address.
    journey.segment = page.url.rstrip("/").rsplit("/", 1)[1]


def create_public_service(journey: Journey) -> None:
    page = journey.page
    journey.open_section("Services", "Personalization services")
    page.get_by_role("button", name="New service").click()
    dialog = page.get_by_role("dialog", name="New personalization service")
    dialog.get_by_label("Public (browsers)").check()
    dialog.get_by_label("Name").fill(SERVICE)
    dialog.get_by_label("Allowed origins (one per line)").fill(ORIGIN)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text=SERVICE)).to_contain_text("Public (browsers)")


def _tokens_panel(page: Page) -> Locator:
    page.get_by_role("button", name=f"Tokens of {SERVICE}").click()
    return page.get_by_role("complementary", name=f"Tokens of {SERVICE}")


def add_reveal_and_copy_token(journey: Journey) -> str:
    """The token string, as the clipboard holds it after Copy."""
    page = journey.page
    panel = _tokens_panel(page)
    panel.get_by_label("Token name").fill(TOKEN)
    panel.get_by_role("button", name="Add token").click()
    created = panel.get_by_label(f"Token string of {TOKEN}").inner_text()

    # Coming back later, the string is hidden; revealing it asks for the password again.
    page.reload()
    panel = _tokens_panel(page)
    expect(panel.get_by_label(f"Token string of {TOKEN}")).to_have_count(0)
    age_password_entry(journey.console, 11 * 60)
    panel.get_by_role("button", name=f"Reveal {TOKEN}").click()
    prompt = page.get_by_role("dialog", name="Confirm your password")
    prompt.get_by_label("Password").fill(PASSWORD)
    prompt.get_by_role("button", name="Confirm").click()
    expect(prompt).to_be_hidden()
    expect(panel.get_by_label(f"Token string of {TOKEN}")).to_have_text(created)
    panel.get_by_role("button", name=f"Copy {TOKEN}").click()
    expect(panel.get_by_role("button", name=f"Copied {TOKEN}")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert isinstance(copied, str)
    assert copied == created
    return copied


def create_page_view_event(journey: Journey) -> None:
    page = journey.page
    journey.open_section("Events", "Events")
    page.get_by_role("button", name="Create new event").click()
    dialog = page.get_by_role("dialog", name="Create new event")
    dialog.get_by_label("Name").fill("page_view")
    dialog.get_by_label("Database").fill(DATABASE)
    dialog.get_by_label("Table").fill(TABLE)
    dialog.get_by_role("button", name="Add filter").click()
    only = dialog.get_by_role("group", name="Filter 1")
    only.get_by_label("Field").fill("td_path")
    only.get_by_label("Regex").fill(PATH_FILTER)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text="page_view")).to_contain_text(
        f"{DATABASE}.{TABLE}"
    )


def _new_attribute(page: Page, name: str, kind: str) -> Locator:
    page.get_by_role("button", name="Create new attribute").click()
    dialog = page.get_by_role("dialog", name="Create new attribute")
    # The attribute's own name comes first; a list's aggregations have names too.
    dialog.get_by_label("Name").first.fill(name)
    dialog.get_by_label("Type").select_option(label=kind)
    dialog.get_by_label("Event").select_option("page_view")
    return dialog


def _create(dialog: Locator) -> None:
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()


def create_attributes(journey: Journey) -> None:
    page = journey.page
    journey.open_section("Attributes", "Attributes")
    for name, field, sensitivity in (
        ("last_path", "td_path", "Non-Sensitive"),
        ("email_domain", "email_domain", "Sensitive"),
    ):
        dialog = _new_attribute(page, name, "Single value")
        dialog.get_by_label("Field").fill(field)
        dialog.get_by_label("Sensitivity").select_option(label=sensitivity)
        _create(dialog)

    dialog = _new_attribute(page, "page_views", "Counter")
    dialog.get_by_label("Window").fill("total")
    _create(dialog)

    dialog = _new_attribute(page, "recent", "List")
    dialog.get_by_label("Max items").fill("10")
    dialog.get_by_label("Expire days").fill("30")
    aggregation = dialog.get_by_role("group", name="Aggregation 1")
    aggregation.get_by_label("Name").fill("domains")
    aggregation.get_by_label("Field").fill("email_domain")
    aggregation.get_by_label("Sensitivity").select_option(label="Sensitive")
    _create(dialog)
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="recent", exact=True))
    expect(row.locator(".badge")).to_have_text("1/1 Sensitive")


def add_stitching_key(journey: Journey) -> None:
    page = journey.page
    journey.open_section("ID stitching", "ID stitching keys")
    page.get_by_role("button", name="Add stitching key").click()
    dialog = page.get_by_role("dialog", name="Add stitching key")
    dialog.get_by_label("Event field (the key's name)").fill("member_id")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text="member_id")).to_be_visible()


def _section(page: Page, number: int, name: str) -> Locator:
    page.get_by_role("button", name="Add section").click()
    # The lock, when shown, is part of the group's name: not an exact match.
    section = page.get_by_role("group", name=f"Section {number}")
    section.get_by_label(f"Section {number} name", exact=True).fill(name)
    return section


def _payload_attribute(section: Locator, alias: str, attribute: str) -> None:
    section.get_by_role("button", name="Add field to", exact=False).click()
    section.get_by_label("Field 1 Alias", exact=True).fill(alias)
    section.get_by_label("Field 1 Source", exact=True).select_option(label="Attribute")
    section.get_by_label("Field 1 Attribute", exact=True).select_option(label=attribute)


def build_personalization(journey: Journey) -> None:
    page = journey.page
    journey.open_section("Personalizations", "Personalizations")
    page.get_by_role("button", name="Create personalization").click()
    page.get_by_label("Name", exact=True).fill("Homepage")
    page.get_by_label("page_view", exact=True).check()

    welcome = _section(page, 1, "Welcome")
    welcome.get_by_role("button", name="Add criteria to Section 1").click()
    welcome.get_by_label("Condition 1.1 Subject", exact=True).select_option(
        label="page_views (COUNTER)"
    )
    welcome.get_by_label("Condition 1.1 Operator", exact=True).select_option("gte")
    welcome.get_by_label("Condition 1.1 Value", exact=True).fill("1")
    _payload_attribute(welcome, "path", "last_path")
    vip = _section(page, 2, "VIP")
    _payload_attribute(vip, "domain", "email_domain")
    # Browsers will get VIP as {}: the builder says so before anything is saved.
    expect(welcome.get_by_role("img", name=LOCK)).to_have_count(0)
    expect(vip.get_by_role("img", name=LOCK)).to_have_count(1)

    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Homepage")).to_be_visible()


def _answer(panel: Locator, title: str) -> Any:
    block = panel.get_by_role("region", name=title)
    expect(block.locator("pre")).not_to_be_empty()
    return json.loads(block.locator("pre").inner_text())


def preview_one_visitor(journey: Journey) -> Any:
    """The public answer the preview panel shows for EVENT, parsed from its <pre>."""
    panel = journey.page.get_by_role("region", name="Preview")
    expect(panel.get_by_label("Event table")).to_have_value(f"{DATABASE}.{TABLE}")
    panel.get_by_label("Sample event (JSON)").fill(json.dumps(EVENT))
    panel.get_by_role("button", name="Preview", exact=True).click()

    def row(section: str) -> Locator:
        header = journey.page.get_by_role("rowheader", name=section, exact=True)
        return panel.get_by_role("row").filter(has=header)

    expect(row("Welcome")).to_contain_text("Shown")
    expect(row("VIP")).to_contain_text("Redacted ({})")
    public = _answer(panel, "Public answer")
    private = _answer(panel, "Private answer")
    # Servers get the sensitive value; browsers an empty VIP.
    assert private["offers"]["VIP"] == {"attributes": {"domain": "example.com"}}
    assert public == {
        "offers": {"Welcome": {"attributes": {"path": EVENT["td_path"]}}, "VIP": {}},
    }
    return public


# -- from outside the console -------------------------------------------------------------

# What the API prints for a field nobody gave (proto3 defaults: "" and the zero enum).
UNSET = ("", "SENSITIVITY_UNSPECIFIED")


def _without_unset(value: Any) -> Any:
    """`value` without the fields left unset, at every depth."""
    if isinstance(value, dict):
        return {k: _without_unset(v) for k, v in value.items() if v not in UNSET}
    if isinstance(value, list):
        return [_without_unset(each) for each in value]
    return value


def _as_entered(item: dict[str, Any], server_made: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """An item as the console sent it: without the fields the server makes or leaves unset."""
    entered: dict[str, Any] = _without_unset(item)
    return {k: v for k, v in entered.items() if k not in server_made}


def check_configuration(journey: Journey, token: str) -> None:
    """Everything entered in the console, read back through the admin API."""
    account = journey.console.account
    listed = account.ok("GET", "/v1/parent_segments?page_size=1000")["parent_segments"]
    [segment] = [each for each in listed if each["id"] == journey.segment]
    assert (segment["name"], segment["primary_key"]) == (SEGMENT, "td_client_id")

    [service] = journey.api("/services")["services"]
    assert (service["name"], service["type"], service["allowed_origins"]) == (
        SERVICE,
        "PUBLIC",
        [ORIGIN],
    )
    [listed_token] = journey.api(f"/services/{service['id']}/tokens")["tokens"]
    assert listed_token["name"] == TOKEN
    assert token.startswith(f"{account.account_id}/{journey.segment}/p13n_pub_")

    [event] = journey.api("/events?page_size=1000")["events"]
    assert _as_entered(event) == {
        "name": "page_view",
        "database": DATABASE,
        "table": TABLE,
        "filters": [{"field": "td_path", "regex": PATH_FILTER}],
    }

    attributes = journey.api("/attributes?page_size=1000")["attributes"]
    single = {"type": "SINGLE", "event": "page_view"}
    assert {a["name"]: _as_entered(a, ("id", "sensitivity_summary")) for a in attributes} == {
        "last_path": {
            **single,
            "name": "last_path",
            "field": "td_path",
            "sensitivity": "NON_SENSITIVE",
        },
        "email_domain": {
            **single,
            "name": "email_domain",
            "field": "email_domain",
            "sensitivity": "SENSITIVE",
        },
        # Counters are always non-sensitive: the server says so without being told.
        "page_views": {
            "name": "page_views",
            "type": "COUNTER",
            "event": "page_view",
            "counter": {"window": "total"},
            "sensitivity": "NON_SENSITIVE",
        },
        "recent": {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 10,
                "expire_days": 30,
                "aggregations": [
                    {"name": "domains", "field": "email_domain", "sensitivity": "SENSITIVE"}
                ],
            },
        },
    }

    keys = journey.api("/stitching_keys?page_size=1000")["stitching_keys"]
    # The primary key is always one; member_id is the one added: a plain key, which
    # real-time events are stitched on (not workflow-only).
    assert {key["name"]: _as_entered(key) for key in keys} == {
        "td_client_id": {
            "name": "td_client_id",
            "exclusions": [],
            "workflow_only": False,
            "verified": False,
        },
        "member_id": {
            "name": "member_id",
            "exclusions": [],
            "workflow_only": False,
            "verified": False,
        },
    }

    [made] = journey.api("/personalizations?page_size=1000")["personalizations"]
    assert journey.page.url.endswith(f"/personalizations/{made['id']}")
    assert (made["name"], made["trigger_events"]) == ("Homepage", ["page_view"])
    assert _as_entered(made)["sections"] == [
        {
            "name": "Welcome",
            "criteria": {"all": [{"attribute": "page_views", "op": "gte", "value": 1}]},
            "payload": [{"name": "path", "attribute": "last_path"}],
        },
        {"name": "VIP", "payload": [{"name": "domain", "attribute": "email_domain"}]},
    ]


def send_public_event(journey: Journey, token: str, event: dict[str, Any] = EVENT) -> Any:
    """`event` as the shop's page sends it: the copied token, from the allowed origin."""
    sent = request(
        "POST",
        journey.console.suite.data_port,
        f"/public/{DATABASE}/{TABLE}",
        headers={"wp13n-token": token, "origin": ORIGIN},
        body=event,
    )
    assert sent.status == 200, sent.body
    return sent.json()


def test_the_guides_steps_done_in_the_console_answer_a_real_public_event(
    watched: Watched, console: Console
) -> None:
    load_axe(watched.page)
    journey = Journey(console, signed_in_page(watched, console))
    create_parent_segment(journey)
    create_public_service(journey)
    token = add_reveal_and_copy_token(journey)
    create_page_view_event(journey)
    create_attributes(journey)
    add_stitching_key(journey)
    build_personalization(journey)
    shown = preview_one_visitor(journey)
    assert serious_violations(journey.page) == []

    check_configuration(journey, token)
    # The visitor's real event, sent with the token copied in the console, gets exactly the
    # public answer the preview panel showed.
    assert send_public_event(journey, token) == shown
    # The event's filter holds too: another visitor's page outside /shop/ is no page_view,
    # so nothing is triggered (unfiltered, the counter would show them Welcome).
    elsewhere = {**EVENT, "td_client_id": "visitor-2", "td_path": "/about"}
    assert send_public_event(journey, token, elsewhere) == {"offers": {}}
