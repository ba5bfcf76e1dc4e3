"""The console's Personalizations pages (the client-side guide's Step 5) in real Chromium
against the whole suite: a personalization built with a criteria tree and every kind of
payload field, saved and read back through the API; the lock on sections browsers get as
`{}`, live as fields change and in agreement with the server's preview; the operators
offered per subject; a server refusal shown as written; a VIEWER reading, not editing.
Every test also fails on a CSP violation or a page error (conftest)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

from browser.console_support import (
    Console,
    Watched,
    add_user,
    load_axe,
    screenshot,
    serious_violations,
    signed_in_page,
)
from playwright.sync_api import Locator, Page, Route, expect

_names = itertools.count(1)
LOCK = "Redacted for browsers"
VALUE_OPS = [
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "contains",
    "exists",
    "not_exists",
    "starts_with",
    "regex",
]


def _attribute(console: Console, segment: str, body: dict[str, Any]) -> None:
    console.account.ok("POST", f"/v1/parent_segments/{segment}/attributes", body)


def _segment(console: Console) -> str:
    """A parent segment with an event, attributes of every type and two batch segments:
    `last_path` (NON_SENSITIVE), `tier` (SENSITIVE), `views` (COUNTER), `recent` (a LIST:
    `product` NON_SENSITIVE, `email` SENSITIVE), `vip` (NON_SENSITIVE), `risky` (SENSITIVE).
    """
    account = console.account
    segment = account.parent_segment(f"Personalizations {next(_names)}")
    account.event(segment, "page_view", "web_db", "page_views")
    account.event(segment, "purchase", "web_db", "purchases")
    single = {"type": "SINGLE", "event": "page_view"}
    _attribute(
        console,
        segment,
        {**single, "name": "last_path", "field": "td_path", "sensitivity": "NON_SENSITIVE"},
    )
    _attribute(
        console, segment, {**single, "name": "tier", "field": "tier", "sensitivity": "SENSITIVE"}
    )
    _attribute(
        console,
        segment,
        {"name": "views", "type": "COUNTER", "event": "page_view", "counter": {"window": "total"}},
    )
    aggregations = [
        {"name": "product", "field": "product", "sensitivity": "NON_SENSITIVE"},
        {"name": "email", "field": "email", "sensitivity": "SENSITIVE"},
    ]
    _attribute(
        console,
        segment,
        {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {"max_items": 10, "expire_days": 30, "aggregations": aggregations},
        },
    )
    for name, sensitivity in (("vip", "NON_SENSITIVE"), ("risky", "SENSITIVE")):
        account.ok(
            "POST",
            f"/v1/parent_segments/{segment}/segments",
            {"name": name, "sensitivity": sensitivity},
        )
    return segment


def _personalizations_path(segment: str) -> str:
    return f"/v1/parent_segments/{segment}/personalizations"


def _personalizations(console: Console, segment: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = console.account.ok(
        "GET", f"{_personalizations_path(segment)}?page_size=1000"
    ).get("personalizations", [])
    return found


def _builder(watched: Watched, console: Console, segment: str, item: str = "new") -> Page:
    page = signed_in_page(watched, console, f"parent-segments/{segment}/personalizations/{item}")
    expect(page.get_by_label("Name", exact=True)).to_be_visible()
    return page


def _section(page: Page, number: int) -> Locator:
    # The lock, when shown, is part of the section's name: not an exact match.
    return page.get_by_role("group", name=f"Section {number}")


def _add_section(page: Page, name: str) -> Locator:
    page.get_by_role("button", name="Add section").click()
    count = page.locator("fieldset.section-editor").count()
    section = _section(page, count)
    section.get_by_label(f"Section {count} name", exact=True).fill(name)
    return section


def _test(section: Locator, path: str, subject: str, op: str, value: str | None) -> None:
    """Fill the test at `path` (a leaf of the criteria tree)."""
    section.get_by_label(f"Condition {path} Subject", exact=True).select_option(label=subject)
    section.get_by_label(f"Condition {path} Operator", exact=True).select_option(op)
    if value is not None:
        section.get_by_label(f"Condition {path} Value", exact=True).fill(value)


def _field(section: Locator, number: int, alias: str, source: str, value: str) -> None:
    section.get_by_role("button", name="Add field to", exact=False).click()
    section.get_by_label(f"Field {number} Alias", exact=True).fill(alias)
    section.get_by_label(f"Field {number} Source", exact=True).select_option(label=source)
    chosen = section.get_by_label(f"Field {number} {source}", exact=True)
    if source == "Static value":
        chosen.fill(value)
    else:
        chosen.select_option(label=value)


def _as_built(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sections as they were sent: the API writes a payload field's unset references as ""."""
    return [
        {
            **section,
            "payload": [
                {key: value for key, value in field.items() if value != ""}
                for field in section.get("payload", [])
            ],
        }
        for section in sections
    ]


def _ops(section: Locator, path: str) -> list[str]:
    operator = section.get_by_label(f"Condition {path} Operator", exact=True)
    options: list[str] = operator.locator("option").all_inner_texts()
    return options


WELCOME_CRITERIA: dict[str, Any] = {
    "all": [
        {"attribute": "last_path", "op": "starts_with", "value": "/shop"},
        {
            "any": [
                {"attribute": "views", "op": "gte", "value": 3},
                {"segment": "vip", "op": "eq", "value": True},
            ]
        },
        {
            "not": {
                "attribute": "recent",
                "aggregation": "product",
                "op": "contains",
                "value": "shoe",
            }
        },
    ]
}
WELCOME_PAYLOAD: list[dict[str, Any]] = [
    {"name": "greeting", "static": "Hello"},
    {"name": "path", "attribute": "last_path"},
    {"name": "products", "attribute": "recent", "aggregation": "product"},
    {"name": "is_vip", "segment": "vip"},
]
SALE_CRITERIA: dict[str, Any] = {"event": "td_path", "op": "regex", "value": "/sale/.*"}
SALE_PAYLOAD: list[dict[str, Any]] = [
    {"name": "seen", "attribute": "views"},
    {"name": "badge", "static": {"colors": ["red", "gold"], "size": 2}},
    {"name": "tier", "attribute": "tier"},
]


def test_a_personalization_built_in_the_console_reads_back_as_built(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = watched.page
    load_axe(page)
    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Welcome shop")
    page.get_by_label("Description", exact=True).fill("Greets shoppers")
    page.get_by_label("page_view", exact=True).check()

    welcome = _add_section(page, "Welcome")
    welcome.get_by_role("button", name="Add criteria to Section 1").click()
    _test(welcome, "1.1", "last_path (SINGLE)", "starts_with", "/shop")
    welcome.get_by_role("button", name="Add condition to Condition 1", exact=True).click()
    welcome.get_by_label("Condition 1.2 Type", exact=True).select_option(label="Any of")
    _test(welcome, "1.2.1", "views (COUNTER)", "gte", "3")
    welcome.get_by_role("button", name="Add condition to Condition 1.2", exact=True).click()
    _test(welcome, "1.2.2", "vip (segment)", "eq", None)  # a segment test starts as eq true
    welcome.get_by_role("button", name="Add condition to Condition 1", exact=True).click()
    welcome.get_by_label("Condition 1.3 Type", exact=True).select_option(label="Not")
    _test(welcome, "1.3.1", "recent/product (LIST aggregation)", "contains", "shoe")
    _field(welcome, 1, "greeting", "Static value", "Hello")
    _field(welcome, 2, "path", "Attribute", "last_path")
    _field(welcome, 3, "products", "List aggregation", "recent/product")
    _field(welcome, 4, "is_vip", "Segment", "vip")

    sale = _add_section(page, "Sale")
    sale.get_by_role("button", name="Add criteria to Section 2").click()
    sale.get_by_label("Condition 1 Type", exact=True).select_option(label="Test")
    sale.get_by_label("Condition 1 Subject", exact=True).select_option(
        label="Event field (type its name)"
    )
    sale.get_by_label("Condition 1 Event field", exact=True).fill("td_path")
    sale.get_by_label("Condition 1 Operator", exact=True).select_option("regex")
    sale.get_by_label("Condition 1 Value", exact=True).fill("/sale/.*")
    _field(sale, 1, "seen", "Attribute", "views")
    _field(sale, 2, "badge", "Static value", '{"colors": ["red", "gold"], "size": 2}')
    _field(sale, 3, "tier", "Attribute", "tier")
    # Only the section naming the sensitive `tier` is locked.
    expect(_section(page, 1).get_by_role("img", name=LOCK)).to_have_count(0)
    expect(_section(page, 2).get_by_role("img", name=LOCK)).to_have_count(1)
    assert serious_violations(page) == []

    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Welcome shop")).to_be_visible()
    [made] = _personalizations(console, segment)
    assert page.url.endswith(f"/personalizations/{made['id']}")
    read = console.account.ok("GET", f"{_personalizations_path(segment)}/{made['id']}")
    read["sections"] = _as_built(read["sections"])
    assert {k: read[k] for k in ("name", "description", "trigger_events", "sections")} == {
        "name": "Welcome shop",
        "description": "Greets shoppers",
        "trigger_events": ["page_view"],
        "sections": [
            {"name": "Welcome", "criteria": WELCOME_CRITERIA, "payload": WELCOME_PAYLOAD},
            {"name": "Sale", "criteria": SALE_CRITERIA, "payload": SALE_PAYLOAD},
        ],
    }
    # Read back into the builder as saved.
    expect(_section(page, 1).get_by_label("Condition 1.2.1 Value", exact=True)).to_have_value("3")
    badge = _section(page, 2).get_by_label("Field 2 Static value", exact=True)
    expect(badge).not_to_have_value("")
    assert json.loads(badge.input_value()) == SALE_PAYLOAD[1]["static"]
    screenshot(page, "personalizations")

    # A change is saved with the mask of what changed, and the list shows the result.
    page.get_by_label("Description", exact=True).fill("Greets shoppers and sales")
    page.get_by_label("purchase", exact=True).check()
    # Sections answer in order: Sale first now.
    page.get_by_role("button", name="Move Section 2 up").click()
    expect(_section(page, 1).get_by_label("Section 1 name", exact=True)).to_have_value("Sale")
    page.get_by_role("button", name="Save").click()
    # The builder's own status (the preview panel below has one too).
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    read = console.account.ok("GET", f"{_personalizations_path(segment)}/{made['id']}")
    assert (read["description"], read["trigger_events"]) == (
        "Greets shoppers and sales",
        ["page_view", "purchase"],
    )
    assert [section["name"] for section in read["sections"]] == ["Sale", "Welcome"]
    assert read["sections"][1]["criteria"] == WELCOME_CRITERIA
    # The lock moved with its section.
    expect(_section(page, 1).get_by_role("img", name=LOCK)).to_have_count(1)
    expect(_section(page, 2).get_by_role("img", name=LOCK)).to_have_count(0)
    page.get_by_role("link", name="All personalizations").click()
    row = page.get_by_role("row").filter(has_text="Welcome shop")
    expect(row).to_contain_text("page_view, purchase")
    expect(row.get_by_role("cell").nth(2)).to_have_text("2")
    assert serious_violations(page) == []


def test_the_lock_follows_sensitive_references_as_they_are_edited(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _builder(watched, console, segment)
    section = _add_section(page, "Tiered")
    lock = section.get_by_role("img", name=LOCK)
    expect(lock).to_have_count(0)

    # Payload: a sensitive attribute locks the section, a non-sensitive one unlocks it.
    _field(section, 1, "tier", "Attribute", "tier")
    expect(lock).to_have_count(1)
    expect(lock).to_have_attribute(
        "title",
        "Browsers get {} for this section: it references tier, which is sensitive, unspecified or unknown.",
    )
    expect(section).to_contain_text("it references tier, which is sensitive")
    # The reason is written out on the page (not only a hover title), and it is the lock's
    # description for assistive technology.
    reason = "Browsers get {} for this section: it references tier, which is sensitive, unspecified or unknown."
    written = section.get_by_text(reason, exact=True)
    expect(written).to_be_visible()
    box = written.bounding_box()
    assert box is not None
    assert box["width"] > 100, box
    expect(lock).to_have_accessible_description(reason)
    section.get_by_label("Field 1 Attribute", exact=True).select_option(label="last_path")
    expect(lock).to_have_count(0)
    # A LIST without an aggregation refers to all of them, `email` included.
    section.get_by_label("Field 1 Attribute", exact=True).select_option(label="recent")
    expect(lock).to_have_attribute(
        "title",
        "Browsers get {} for this section: it references recent/email, which is sensitive, unspecified or unknown.",
    )
    section.get_by_role("button", name="Remove Field 1").click()
    expect(lock).to_have_count(0)

    # Criteria: the same, with a sensitive attribute and a sensitive segment.
    section.get_by_role("button", name="Add criteria to Section 1").click()
    section.get_by_label("Condition 1.1 Subject", exact=True).select_option(label="tier (SINGLE)")
    expect(lock).to_have_count(1)
    section.get_by_label("Condition 1.1 Subject", exact=True).select_option(label="views (COUNTER)")
    expect(lock).to_have_count(0)
    section.get_by_label("Condition 1.1 Subject", exact=True).select_option(label="risky (segment)")
    expect(lock).to_have_attribute(
        "title",
        "Browsers get {} for this section: it references segment:risky, which is sensitive, unspecified or unknown.",
    )
    section.get_by_role("button", name="Remove Condition 1", exact=True).click()
    expect(lock).to_have_count(0)
    # Nothing was saved: the lock is the browser's own reckoning.
    assert _personalizations(console, segment) == []


def test_the_lock_agrees_with_the_servers_preview(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    sections: list[dict[str, Any]] = [
        {"name": "By tier", "payload": [{"name": "t", "attribute": "tier"}]},
        {"name": "By path", "payload": [{"name": "p", "attribute": "last_path"}]},
        {"name": "Whole list", "payload": [{"name": "r", "attribute": "recent"}]},
        {
            "name": "Products",
            "payload": [{"name": "r", "attribute": "recent", "aggregation": "product"}],
        },
        {
            "name": "Counted",
            "criteria": {"attribute": "views", "op": "gt", "value": 1},
            "payload": [{"name": "v", "attribute": "views"}],
        },
        {
            "name": "Risky",
            "criteria": {"not": {"segment": "risky"}},
            "payload": [{"name": "hi", "static": "hi"}],
        },
        {
            "name": "Both",
            "criteria": {"any": [{"segment": "risky"}, {"segment": "vip"}]},
            "payload": [{"name": "t", "attribute": "tier"}],
        },
    ]
    created = console.account.ok(
        "POST",
        _personalizations_path(segment),
        {"name": "Mixed", "trigger_events": ["page_view"], "sections": sections},
    )
    preview = console.account.ok(
        "POST",
        f"{_personalizations_path(segment)}/{created['id']}:preview",
        {"database": "web_db", "table": "page_views", "event": {"td_client_id": "v1"}},
    )
    redacted = {
        each["name"]: each.get("redacted_for_public", False) for each in preview["sections"]
    }
    assert redacted == {
        "By tier": True,
        "By path": False,
        "Whole list": True,
        "Products": False,
        "Counted": False,
        "Risky": True,
        "Both": True,
    }
    # The server's names of what is sensitive, which the lock's reason gives too.
    named = {each["name"]: each.get("sensitive_references", []) for each in preview["sections"]}
    assert named["Both"] == ["segment:risky", "tier"]
    page = _builder(watched, console, segment, created["id"])
    for number, section in enumerate(sections, start=1):
        group = _section(page, number)
        expect(group.get_by_label(f"Section {number} name", exact=True)).to_have_value(
            section["name"]
        )
        lock = group.get_by_role("img", name=LOCK)
        if not redacted[section["name"]]:
            expect(lock).to_have_count(0)
            continue
        references = named[section["name"]]
        verb = "is" if len(references) == 1 else "are"
        expect(lock).to_have_attribute(
            "title",
            f"Browsers get {{}} for this section: it references {', '.join(references)}, "
            f"which {verb} sensitive, unspecified or unknown.",
        )


def test_each_subject_is_offered_only_its_operators(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    page = _builder(watched, console, segment)
    section = _add_section(page, "Ops")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    subject = section.get_by_label("Condition 1.1 Subject", exact=True)
    expect(section.get_by_label("Condition 1.1 Operator", exact=True)).to_have_text(
        "Choose a subject first"
    )
    expected = {
        "last_path (SINGLE)": VALUE_OPS,
        "Event field (type its name)": VALUE_OPS,
        "views (COUNTER)": ["eq", "neq", "gt", "gte", "lt", "lte", "in"],
        "recent/email (LIST aggregation)": ["in", "contains", "exists", "not_exists"],
        "vip (segment)": ["eq", "neq"],
    }
    for label, ops in expected.items():
        subject.select_option(label=label)
        expect(
            section.get_by_label("Condition 1.1 Operator", exact=True).locator("option")
        ).to_have_count(len(ops))
        assert _ops(section, "1.1") == ops, label
    # A LIST is tested one aggregation at a time: the whole list is not a subject.
    assert "recent (LIST)" not in subject.locator("option").all_inner_texts()
    # exists and not_exists take no value.
    subject.select_option(label="recent/email (LIST aggregation)")
    section.get_by_label("Condition 1.1 Operator", exact=True).select_option("exists")
    expect(section.get_by_label("Condition 1.1 Value", exact=True)).to_have_count(0)


def test_a_refusal_of_the_server_is_shown_as_written(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    body = {
        "name": "Counted",
        "description": "",
        "trigger_events": ["page_view"],
        "sections": [
            {
                "name": "Many views",
                "criteria": {"all": [{"attribute": "views", "op": "gt", "value": "many"}]},
                "payload": [],
            }
        ],
    }
    refused = console.account.call("POST", _personalizations_path(segment), body)
    assert refused.status == 400, refused.body
    message = refused.json()["message"]
    assert "sections[0].criteria.all[0].value" in message

    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Counted")
    page.get_by_label("page_view", exact=True).check()
    section = _add_section(page, "Many views")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    _test(section, "1.1", "views (COUNTER)", "gt", "many")
    page.get_by_role("button", name="Create").click()
    # Above the form, and beside the place in the tree it names: the first test of the first
    # section, tied to that test's value.
    expect(page.get_by_role("alert")).to_have_text([message, message])
    refused_test = _section(page, 1).get_by_role("group", name="Condition 1.1", exact=True)
    expect(refused_test.get_by_role("alert")).to_have_text(message)
    expect(refused_test).to_have_accessible_description(message)
    value = refused_test.get_by_label("Condition 1.1 Value", exact=True)
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_accessible_description(re.compile(re.escape(message)))
    # An edit takes the pointer away; the correction is saved.
    _test(section, "1.1", "views (COUNTER)", "gt", "5")
    expect(refused_test.locator(".field-error")).to_have_count(0)
    assert _personalizations(console, segment) == []
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Counted")).to_be_visible()
    [made] = _personalizations(console, segment)
    assert made["sections"][0]["criteria"] == {
        "all": [{"attribute": "views", "op": "gt", "value": 5}]
    }

    # A refusal about the personalization's own field is shown at that field.
    console.account.ok(
        "POST", _personalizations_path(segment), {"name": "Taken", "trigger_events": ["page_view"]}
    )
    taken = console.account.call(
        "PATCH",
        f"{_personalizations_path(segment)}/{made['id']}?update_mask=name",
        {"name": "Taken"},
    )
    assert taken.status == 400, taken.body
    page.get_by_label("Name", exact=True).fill("Taken")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#p13n-name-error")).to_have_text(taken.json()["message"])
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    names = sorted(each["name"] for each in _personalizations(console, segment))
    assert names == ["Counted", "Taken"]


def test_a_viewer_reads_the_builder_and_cannot_change_it(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    created = console.account.ok(
        "POST",
        _personalizations_path(segment),
        {
            "name": "Read only",
            "trigger_events": ["page_view"],
            "sections": [{"name": "Path", "payload": [{"name": "p", "attribute": "last_path"}]}],
        },
    )
    email = add_user(console, "VIEWER")
    page = signed_in_page(
        watched, console, f"parent-segments/{segment}/personalizations", email=email
    )
    expect(page.get_by_role("row").filter(has_text="Read only")).to_contain_text("page_view")
    expect(page.get_by_role("button", name="Create personalization")).to_have_count(0)
    page.get_by_role("link", name="Read only").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Read only")
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(_section(page, 1).get_by_label("Field 1 Attribute", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Add section")).to_be_disabled()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    assert created["id"] in page.url


def _id_of(console: Console, segment: str, collection: str, name: str) -> str:
    listed: list[dict[str, Any]] = console.account.ok(
        "GET", f"/v1/parent_segments/{segment}/{collection}?page_size=1000"
    )[collection]
    [found] = [each["id"] for each in listed if each["name"] == name]
    return str(found)


def _criteria(console: Console, segment: str, item: str) -> Any:
    read = console.account.ok("GET", f"{_personalizations_path(segment)}/{item}")
    return read["sections"][0].get("criteria")


def test_a_refused_description_is_shown_at_its_field(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    long = "x" * 1001
    refused = console.account.call(
        "POST",
        _personalizations_path(segment),
        {"name": "Long", "description": long, "trigger_events": ["page_view"]},
    )
    assert refused.status == 400, refused.body
    message = refused.json()["message"]
    page = watched.page
    load_axe(page)
    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Long")
    page.get_by_label("Description", exact=True).fill(long)
    page.get_by_label("page_view", exact=True).check()
    page.get_by_role("button", name="Create").click()
    description = page.get_by_label("Description", exact=True)
    expect(page.locator("#p13n-description-error")).to_have_text(message)
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(description).to_have_accessible_description(message)
    assert serious_violations(page) == []
    assert _personalizations(console, segment) == []


def test_changing_a_conditions_type_loses_no_condition(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    load_axe(watched.page)
    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Retyped")
    page.get_by_label("page_view", exact=True).check()
    section = _add_section(page, "Grouped")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    _test(section, "1.1", "last_path (SINGLE)", "eq", "/home")
    section.get_by_role("button", name="Add condition to Condition 1", exact=True).click()
    _test(section, "1.2", "vip (segment)", "eq", None)
    kind = section.get_by_label("Condition 1 Type", exact=True)
    # All of → Any of keeps both children, by keyboard too (an arrow key on a closed select
    # changes it in Chromium).
    kind.focus()
    page.keyboard.press("ArrowDown")
    expect(kind).to_have_value("any")
    expect(section.get_by_label("Condition 1.2 Subject", exact=True)).to_have_value("segment:vip")
    # → Not wraps the whole group.
    kind.select_option(label="Not")
    expect(section.get_by_label("Condition 1.1 Type", exact=True)).to_have_value("any")
    expect(section.get_by_label("Condition 1.1.1 Value", exact=True)).to_have_value("/home")
    # A group of two cannot become one test: refused in words, nothing dropped.
    inner = section.get_by_label("Condition 1.1 Type", exact=True)
    inner.select_option(label="Test")
    expect(inner).to_have_value("any")
    refusal = "Condition 1.1 holds 2 conditions: remove all but one before making it a Test."
    expect(section.get_by_role("alert")).to_have_text(refusal)
    expect(inner).to_have_accessible_description(refusal)
    expect(section.get_by_label("Condition 1.1.2 Subject", exact=True)).to_have_value("segment:vip")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Retyped")).to_be_visible()
    [made] = _personalizations(console, segment)
    assert _criteria(console, segment, made["id"]) == {
        "not": {
            "any": [
                {"attribute": "last_path", "op": "eq", "value": "/home"},
                {"segment": "vip", "op": "eq", "value": True},
            ]
        }
    }
    # Removing a group's last condition removes the group (never an empty {"any": []}),
    # and so up the tree.
    section = _section(page, 1)
    section.get_by_role("button", name="Remove Condition 1.1.2", exact=True).click()
    section.get_by_role("button", name="Remove Condition 1.1.1", exact=True).click()
    expect(section).to_contain_text("No criteria: the section always shows.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    assert not _criteria(console, segment, made["id"])


def test_a_list_named_with_a_slash_is_referenced_whole(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    _attribute(
        console,
        segment,
        {
            "name": "a/b",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 5,
                "expire_days": 7,
                "aggregations": [
                    {"name": "c", "field": "c", "sensitivity": "NON_SENSITIVE"},
                    {"name": "d/e", "field": "d", "sensitivity": "NON_SENSITIVE"},
                ],
            },
        },
    )
    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Slashes")
    page.get_by_label("page_view", exact=True).check()
    section = _add_section(page, "Slashed")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    _test(section, "1.1", "a/b/d/e (LIST aggregation)", "contains", "z")
    _field(section, 1, "c", "List aggregation", "a/b/c")
    expect(section.get_by_role("img", name=LOCK)).to_have_count(0)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Slashes")).to_be_visible()
    [made] = _personalizations(console, segment)
    read = console.account.ok("GET", f"{_personalizations_path(segment)}/{made['id']}")
    assert _as_built(read["sections"]) == [
        {
            "name": "Slashed",
            "criteria": {
                "all": [{"attribute": "a/b", "aggregation": "d/e", "op": "contains", "value": "z"}]
            },
            "payload": [{"name": "c", "attribute": "a/b", "aggregation": "c"}],
        }
    ]
    # Read back into the builder as chosen.
    expect(_section(page, 1).get_by_label("Field 1 List aggregation", exact=True)).to_have_value(
        json.dumps(["a/b", "c"], separators=(",", ":"))
    )


def test_values_are_sent_as_the_type_shown(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    page = _builder(watched, console, segment)
    page.get_by_label("Name", exact=True).fill("Typed")
    page.get_by_label("page_view", exact=True).check()
    section = _add_section(page, "Typed")
    section.get_by_role("button", name="Add criteria to Section 1").click()
    _test(section, "1.1", "last_path (SINGLE)", "eq", "12345")
    value = section.get_by_label("Condition 1.1 Value", exact=True)
    expect(value).to_have_accessible_description(re.compile("sent as number"))
    # A prefix or a pattern is a string whatever it looks like.
    section.get_by_label("Condition 1.1 Operator", exact=True).select_option("starts_with")
    expect(value).to_have_accessible_description(re.compile("sent as string"))
    section.get_by_role("button", name="Add condition to Condition 1", exact=True).click()
    _test(section, "1.2", "last_path (SINGLE)", "regex", '"quoted"')
    section.get_by_role("button", name="Add condition to Condition 1", exact=True).click()
    _test(section, "1.3", "last_path (SINGLE)", "in", '["a", "b"]')
    expect(section.get_by_label("Condition 1.3 Value", exact=True)).to_have_accessible_description(
        re.compile("sent as list")
    )
    _field(section, 1, "flag", "Static value", "true")
    expect(section.get_by_label("Field 1 Static value", exact=True)).to_have_accessible_description(
        re.compile("sent as true/false")
    )
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Personalization Typed")).to_be_visible()
    [made] = _personalizations(console, segment)
    assert _criteria(console, segment, made["id"]) == {
        "all": [
            {"attribute": "last_path", "op": "starts_with", "value": "12345"},
            {"attribute": "last_path", "op": "regex", "value": '"quoted"'},
            {"attribute": "last_path", "op": "in", "value": ["a", "b"]},
        ]
    }
    # Read back as typed, quotes and all.
    expect(_section(page, 1).get_by_label("Condition 1.2 Value", exact=True)).to_have_value(
        '"quoted"'
    )


# Shapes the builder does not make itself, all valid: a load-edit-save must keep them.
FOREIGN_SECTIONS: list[dict[str, Any]] = [
    {
        "name": "Foreign",
        "criteria": {
            "any": [
                {"segment": "vip"},
                {"attribute": "tier", "op": "in", "value": ["gold", "silver"]},
                {"event": "td_path", "op": "exists"},
                {"not": {"not": {"attribute": "views", "op": "gt", "value": 2}}},
            ]
        },
        "payload": [
            {"name": "nothing", "static": None},
            {"name": "empty", "static": ""},
            {"name": "quoted", "static": "42"},
        ],
    }
]


def _update_mask(url: str) -> str:
    query = parse_qs(urlparse(url).query)
    return query["update_mask"][0]


def test_an_edit_sends_only_what_changed_and_keeps_the_rest(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    created = console.account.ok(
        "POST",
        _personalizations_path(segment),
        {"name": "Foreign", "trigger_events": ["page_view"], "sections": FOREIGN_SECTIONS},
    )
    path = f"{_personalizations_path(segment)}/{created['id']}"
    before = console.account.ok("GET", path)
    page = _builder(watched, console, segment, created["id"])
    expect(page.get_by_label("Name", exact=True)).to_have_value("Foreign")

    page.get_by_label("Name", exact=True).fill("Foreign renamed")
    with page.expect_request(lambda request: request.method == "PATCH") as patch:
        page.get_by_role("button", name="Save").click()
    assert _update_mask(patch.value.url) == "name"
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    after = console.account.ok("GET", path)
    assert after["name"] == "Foreign renamed"
    assert after["sections"] == before["sections"]
    assert after["sections"][0]["criteria"] == FOREIGN_SECTIONS[0]["criteria"]
    assert [field.get("static") for field in after["sections"][0]["payload"]] == [None, "", "42"]

    # A section's edit sends the sections, and only them. While the save is on its way the
    # form cannot be changed (the answer replaces the draft).
    page.get_by_label("Section 1 name", exact=True).fill("Foreign too")
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(lambda url: "update_mask=" in url, hold)
    with page.expect_request(lambda request: request.method == "PATCH") as patch:
        page.get_by_role("button", name="Save").click()
    assert _update_mask(patch.value.url) == "sections"
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    after = console.account.ok("GET", path)
    assert after["sections"][0]["name"] == "Foreign too"
    assert after["sections"][0]["payload"] == before["sections"][0]["payload"]
    # {"segment": S} is sent as what it is short for.
    [vip, *rest] = after["sections"][0]["criteria"]["any"]
    assert vip == {"segment": "vip", "op": "eq", "value": True}
    assert rest == FOREIGN_SECTIONS[0]["criteria"]["any"][1:]


def test_the_lock_reads_the_catalog_again(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    # A LIST whose one aggregation is NON_SENSITIVE (a LIST has no sensitivity of its own).
    _attribute(
        console,
        segment,
        {
            "name": "history",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 5,
                "expire_days": 7,
                "aggregations": [{"name": "url", "field": "url", "sensitivity": "NON_SENSITIVE"}],
            },
        },
    )
    created = console.account.ok(
        "POST",
        _personalizations_path(segment),
        {
            "name": "Lock",
            "trigger_events": ["page_view"],
            "sections": [
                {"name": "Path", "payload": [{"name": "p", "attribute": "last_path"}]},
                {
                    "name": "History",
                    "payload": [{"name": "h", "attribute": "history", "aggregation": "url"}],
                },
            ],
        },
    )
    preview = console.account.ok(
        "POST",
        f"{_personalizations_path(segment)}/{created['id']}:preview",
        {"database": "web_db", "table": "page_views", "event": {"td_client_id": "v1"}},
    )
    verdicts = [each.get("redacted_for_public", False) for each in preview["sections"]]
    assert verdicts == [False, False]
    page = _builder(watched, console, segment, created["id"])
    path_lock = _section(page, 1).get_by_role("img", name=LOCK)
    expect(_section(page, 2).get_by_role("img", name=LOCK)).to_have_count(int(verdicts[1]))
    expect(path_lock).to_have_count(0)

    # The attribute turns sensitive elsewhere (another tab): back on this page, the lock shows.
    attribute = _id_of(console, segment, "attributes", "last_path")
    attributes = f"/v1/parent_segments/{segment}/attributes/{attribute}"
    console.account.ok(
        "PATCH", f"{attributes}?update_mask=sensitivity", {"sensitivity": "SENSITIVE"}
    )
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(path_lock).to_have_count(1)
    # ...and a save reads it again too.
    console.account.ok(
        "PATCH", f"{attributes}?update_mask=sensitivity", {"sensitivity": "NON_SENSITIVE"}
    )
    page.get_by_label("Name", exact=True).fill("Lock again")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    expect(path_lock).to_have_count(0)


def test_a_trigger_event_no_longer_defined_can_be_taken_out(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    created = console.account.ok(
        "POST",
        _personalizations_path(segment),
        {"name": "Renamed event", "trigger_events": ["page_view", "purchase"]},
    )
    event = _id_of(console, segment, "events", "page_view")
    console.account.ok(
        "PATCH",
        f"/v1/parent_segments/{segment}/events/{event}?update_mask=name",
        {"name": "page_visit"},
    )
    path = f"{_personalizations_path(segment)}/{created['id']}"
    refused = console.account.call("PATCH", f"{path}?update_mask=name", {"name": "Renamed"})
    assert refused.status == 400, refused.body
    page = _builder(watched, console, segment, created["id"])
    stale = page.get_by_role("checkbox", name="page_view (not an event definition)", exact=True)
    expect(stale).to_be_checked()
    # The server names it as trigger_events[0]: its message is shown at the trigger events.
    page.get_by_label("Name", exact=True).fill("Renamed")
    page.get_by_role("button", name="Save").click()
    triggers = page.get_by_role("group", name="Trigger events")
    expect(triggers.get_by_role("alert")).to_have_text(refused.json()["message"])
    expect(triggers).to_have_accessible_description(refused.json()["message"])
    expect(page.get_by_role("alert")).to_have_count(1)
    # Taken out, it is gone: nothing names it any more.
    stale.click()
    expect(stale).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text("Saved.")
    read = console.account.ok("GET", path)
    assert (read["name"], read["trigger_events"]) == ("Renamed", ["purchase"])


def test_a_moved_section_keeps_the_focus(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    page = _builder(watched, console, segment)
    for name in ("First", "Second", "Third"):
        _add_section(page, name)
    page.get_by_role("button", name="Move Section 1 down").focus()
    page.keyboard.press("Enter")
    expect(_section(page, 2).get_by_label("Section 2 name", exact=True)).to_have_value("First")
    # The button pressed moved with its section: pressing again moves the same section on.
    expect(page.get_by_role("button", name="Move Section 2 down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(_section(page, 3).get_by_label("Section 3 name", exact=True)).to_have_value("First")
    expect(_section(page, 1).get_by_label("Section 1 name", exact=True)).to_have_value("Second")
