"""The console's Attributes page (the client-side guide's Step 4) in real Chromium against the
whole suite: one attribute of each type created with its type's fields and read back through
the API; the list's sensitivity badges; sensitivity absent without flag m2-2; names and ranges
checked as typed, the server's refusals shown by the field they name; an EDITOR's lowering
refused with the server's message; the type fixed on edit; deleting, and the refusal while a
personalization uses it; a VIEWER offered no changes. Every test also fails on a CSP
violation or a page error (conftest)."""

from __future__ import annotations

import itertools
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
)
from playwright.sync_api import Browser, Locator, Page, expect
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
    from browser.console_support import watched_page

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

    expect(_row(page, "last_page")).to_contain_text("Sensitive")
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
