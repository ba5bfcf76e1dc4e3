"""The console's Profiles page in real Chromium against the whole suite: events sent through
the gateway's ingest path stitch identifiers into one profile and merge profiles; the page
looks the profile up by any of its values (the lookup kept in the URL), shows its identities,
attributes and segments with the server's sensitivity, and the merge log with its linking
values, a merge refused by merge protection and its reason, paged with "Load more". The
server's message for an unknown value or key; a VIEWER may look up. Every test also fails on
a CSP violation (conftest)."""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import quote

from browser.console_support import (
    Console,
    Watched,
    add_user,
    load_axe,
    screenshot,
    serious_violations,
    signed_in_page,
)
from playwright.sync_api import Locator, Page, Request, Route, expect
from support.http import request

_names = itertools.count(1)
# A value with characters that URLs and paths treat specially (not "/": the gateway refuses
# an encoded slash in any path, so no value with one can be looked up).
USER = "u 9+x"
MERGE_PROTECTION = "merge would put 51 profiles into one (limit 50)"


class Shop:
    """A parent segment with the `user_id` stitching key and one event table of its own (an
    account's event table feeds every parent segment defining it: one each keeps tests apart)."""

    def __init__(self, console: Console) -> None:
        n = next(_names)
        self.console = console
        self.id = console.account.parent_segment(f"Profiles {n}")
        self.base = f"/v1/parent_segments/{self.id}"
        self.table = f"/records/profiles_{n}/page_views"
        self.create("stitching_keys", {"name": "user_id"})
        self.create(
            "events", {"name": "page_view", "database": f"profiles_{n}", "table": "page_views"}
        )

    def create(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self.console.account.ok("POST", f"{self.base}/{collection}", body)
        return made

    def ingest(self, records: list[dict[str, Any]]) -> None:
        """Events through the gateway's ingest path (the data listener, an API key)."""
        reply = request(
            "POST",
            self.console.suite.data_port,
            self.table,
            headers={"authorization": f"TD1 {self.console.account.api_key}"},
            body={"records": records},
            timeout=60,
        )
        assert (reply.status, reply.json()) == (200, {"received": len(records)}), reply.body

    def profile(self, key: str, value: str) -> dict[str, Any]:
        found: dict[str, Any] = self.console.account.ok(
            "GET", f"{self.base}/profiles/{key}/{value}"
        )
        return found

    def merge_log(self) -> list[dict[str, Any]]:
        page = self.console.account.ok("GET", f"{self.base}/merge_log?page_size=1000")
        entries: list[dict[str, Any]] = page["entries"]
        return entries

    def refusal(self, key: str, value: str) -> tuple[int, str]:
        reply = self.console.account.call("GET", f"{self.base}/profiles/{key}/{value}")
        return reply.status, str(reply.json()["message"])


def _profiles_page(watched: Watched, console: Console, shop: Shop, query: str = "") -> Page:
    page = signed_in_page(watched, console, f"parent-segments/{shop.id}/profiles{query}")
    expect(page.get_by_role("heading", name="Profiles", exact=True)).to_be_visible()
    return page


def _look_up(page: Page, key: str, value: str) -> None:
    page.get_by_label("Stitching key").select_option(key)
    page.get_by_label("Value", exact=True).fill(value)
    page.get_by_role("button", name="Look up").click()


def _rows(page: Page, table: str) -> Locator:
    return page.get_by_role("table", name=table).locator("tbody tr")


def _shows_profile(page: Page, canonical_id: str) -> None:
    expect(page.get_by_role("heading", name=f"Profile {canonical_id}")).to_be_visible()


def views_of(profile: dict[str, Any]) -> int:
    [views] = [a["value"] for a in profile["attributes"] if a["name"] == "views"]
    return int(views)


def _with_attributes(shop: Shop) -> None:
    """One attribute of each kind, with every sensitivity; a sensitive batch segment."""
    event = {"event": "page_view"}
    shop.create(
        "attributes",
        {**event, "name": "last_page", "type": "SINGLE", "field": "td_path"}
        | {"sensitivity": "NON_SENSITIVE"},
    )
    shop.create(
        "attributes",
        {**event, "name": "email", "type": "SINGLE", "field": "email", "sensitivity": "SENSITIVE"},
    )
    aggregations = [
        {"name": "product", "field": "product", "sensitivity": "NON_SENSITIVE"},
        {"name": "email", "field": "email", "sensitivity": "SENSITIVE"},
    ]
    shop.create(
        "attributes",
        {**event, "name": "recent", "type": "LIST"}
        | {"list": {"max_items": 10, "expire_days": 30, "aggregations": aggregations}},
    )
    shop.create(
        "attributes",
        {**event, "name": "views", "type": "COUNTER", "counter": {"window": "total"}},
    )


def test_two_identifiers_stitched_and_two_profiles_merged_are_one_profile_found_by_either(
    watched: Watched, console: Console
) -> None:
    shop = Shop(console)
    _with_attributes(shop)
    shop.ingest(
        [
            {"td_client_id": "c1", "td_path": "/home", "product": "p1"},
            {"td_client_id": "c2", "td_path": "/shoes", "product": "p2"},
            # Stitched: u1 joins c2's profile (no merge, one profile owns the values).
            {"td_client_id": "c2", "user_id": "u1", "email": "ann@example.com"},
            # Merged: u1's profile and c1's profile; c1, the older primary key, survives.
            {"td_client_id": "c1", "user_id": "u1", "td_path": "/cart", "product": "p3"},
        ]
    )
    vip = shop.create("segments", {"name": "vip", "sensitivity": "SENSITIVE"})["id"]
    console.account.ok(
        "POST", f"{shop.base}/segments/{vip}:import_members", {"key": "user_id", "values": ["u1"]}
    )
    profile = shop.profile("user_id", "u1")
    assert profile["canonical_id"] == "c1"
    assert shop.profile("td_client_id", "c2")["canonical_id"] == "c1"
    summaries = {a["name"]: a["sensitivity_summary"] for a in profile["attributes"]}
    assert summaries == {
        "last_page": "Non-Sensitive",
        "email": "Sensitive",
        "recent": "1/2 Sensitive",
        "views": "Non-Sensitive",
    }
    [merge] = shop.merge_log()
    assert (merge["outcome"], merge["surviving_profile"], merge["absorbed_profiles"]) == (
        "MERGED",
        "c1",
        ["c2"],
    )

    load_axe(watched.page)
    page = _profiles_page(watched, console, shop)
    _look_up(page, "user_id", "u1")
    expect(page).to_have_url(
        f"{console.url}parent-segments/{shop.id}/profiles?key=user_id&value=u1"
    )
    _shows_profile(page, "c1")
    identities = _rows(page, "Identities")
    expect(identities).to_have_count(len(profile["identities"]))
    for identity in profile["identities"]:
        expect(identities.filter(has_text=identity["value"])).to_contain_text(identity["key"])

    attributes = _rows(page, "Attributes")
    expect(attributes).to_have_count(4)
    for name, summary in summaries.items():
        row = attributes.filter(has=page.get_by_role("cell", name=name, exact=True))
        badge = row.locator(".badge")
        expect(badge).to_have_text(summary)
        shown = summary == "Non-Sensitive" or summary.startswith("0/")
        expect(badge).to_have_class("badge badge-shown" if shown else "badge badge-sensitive")
    values = {a["name"]: a["value"] for a in profile["attributes"]}
    last_page = attributes.filter(has=page.get_by_role("cell", name="last_page", exact=True))
    expect(last_page).to_contain_text(str(values["last_page"]))
    views = attributes.filter(has=page.get_by_role("cell", name="views", exact=True))
    expect(views).to_contain_text(str(values["views"]))
    # A list's value is {aggregation: [newest first]}, shown as the server gave it.
    recent = attributes.filter(has=page.get_by_role("cell", name="recent", exact=True))
    for aggregation, items in values["recent"].items():
        expect(recent).to_contain_text(aggregation)
        for item in items:
            expect(recent).to_contain_text(str(item))

    segment = _rows(page, "Segments")
    expect(segment).to_have_count(1)
    expect(segment).to_contain_text("vip")
    expect(segment.locator(".badge")).to_have_text("Sensitive")

    # The merge log: the merge with the event values that linked the two profiles.
    log = _rows(page, "Merge log")
    expect(log).to_have_count(1)
    cells = log.first.get_by_role("cell")
    expect(cells.nth(1)).to_have_text("Merged")
    expect(cells.nth(2)).to_have_text("c1")
    expect(cells.nth(3)).to_have_text("c2")
    expect(cells.nth(4)).to_contain_text("td_client_id = c1")
    expect(cells.nth(4)).to_contain_text("user_id = u1")

    assert serious_violations(page) == []
    screenshot(page, "profiles")

    # The lookup is in the URL: a reload shows the same profile, the form as it was.
    page.reload()
    _shows_profile(page, "c1")
    expect(page.get_by_label("Stitching key")).to_have_value("user_id")
    expect(page.get_by_label("Value", exact=True)).to_have_value("u1")

    # The absorbed profile's own identifier finds the same profile.
    _look_up(page, "td_client_id", "c2")
    expect(page).to_have_url(
        f"{console.url}parent-segments/{shop.id}/profiles?key=td_client_id&value=c2"
    )
    _shows_profile(page, "c1")
    expect(_rows(page, "Identities")).to_have_count(len(profile["identities"]))
    page.go_back()
    expect(page.get_by_label("Stitching key")).to_have_value("user_id")
    expect(page.get_by_label("Value", exact=True)).to_have_value("u1")
    # Going back read the profile as stored before the event below: seen before it is sent,
    # so the count after it can only come from looking up again.
    views_value = views.get_by_role("cell").nth(1)
    expect(views_value).to_have_text(str(views_of(profile)))

    # Looking the shown profile up again reads it afresh: a new event counts.
    shop.ingest([{"td_client_id": "c2", "td_path": "/checkout"}])
    assert views_of(shop.profile("user_id", "u1")) == views_of(profile) + 1
    page.get_by_role("button", name="Look up").click()
    expect(views_value).to_have_text(str(views_of(profile) + 1))
    expect(last_page).to_contain_text("/checkout")


def test_a_merge_refused_by_merge_protection_is_in_the_log_with_its_reason(
    watched: Watched, console: Console
) -> None:
    shop = Shop(console)
    # An older, unrelated merge: the 51st entry, on the log's second page.
    shop.ingest(
        [
            {"td_client_id": "x1"},
            {"td_client_id": "x2", "user_id": "v1"},
            {"td_client_id": "x1", "user_id": "v1"},
        ]
    )
    # 51 profiles; 50 of them become one (49 merges); the 51st would make 51: refused.
    shop.ingest([{"td_client_id": f"d{n:02}"} for n in range(51)])
    shop.ingest([{"td_client_id": f"d{n:02}", "user_id": "u1"} for n in range(50)])
    shop.ingest([{"td_client_id": "d50", "user_id": "u1"}])
    log = shop.merge_log()
    assert len(log) == 51
    refused = log[0]
    assert (refused["outcome"], refused["reason"]) == ("REFUSED", MERGE_PROTECTION)
    assert (refused["surviving_profile"], refused["absorbed_profiles"]) == ("d50", ["d00"])

    # Opened from a link naming the lookup.
    page = _profiles_page(watched, console, shop, "?key=user_id&value=u1")
    _shows_profile(page, "d00")
    only = page.get_by_label("Only this profile")
    expect(only).to_be_checked()
    rows = _rows(page, "Merge log")
    # The first page (50 entries) is all about u1's profile: the refusal and 49 merges.
    expect(rows).to_have_count(50)
    cells = rows.first.get_by_role("cell")
    expect(cells.nth(1)).to_have_text("Refused")
    expect(cells.nth(2)).to_have_text("d50")
    expect(cells.nth(3)).to_have_text("d00")
    expect(cells.nth(4)).to_contain_text("td_client_id = d50")
    expect(cells.nth(4)).to_contain_text("user_id = u1")
    expect(cells.nth(5)).to_have_text(MERGE_PROTECTION)
    merged = rows.filter(has=page.get_by_role("cell", name="Merged", exact=True))
    expect(merged).to_have_count(49)

    # The rest of the log: the older merge, of other profiles, hidden while filtering.
    page.get_by_role("button", name="Load more").click()
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    expect(rows).to_have_count(50)
    only.uncheck()
    expect(rows).to_have_count(51)
    expect(rows.last.get_by_role("cell").nth(2)).to_have_text("x1")
    expect(rows.last.get_by_role("cell").nth(3)).to_have_text("x2")

    # The refused event went to its own profile.
    _look_up(page, "td_client_id", "d50")
    _shows_profile(page, "d50")
    expect(_rows(page, "Identities")).to_have_count(1)
    # The reader's choice stays: the whole log, read afresh from its first page, until asked
    # for this profile's part.
    expect(only).not_to_be_checked()
    expect(rows).to_have_count(50)
    expect(page.get_by_role("button", name="Load more")).to_be_visible()
    only.check()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("cell").nth(1)).to_have_text("Refused")

    # A "Load more" whose reply comes after a new lookup read the log's first page afresh:
    # dropped, not appended to that first page.
    only.uncheck()
    held: list[Route] = []

    def is_second_page(url: str) -> bool:
        return "/merge_log?" in url and "page_token=" in url

    def hold(route: Route) -> None:
        held.append(route)

    page.route(is_second_page, hold)
    page.get_by_role("button", name="Load more").click()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    _look_up(page, "user_id", "u1")
    _shows_profile(page, "d00")
    expect(rows).to_have_count(50)
    more = page.get_by_role("button", name="Load more")
    expect(more).to_be_enabled()
    with page.expect_response(lambda response: is_second_page(response.url)):
        held[0].continue_()
    page.unroute(is_second_page)
    # Time for the late reply to be read had it been kept.
    page.wait_for_timeout(500)
    expect(rows).to_have_count(50)
    expect(more).to_be_enabled()
    # Asked for now, the second page is added once.
    more.click()
    expect(more).to_have_count(0)
    expect(rows).to_have_count(51)


def test_an_unknown_value_or_key_shows_the_servers_message(
    watched: Watched, console: Console
) -> None:
    shop = Shop(console)
    status, unknown_value = shop.refusal("td_client_id", "nobody")
    assert status == 404
    status, unknown_key = shop.refusal("email", "ann@example.com")
    assert status == 400

    page = _profiles_page(watched, console, shop)
    expect(page.get_by_label("Stitching key")).to_have_value("td_client_id")
    # A blank value is not sent.
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#profile-value-error")).to_have_text("Value can't be blank")
    expect(page).to_have_url(f"{console.url}parent-segments/{shop.id}/profiles")

    _look_up(page, "td_client_id", "nobody")
    expect(page.get_by_role("alert")).to_have_text(unknown_value)
    expect(page.get_by_role("heading", name=re.compile(r"^Profile "))).to_have_count(0)

    # A key that is no stitching key (a stale link): the server's INVALID_ARGUMENT message.
    page.goto(f"{console.url}parent-segments/{shop.id}/profiles?key=email&value=ann@example.com")
    expect(page.get_by_role("alert")).to_have_text(unknown_key)


def test_a_viewer_looks_up_a_profile_and_reads_the_log(watched: Watched, console: Console) -> None:
    shop = Shop(console)
    shop.ingest([{"td_client_id": "c1"}, {"td_client_id": "c2"}, {"td_client_id": "c1"}])
    shop.ingest([{"td_client_id": "c2", "user_id": USER}, {"td_client_id": "c1", "user_id": USER}])
    assert shop.profile("user_id", quote(USER, safe=""))["canonical_id"] == "c1"
    email = add_user(console, "VIEWER")
    page = signed_in_page(watched, console, f"parent-segments/{shop.id}/profiles", email=email)
    _look_up(page, "user_id", USER)
    _shows_profile(page, "c1")
    expect(_rows(page, "Merge log")).to_have_count(1)
    # Escaped in the URL and in the API path alike: a reload finds it again.
    expect(page).to_have_url(re.compile(r"\?key=user_id&value=u\+9%2Bx$"))
    page.reload()
    _shows_profile(page, "c1")
    # Nothing to change here: the only buttons are the lookup and signing out.
    expect(page.get_by_role("button")).to_have_text(["Sign out", "Look up"])


def test_a_key_or_value_that_would_change_the_path_is_refused_before_sending(
    watched: Watched, console: Console
) -> None:
    shop = Shop(console)
    load_axe(watched.page)
    page = _profiles_page(watched, console, shop)
    lookups: list[str] = []

    def on_request(sent: Request) -> None:
        # A lookup, or where `profiles/..` would have led: the merge log without its page size.
        if "/v1/" in sent.url and ("/profiles/" in sent.url or sent.url.endswith("/merge_log")):
            lookups.append(sent.url)

    page.on("request", on_request)
    error = page.locator("#profile-value-error")
    for value, message in [
        ("..", 'The value can\'t be ".."'),
        (".", 'The value can\'t be "."'),
        ("a/b", 'The value can\'t contain "/"'),
    ]:
        _look_up(page, "td_client_id", value)
        expect(error).to_have_text(message)
        expect(page.get_by_label("Value", exact=True)).to_be_focused()
        expect(page).to_have_url(f"{console.url}parent-segments/{shop.id}/profiles")
    assert serious_violations(page) == []
    # A crafted link: `profiles/../merge_log` would be read as the merge log's reply.
    page.goto(f"{console.url}parent-segments/{shop.id}/profiles?key=..&value=merge_log")
    expect(page.get_by_role("alert")).to_have_text('The stitching key can\'t be ".."')
    expect(page.get_by_role("heading", name=re.compile(r"^Profile "))).to_have_count(0)
    page.goto(f"{console.url}parent-segments/{shop.id}/profiles?key=td_client_id&value=..")
    expect(page.get_by_role("alert")).to_have_text('The value can\'t be ".."')
    # The form's key from such a link is refused by its field too.
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#profile-value-error")).to_have_text('The value can\'t be ".."')
    assert lookups == []


def test_one_status_region_says_looking_up_and_busy_ends_with_the_lookup(
    watched: Watched, console: Console
) -> None:
    shop = Shop(console)
    shop.ingest([{"td_client_id": "c1"}])
    page = _profiles_page(watched, console, shop)
    lookup_status = page.get_by_role("status").first
    expect(lookup_status).to_have_text("")
    # Marked before the lookup: the region that says "Looking up…" must be this element.
    lookup_status.evaluate("element => { element.dataset.seen = 'before'; }")
    held: list[Route] = []

    def is_lookup(url: str) -> bool:
        return "/profiles/td_client_id/" in url

    def hold(route: Route) -> None:
        held.append(route)

    page.route(is_lookup, hold)
    _look_up(page, "td_client_id", "c1")
    expect(lookup_status).to_have_text("Looking up…")
    expect(lookup_status).to_have_attribute("data-seen", "before")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    # Back to no lookup while it is under way: not busy any more, and its late answer dropped.
    page.go_back()
    expect(page).to_have_url(f"{console.url}parent-segments/{shop.id}/profiles")
    expect(page.get_by_role("button", name="Look up")).to_be_enabled()
    expect(lookup_status).to_have_text("")
    with page.expect_response(lambda response: is_lookup(response.url)):
        held[0].continue_()
    page.unroute(is_lookup)
    page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name=re.compile(r"^Profile "))).to_have_count(0)
    _look_up(page, "td_client_id", "c1")
    _shows_profile(page, "c1")
    expect(lookup_status).to_have_text("")
