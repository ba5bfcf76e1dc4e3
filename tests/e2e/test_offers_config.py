"""Personalizations through the real admin API, and how they live with the parent
segment's configuration: validated against it, following its changes at once, and
protecting what they reference from deletion."""

from __future__ import annotations

from typing import Any

import pytest
from support.admin import Account
from support.offers_shop import HOMEPAGE, MEMBER, SENSITIVE, GuideShop

pytestmark = pytest.mark.both_backends

REWARDS_SECTION = "Silver rewards just for you!"


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    return GuideShop.create(account, "Config shop")


def _attribute_id(shop: GuideShop, name: str) -> str:
    listed = shop.account.ok("GET", f"/v1/parent_segments/{shop.ps}/attributes")["attributes"]
    return str(next(a["id"] for a in listed if a["name"] == name))


def test_a_personalization_reads_back_as_it_was_written(shop: GuideShop) -> None:
    base = f"/v1/parent_segments/{shop.ps}/personalizations"
    got = shop.account.ok("GET", f"{base}/{shop.personalizations['Homepage']}")
    assert got["name"] == HOMEPAGE["name"]
    assert [s["name"] for s in got["sections"]] == ["Welcome Banner", "Loyalty Discount"]
    assert got["sections"][1]["payload"][1]["attribute"] == "membership_tier"
    assert got["warnings"] == []
    listed = shop.account.ok("GET", base)["personalizations"]
    assert [p["name"] for p in listed] == ["Homepage", "Rewards", "VIP"]


def test_a_mistake_is_400_naming_its_place(shop: GuideShop) -> None:
    body: dict[str, Any] = {
        "name": "Broken",
        "trigger_events": ["page_view"],
        "sections": [{"name": "B", "criteria": {"attribute": "tier", "op": "gt", "value": []}}],
    }
    reply = shop.account.call("POST", f"/v1/parent_segments/{shop.ps}/personalizations", body)
    assert reply.status == 400
    assert reply.json()["message"].startswith(
        "sections[0].criteria.value: op 'gt' on attribute 'tier' needs a number or a string"
    )


def test_a_configuration_change_applies_at_once(shop: GuideShop) -> None:
    event = {"td_client_id": MEMBER}
    before = shop.public("page_views", event).json()["offers"]
    assert before[REWARDS_SECTION]["attributes"]["first_name"] == "John"
    shop.account.ok(
        "PATCH",
        f"/v1/parent_segments/{shop.ps}/attributes/{_attribute_id(shop, 'first_name')}"
        "?update_mask=sensitivity",
        {"sensitivity": SENSITIVE},
    )
    after = shop.public("page_views", event)
    assert after.json()["offers"][REWARDS_SECTION] == {}
    assert b"John" not in after.body


def test_what_a_personalization_references_cannot_be_deleted(shop: GuideShop) -> None:
    base = f"/v1/parent_segments/{shop.ps}"
    path = f"{base}/attributes/{_attribute_id(shop, 'membership_tier')}"
    refused = shop.account.call("DELETE", path)
    assert refused.status == 400, refused.body
    assert "referenced by personalizations: Homepage, VIP" in refused.json()["message"]
    for name in ("Homepage", "VIP"):
        shop.account.ok("DELETE", f"{base}/personalizations/{shop.personalizations[name]}")
    assert shop.account.call("DELETE", path).status == 200
