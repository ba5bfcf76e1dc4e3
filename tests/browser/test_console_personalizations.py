"""The console's Personalizations pages (the client-side guide's Step 5) in real Chromium
against the whole suite: a personalization built with a criteria tree and every kind of
payload field, saved and read back through the API; the lock on sections browsers get as
`{}`, live as fields change and in agreement with the server's preview; the operators
offered per subject; a server refusal shown as written; a VIEWER reading, not editing.
Every test also fails on a CSP violation or a page error (conftest)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from browser.console_support import (
    Console,
    Watched,
    add_user,
    load_axe,
    screenshot,
    serious_violations,
    signed_in_page,
)
from playwright.sync_api import Locator, Page, expect

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
    expect(page.get_by_role("alert")).to_have_text(message)
    # ...and beside the place in the tree it names: the first test of the first section.
    refused_test = _section(page, 1).get_by_role("group", name="Condition 1.1", exact=True)
    expect(refused_test.locator(".field-error")).to_have_text(message)
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
