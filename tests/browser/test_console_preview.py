"""The console's personalization preview panel in real Chromium against the whole suite: a
personalization made through the admin API (a non-sensitive and a sensitive attribute, a
counter, an imported profile, a public service and its token) previewed with a sample event
and with a real profile by key and value. The public answer the panel shows is the one a
real public event then gets; a redacted section is `{}` there and whole in the private
answer, with the reason; bad JSON is stopped in the browser; the server's refusals and
warnings are shown as written; a VIEWER may preview. Every test also fails on a CSP
violation (conftest)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest
from browser.console_support import (
    Console,
    Watched,
    add_user,
    load_axe,
    screenshot,
    serious_violations,
    sign_in,
    signed_in_page,
)
from playwright.sync_api import Locator, Page, Request, Route, expect
from support.http import Response, request

_names = itertools.count(1)
ORIGIN = "https://shop.example"
DATABASE = "shop_db"
MEMBER = "member-1"  # imported: a SENSITIVE membership tier
TIER = "platinum"

HOMEPAGE: dict[str, Any] = {
    "name": "Homepage",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "Welcome Banner",
            "payload": [
                {"name": "welcome_message", "static": "Hello!"},
                {"name": "path", "attribute": "last_path"},
            ],
        },
        {
            "name": "Loyalty Discount",
            "payload": [
                {"name": "discount_code", "static": "LOYAL-15"},
                {"name": "membership_tier", "attribute": "membership_tier"},
            ],
        },
        {
            "name": "Big spender",
            "criteria": {"attribute": "total_purchase", "op": "gte", "value": 100},
            "payload": [{"name": "spent", "attribute": "total_purchase"}],
        },
        {
            # Sensitive by its criteria alone: the member (platinum) does not match it.
            "name": "Gold members",
            "criteria": {"attribute": "membership_tier", "op": "eq", "value": "gold"},
            "payload": [{"name": "offer", "static": "GOLD-10"}],
        },
    ],
}
SECTIONS = [section["name"] for section in HOMEPAGE["sections"]]


@dataclass
class Shop:
    console: Console
    segment: str
    personalization: str
    public_token: str

    @property
    def route(self) -> str:
        return f"parent-segments/{self.segment}/personalizations/{self.personalization}"

    def preview(self, body: dict[str, Any]) -> Response:
        """The same preview the panel asks for, through the admin API."""
        path = f"/v1/parent_segments/{self.segment}/personalizations/{self.personalization}"
        return self.console.account.call("POST", f"{path}:preview", body)

    def public(self, table: str, event: dict[str, Any]) -> Response:
        """A real event as a browser on the shop's page sends it."""
        return request(
            "POST",
            self.console.suite.data_port,
            f"/public/{DATABASE}/{table}",
            headers={"wp13n-token": self.public_token, "origin": ORIGIN},
            body=event,
        )

    def profile(self, visitor: str) -> tuple[int, Any]:
        path = f"/v1/parent_segments/{self.segment}/profiles/td_client_id/{visitor}"
        reply = self.console.account.call("GET", path)
        return reply.status, reply.json()


@pytest.fixture(scope="module")
def shop(console: Console) -> Shop:
    account = console.account
    segment = account.parent_segment(f"Preview {next(_names)}")
    base = f"/v1/parent_segments/{segment}"
    account.event(segment, "page_view", DATABASE, "page_views")
    account.event(segment, "purchase", DATABASE, "purchases")
    account.ok("POST", f"{base}/stitching_keys", {"name": "user_id"})
    attributes: list[dict[str, Any]] = [
        {
            "name": "last_path",
            "type": "SINGLE",
            "event": "page_view",
            "field": "td_path",
            "sensitivity": "NON_SENSITIVE",
        },
        {"name": "membership_tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"},
        {
            "name": "total_purchase",
            "type": "COUNTER",
            "event": "purchase",
            "counter": {"window": "total", "sum_field": "amount"},
        },
    ]
    for attribute in attributes:
        account.ok("POST", f"{base}/attributes", attribute)
    imported = {"value": MEMBER, "attributes": {"membership_tier": TIER}}
    account.ok("POST", f"{base}/imports", {"key": "td_client_id", "records": [imported]})
    created = account.ok("POST", f"{base}/personalizations", HOMEPAGE)
    token = account.token(segment, account.service(segment, "Web", origins=[ORIGIN]))
    return Shop(console, segment, str(created["id"]), token)


def _panel(watched: Watched, shop: Shop, email: str | None = None) -> tuple[Page, Locator]:
    page = signed_in_page(watched, shop.console, shop.route, email=email)
    panel = page.get_by_role("region", name="Preview")
    expect(panel.get_by_label("Event table")).to_have_value(f"{DATABASE}.page_views")
    return page, panel


def _run(panel: Locator, event: dict[str, Any] | str) -> None:
    text = event if isinstance(event, str) else json.dumps(event)
    panel.get_by_label("Sample event (JSON)").fill(text)
    panel.get_by_role("button", name="Preview", exact=True).click()


def _answer(panel: Locator, title: str) -> Any:
    block = panel.get_by_role("region", name=title)
    expect(block.locator("pre")).not_to_be_empty()
    return json.loads(block.locator("pre").inner_text())


def _row(panel: Locator, section: str) -> Locator:
    return panel.get_by_role("row").filter(has=panel.page.get_by_role("rowheader", name=section))


def _expect_outcomes(panel: Locator, section: str, public: str, private: str) -> Locator:
    """The section's outcome on each path (columns "Browser (public)", "Server (private)");
    returns its "Why" cell."""
    cells = _row(panel, section).get_by_role("cell")
    expect(cells).to_have_count(3)
    expect(cells.nth(0)).to_have_text(public)
    expect(cells.nth(1)).to_have_text(private)
    return cells.nth(2)


def test_the_public_answer_shown_is_what_a_real_public_event_gets(
    watched: Watched, shop: Shop
) -> None:
    load_axe(watched.page)
    page, panel = _panel(watched, shop)
    event = {"td_client_id": MEMBER, "td_path": "/home"}
    _run(panel, event)

    _expect_outcomes(panel, "Welcome Banner", "Shown", "Shown")
    loyalty = _expect_outcomes(panel, "Loyalty Discount", "Redacted ({})", "Shown")
    expect(loyalty).to_contain_text("It references sensitive membership_tier")
    _expect_outcomes(panel, "Big spender", "Left out", "Left out")
    public, private = _answer(panel, "Public answer"), _answer(panel, "Private answer")
    assert public == {
        "offers": {
            "Welcome Banner": {"attributes": {"welcome_message": "Hello!", "path": "/home"}},
            "Loyalty Discount": {},
            "Gold members": {},
        }
    }
    assert private["offers"]["Loyalty Discount"] == {
        "attributes": {"discount_code": "LOYAL-15", "membership_tier": TIER}
    }
    # The sample event, prettified as sent.
    expect(panel.get_by_label("Sample event (JSON)")).to_have_value(json.dumps(event, indent=2))
    # The API answers the same preview with what the panel shows.
    asked = shop.preview({"database": DATABASE, "table": "page_views", "event": event})
    assert asked.status == 200, asked.body
    assert (asked.json()["public_response"], asked.json()["private_response"]) == (public, private)
    assert serious_violations(page) == []
    screenshot(page, "preview")

    # The same visitor's real event on the public path gets exactly the answer shown.
    real = shop.public("page_views", event)
    assert real.status == 200, real.body
    assert real.json() == public


def test_an_event_that_triggers_none_of_it_shows_the_warning(watched: Watched, shop: Shop) -> None:
    _, panel = _panel(watched, shop)
    panel.get_by_label("Event table").select_option(f"{DATABASE}.purchases")
    event = {"td_client_id": "visitor-warned", "amount": 5}
    editor = panel.get_by_label("Sample event (JSON)")
    editor.fill(json.dumps(event, separators=(",", ":")))
    panel.get_by_role("button", name="Prettify JSON").click()
    expect(editor).to_have_value(json.dumps(event, indent=2))
    panel.get_by_role("button", name="Preview", exact=True).click()
    asked = shop.preview({"database": DATABASE, "table": "purchases", "event": event})
    [warning] = asked.json()["warnings"]
    assert "matches none of the trigger events (page_view)" in warning
    expect(panel.get_by_role("region", name="Warnings").get_by_role("listitem")).to_have_text(
        [warning]
    )
    for section in SECTIONS:
        _expect_outcomes(panel, section, "Left out", "Left out")
    assert _answer(panel, "Public answer") == {"offers": {}}


def test_bad_json_is_stopped_in_the_browser_and_the_servers_refusal_shown_as_written(
    watched: Watched, shop: Shop
) -> None:
    load_axe(watched.page)
    page, panel = _panel(watched, shop)
    previews: list[str] = []

    def on_request(sent: Request) -> None:
        if sent.url.endswith(":preview"):
            previews.append(sent.url)

    page.on("request", on_request)
    editor = panel.get_by_label("Sample event (JSON)")
    error = panel.locator("#preview-event-error")
    _run(panel, '{\n  "td_client_id": "visitor-2",\n  "td_path": \n}')
    expect(error).to_have_text('Line 4, column 1: unexpected "}" where a value was expected')
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(panel.get_by_role("button", name="Prettify JSON")).to_be_disabled()
    assert serious_violations(page) == []
    _run(panel, "[1, 2]")
    expect(error).to_have_text("The event must be a JSON object, not an array")
    # A key twice: JSON.parse would keep the last, the real event path refuses the body.
    twice = '{\n  "td_client_id": "a",\n  "td_path": "/x",\n  "td_client_id": "b"\n}'
    _run(panel, twice)
    expect(error).to_have_text('Line 4, column 3: Key "td_client_id" appears twice')
    expect(editor).to_have_value(twice)
    body = f'{{"database": "{DATABASE}", "table": "page_views", "event": {twice}}}'
    path = f"/v1/parent_segments/{shop.segment}/personalizations/{shop.personalization}"
    refused_twice = shop.console.account.call("POST", f"{path}:preview", body)
    assert refused_twice.status == 400, refused_twice.body
    assert "appears twice" in refused_twice.json()["message"]
    assert previews == []

    # Valid JSON the server refuses: its own words.
    event = {"td_path": "/no-identifier"}
    refused = shop.preview({"database": DATABASE, "table": "page_views", "event": event})
    assert refused.status == 400, refused.body
    _run(panel, event)
    expect(error).to_have_count(0)
    expect(panel.get_by_role("alert")).to_have_text(refused.json()["message"])
    assert len(previews) == 1
    expect(panel.get_by_role("region", name="Public answer")).to_have_count(0)


def test_a_real_profile_by_key_and_value_shows_its_stored_values(
    watched: Watched, shop: Shop
) -> None:
    load_axe(watched.page)
    page, panel = _panel(watched, shop)
    visitor = "buyer-1"
    panel.get_by_label("A real profile, by key and value").check()
    expect(panel.get_by_label("Stitching key")).to_have_value("td_client_id")
    # No value: said by the field, nothing sent.
    _run(panel, {"td_path": "/cart"})
    expect(panel.locator("#preview-value-error")).to_have_text(
        "Enter the value of the key whose profile to preview"
    )
    expect(panel.get_by_role("region", name="Public answer")).to_have_count(0)
    panel.get_by_label("Key value").fill(visitor)
    # No profile has the value yet: previewed as a new visitor, who spent nothing.
    _run(panel, {"td_path": "/cart"})
    _expect_outcomes(panel, "Big spender", "Left out", "Left out")
    assert shop.profile(visitor)[0] == 404

    for amount in (60, 50):
        sent = shop.public("purchases", {"td_client_id": visitor, "amount": amount})
        assert sent.status == 200, sent.body
    stored = shop.profile(visitor)
    assert stored[0] == 200
    # The sample event's other identifier (the member's, who has a sensitive tier) is left
    # out: the preview reads the chosen profile alone, not the member's merged into it.
    linked = shop.public("page_views", {"td_client_id": MEMBER, "user_id": "u-member"})
    assert linked.status == 200, linked.body
    _run(panel, {"user_id": "u-member", "td_path": "/cart"})
    _expect_outcomes(panel, "Big spender", "Shown", "Shown")
    assert _answer(panel, "Event sent") == {"td_path": "/cart", "td_client_id": visitor}
    public, private = _answer(panel, "Public answer"), _answer(panel, "Private answer")
    assert public["offers"]["Big spender"] == {"attributes": {"spent": 110}}
    assert public["offers"]["Welcome Banner"]["attributes"]["path"] == "/cart"
    assert TIER not in json.dumps(private)
    assert serious_violations(page) == []
    # Previewing stored nothing: the profile is as the two purchases left it.
    assert shop.profile(visitor) == stored


def test_a_viewer_may_preview(watched: Watched, shop: Shop) -> None:
    email = add_user(shop.console, "VIEWER")
    page, panel = _panel(watched, shop, email=email)
    # By keyboard alone: from the editor, past Prettify, to Preview.
    editor = panel.get_by_label("Sample event (JSON)")
    editor.fill(json.dumps({"td_client_id": MEMBER, "td_path": "/viewer"}))
    editor.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Preview", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    _expect_outcomes(panel, "Loyalty Discount", "Redacted ({})", "Shown")
    private = _answer(panel, "Private answer")
    assert private["offers"]["Loyalty Discount"]["attributes"]["membership_tier"] == TIER
    # A preview is all it offers: nothing to create, edit or delete.
    names = panel.get_by_role("button").all_inner_texts()
    assert sorted(names) == ["Prettify JSON", "Preview"]


def test_a_sensitive_section_whose_criteria_do_not_match_is_redacted_publicly_and_left_out_privately(
    watched: Watched, shop: Shop
) -> None:
    _, panel = _panel(watched, shop)
    event = {"td_client_id": MEMBER, "td_path": "/gold"}
    _run(panel, event)
    # The server flags the section redacted for public though its criteria did not match.
    asked = shop.preview({"database": DATABASE, "table": "page_views", "event": event}).json()
    [gold] = [section for section in asked["sections"] if section["name"] == "Gold members"]
    assert gold["redacted_for_public"] is True
    assert asked["public_response"]["offers"]["Gold members"] == {}
    assert "Gold members" not in asked["private_response"]["offers"]
    why = _expect_outcomes(panel, "Gold members", "Redacted ({})", "Left out")
    expect(why).to_have_text(
        "It references sensitive membership_tier: the public path answers it as {} whether or"
        " not its criteria match; the private path leaves it out, as its criteria did not match"
    )
    assert _answer(panel, "Public answer")["offers"]["Gold members"] == {}
    assert "Gold members" not in _answer(panel, "Private answer")["offers"]


def test_a_save_or_a_slow_reply_leaves_no_old_result(watched: Watched, shop: Shop) -> None:
    account = shop.console.account
    base = f"/v1/parent_segments/{shop.segment}/personalizations"
    made = account.ok(
        "POST",
        base,
        {
            "name": f"Saved twice {next(_names)}",
            "trigger_events": ["page_view"],
            "sections": [
                {"name": f"Hello {next(_names)}", "payload": [{"name": "m", "static": "hi"}]}
            ],
        },
    )
    page = signed_in_page(
        watched, shop.console, f"parent-segments/{shop.segment}/personalizations/{made['id']}"
    )
    panel = page.get_by_role("region", name="Preview")
    expect(panel.get_by_label("Event table")).to_have_value(f"{DATABASE}.page_views")
    results = panel.get_by_role("region", name="Public answer")
    preview = panel.get_by_role("button", name="Preview", exact=True)
    saved = page.get_by_role("status").filter(has_text="Saved.")

    def save(description: str) -> None:
        page.get_by_label("Description").fill(description)
        page.get_by_role("button", name="Save", exact=True).click()
        expect(saved).to_have_text("Saved.")
        assert account.ok("GET", f"{base}/{made['id']}")["description"] == description

    _run(panel, {"td_client_id": "visitor-saved"})
    expect(results).to_have_count(1)
    save("First change")
    # The result was about the personalization as it was before the save.
    expect(results).to_have_count(0)
    expect(panel.get_by_role("table", name="Sections")).to_have_count(0)

    # A reply that arrives after a save is about the version before it: dropped.
    held: list[Route] = []

    def is_preview(url: str) -> bool:
        return url.endswith(":preview")

    def hold(route: Route) -> None:
        held.append(route)

    page.route(is_preview, hold)
    _run(panel, {"td_client_id": "visitor-slow"})
    expect(panel.get_by_role("button", name="Previewing…")).to_be_visible()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    save("Second change")
    with page.expect_response(lambda response: response.url.endswith(":preview")):
        held[0].continue_()
    page.unroute(is_preview)
    # Time for the reply to be read had it been kept.
    page.wait_for_timeout(500)
    expect(results).to_have_count(0)
    expect(preview).to_be_enabled()


def test_one_status_region_says_loading_then_previewing(watched: Watched, shop: Shop) -> None:
    page = watched.page
    events_path = f"/v1/parent_segments/{shop.segment}/events"
    passed: list[str] = []
    held: list[Route] = []

    def is_events(url: str) -> bool:
        return events_path in url

    def hold_the_panels(route: Route) -> None:
        # The builder reads the event definitions first; the panel, mounted below it, next.
        if passed:
            held.append(route)
        else:
            passed.append(route.request.url)
            route.continue_()

    page.route(is_events, hold_the_panels)
    page.goto(f"{shop.console.url}{shop.route}")
    sign_in(page, shop.console.account.email)
    panel = page.get_by_role("region", name="Preview")
    status = panel.get_by_role("status")
    expect(status).to_have_text("Loading…")
    # Marked now: the region that reads out the preview later must be this same element.
    status.evaluate("element => { element.dataset.seen = 'loading'; }")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    page.unroute(is_events)
    expect(panel.get_by_label("Event table")).to_have_value(f"{DATABASE}.page_views")
    expect(status).to_have_text("")
    _run(panel, {"td_client_id": "visitor-status"})
    expect(status).to_have_text(f"Previewed: {len(SECTIONS)} sections")
    expect(status).to_have_attribute("data-seen", "loading")
