"""`p13n preview` against a running suite: a section that renders a SENSITIVE attribute is
shown redacted for browsers with the attribute named as why; -o json is the API's answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.admin import Account

from .conftest import CliRunner

EVENT = {"td_url": "https://shop.example/cart", "email": "ada@example.org"}


@pytest.fixture(scope="module")
def shop(account: Account) -> str:
    ps = account.parent_segment("Shoppers")
    base = f"/v1/parent_segments/{ps}"
    account.event(ps, "page_view", "shop_db", "page_views")
    account.ok(
        "POST",
        f"{base}/attributes",
        {
            "name": "contact",
            "type": "SINGLE",
            "event": "page_view",
            "field": "email",
            "sensitivity": "SENSITIVE",
        },
    )
    account.ok(
        "POST",
        f"{base}/personalizations",
        {
            "name": "greet",
            "trigger_events": ["page_view"],
            "sections": [
                {"name": "mail_us", "payload": [{"name": "to", "attribute": "contact"}]},
                {"name": "banner", "payload": [{"name": "text", "static": "welcome"}]},
            ],
        },
    )
    return ps


@pytest.mark.usefixtures("shop")
def test_a_section_with_a_sensitive_attribute_is_shown_redacted_naming_it(p13n: CliRunner) -> None:
    ran = p13n("preview", "greet", "--event", json.dumps(EVENT), "--visitor", "td_client_id=c-1")
    assert ran.code == 0, ran.err
    rows = {line.split()[0]: line.split()[1:] for line in ran.out.splitlines() if line.strip()}
    assert rows["mail_us"] == ["yes", "yes", "contact"]  # shown, redacted for browsers, why
    assert rows["banner"] == ["yes", "no"]
    public = next(line for line in ran.out.splitlines() if line.startswith("public answer:"))
    private = next(line for line in ran.out.splitlines() if line.startswith("private answer:"))
    assert EVENT["email"] not in public
    assert EVENT["email"] in private


def test_json_is_the_apis_answer_and_the_event_may_come_from_a_file(
    p13n: CliRunner, shop: str, tmp_path: Path
) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({**EVENT, "td_client_id": "c-1"}))
    ran = p13n("preview", "greet", "--event", f"@{event_file}", "-o", "json")
    assert ran.code == 0, ran.err
    personalization = p13n.account.ok("GET", f"/v1/parent_segments/{shop}/personalizations")
    path = f"/v1/parent_segments/{shop}/personalizations/{personalization['personalizations'][0]['id']}:preview"
    body = {"database": "shop_db", "table": "page_views", "event": {**EVENT, "td_client_id": "c-1"}}
    assert json.loads(ran.out) == p13n.account.ok("POST", path, body)


@pytest.mark.usefixtures("shop")
def test_an_event_that_is_not_an_object_is_a_usage_error(p13n: CliRunner) -> None:
    ran = p13n("preview", "greet", "--event", "[1, 2]")
    assert ran.code == 2
    assert "the event must be a JSON object" in ran.err
