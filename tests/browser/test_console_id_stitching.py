"""The console's ID stitching page (the client-side guide's Step 4) in real Chromium against
the whole suite: keys added, edited and deleted with regex, exclusions, workflow-only and
verified, read back through the API; the primary key fixed; the guide's privacy warning next
to the keys; regexes checked as typed, in agreement with the server; a VIEWER offered no
changes. Every test also fails on a CSP violation (conftest)."""

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
from playwright.sync_api import Page, expect

_names = itertools.count(1)
# The client-side guide's words (Step 4, "Privacy and Compliance Caveats"), not ours.
WARNING = (
    "ALL identifiers used for client-side stitching should be “non-sensitive”—never include, "
    "transmit, or stitch on emails, phone numbers, addresses, or any direct/hashed PII from "
    "the browser."
)


def _segment(console: Console) -> str:
    return console.account.parent_segment(f"Stitching {next(_names)}", primary_key="td_client_id")


def _keys(console: Console, segment: str) -> dict[str, dict[str, Any]]:
    path = f"/v1/parent_segments/{segment}/stitching_keys?page_size=1000"
    found = console.account.ok("GET", path)["stitching_keys"]
    return {key["name"]: key for key in found}


def _stitching_page(watched: Watched, console: Console, segment: str) -> Page:
    page = signed_in_page(watched, console, f"parent-segments/{segment}/id-stitching")
    expect(page.get_by_role("heading", name="ID stitching keys")).to_be_visible()
    return page


def test_the_primary_key_is_fixed_next_to_the_guides_privacy_warning(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _stitching_page(watched, console, segment)
    expect(page.get_by_role("complementary", name="Privacy warning")).to_contain_text(WARNING)
    primary = page.get_by_role("row").filter(has_text="td_client_id")
    expect(primary).to_contain_text("Primary key")
    expect(primary).to_contain_text("Fixed: the parent segment's primary key")
    expect(primary.get_by_role("button")).to_have_count(0)
    # The form says it too, where a key is being chosen.
    page.get_by_role("button", name="Add stitching key").click()
    dialog = page.get_by_role("dialog", name="Add stitching key")
    expect(dialog.get_by_role("complementary", name="Privacy warning")).to_contain_text(WARNING)


def test_a_key_is_added_edited_and_deleted(watched: Watched, console: Console) -> None:
    segment = _segment(console)
    page = _stitching_page(watched, console, segment)
    page.get_by_role("button", name="Add stitching key").click()
    dialog = page.get_by_role("dialog", name="Add stitching key")
    dialog.get_by_label("Event field (the key's name)").fill("member_id")
    dialog.get_by_label("Regex").fill("m-[0-9]+")
    dialog.get_by_label("Exclusions (one value per line)").fill("m-0\n m-test \n")
    dialog.get_by_label("Workflow only").check()
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="member_id")
    expect(row).to_contain_text("m-0, m-test")
    screenshot(page, "id-stitching")
    added = _keys(console, segment)["member_id"]
    assert (added["regex"], added["exclusions"], added.get("workflow_only")) == (
        "m-[0-9]+",
        ["m-0", "m-test"],
        True,
    )
    assert not added.get("verified")

    row.get_by_role("button", name="Edit member_id").click()
    dialog = page.get_by_role("dialog", name="Edit stitching key member_id")
    expect(dialog.get_by_label("Workflow only")).to_be_checked()
    expect(dialog.get_by_label("Event field (the key's name)")).to_have_count(0)  # fixed
    dialog.get_by_label("Workflow only").uncheck()
    dialog.get_by_label("Verified").check()
    dialog.get_by_label("Exclusions (one value per line)").fill("m-bot")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    edited = _keys(console, segment)["member_id"]
    assert (edited["exclusions"], bool(edited.get("workflow_only")), edited.get("verified")) == (
        ["m-bot"],
        False,
        True,
    )

    row.get_by_role("button", name="Delete member_id").click()
    confirm = page.get_by_role("dialog", name="Delete stitching key member_id?")
    confirm.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    assert set(_keys(console, segment)) == {"td_client_id"}


# (pattern, what the browser says as it is typed: a part of its message, or None for nothing)
PATTERNS = [
    (r"(a)\1", "a backreference \\1"),
    ("(?<=a)b", "a lookbehind (?<="),
    ("(?<!a)b", "a negative lookbehind (?<!"),
    ("a(?!b)", "a negative lookahead (?!"),
    ("a{1001}", "a repetition over 1000 {1001}"),
    ("(ab", "Regex is invalid"),
    (r"(?P<year>\d{4})-\d{2}", None),
    ("[(?=]x", None),
    (r"\(?=", None),
    ("(?i)abc", None),
]


def test_a_regex_is_checked_as_typed_as_the_server_would(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    page = _stitching_page(watched, console, segment)
    page.get_by_role("button", name="Add stitching key").click()
    dialog = page.get_by_role("dialog", name="Add stitching key")
    error = dialog.locator("#key-regex-error")
    for n, (pattern, said) in enumerate(PATTERNS):
        dialog.get_by_label("Regex").fill(pattern)
        if said is None:
            expect(error).to_have_count(0)
        else:
            expect(error).to_contain_text(said)
        # The server agrees: it refuses what the browser refused and accepts the rest.
        body = {"name": f"key_{n}", "regex": pattern}
        reply = console.account.call("POST", f"/v1/parent_segments/{segment}/stitching_keys", body)
        assert reply.status == (200 if said is None else 400), (pattern, reply.body)

    # A pattern only the server refuses (Python's re, which it also asks): its message.
    dialog.get_by_label("Event field (the key's name)").fill("visitor_id")
    dialog.get_by_label("Regex").fill(r"\p{L}+")
    expect(error).to_have_count(0)
    refused = console.account.call(
        "POST",
        f"/v1/parent_segments/{segment}/stitching_keys",
        {"name": "visitor_id", "regex": r"\p{L}+"},
    )
    assert refused.status == 400
    dialog.get_by_role("button", name="Add").click()
    expect(error).to_have_text(refused.json()["message"])
    assert "visitor_id" not in _keys(console, segment)


def test_a_viewer_sees_the_keys_and_no_way_to_change_them(
    watched: Watched, console: Console
) -> None:
    segment = _segment(console)
    console.account.ok(
        "POST", f"/v1/parent_segments/{segment}/stitching_keys", {"name": "member_id"}
    )
    email = add_user(console, "VIEWER")
    page = signed_in_page(watched, console, f"parent-segments/{segment}/id-stitching", email=email)
    expect(page.get_by_role("row").filter(has_text="member_id")).to_be_visible()
    expect(page.get_by_role("complementary", name="Privacy warning")).to_contain_text(WARNING)
    expect(page.get_by_role("button", name="Add stitching key")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit member_id")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete member_id")).to_have_count(0)
