"""Preview through the real admin API: both answers and why, and nothing stored or changed."""

from __future__ import annotations

from typing import Any

import pytest
from support import stored
from support.admin import Account
from support.offers_shop import DATABASE, MEMBER, NON_SENSITIVE, TIER, GuideShop
from support.suite import Suite

pytestmark = pytest.mark.both_backends

BREADCRUMB = {
    "name": "Breadcrumb",
    "trigger_events": ["page_view"],
    "sections": [{"name": "Last page", "payload": [{"name": "path", "attribute": "last_path"}]}],
}


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    shop = GuideShop.create(account)
    account.ok(
        "POST",
        f"/v1/parent_segments/{shop.ps}/attributes",
        {
            "name": "last_path",
            "type": "SINGLE",
            "event": "page_view",
            "field": "td_path",
            "sensitivity": NON_SENSITIVE,
        },
    )
    created = account.ok("POST", f"/v1/parent_segments/{shop.ps}/personalizations", BREADCRUMB)
    shop.personalizations["Breadcrumb"] = str(created["id"])
    visited = shop.public("page_views", {"td_client_id": MEMBER, "td_path": "/home"})
    assert visited.status == 200, visited.body
    return shop


def _preview(shop: GuideShop, name: str, body: dict[str, Any]) -> dict[str, Any]:
    path = f"/v1/parent_segments/{shop.ps}/personalizations/{shop.personalizations[name]}:preview"
    answer: dict[str, Any] = shop.account.ok(
        "POST", path, {"database": DATABASE, "table": "page_views", **body}
    )
    return answer


def _stored_events(suite: Suite) -> int:
    [(count,)] = stored.rows(suite.settings, "profile", "SELECT count(*) FROM events")
    return int(count)


def _profile(shop: GuideShop, visitor: str) -> tuple[int, Any]:
    reply = shop.account.call(
        "GET", f"/v1/parent_segments/{shop.ps}/profiles/td_client_id/{visitor}"
    )
    return reply.status, reply.json()


def test_preview_leaves_the_event_table_and_the_profile_unchanged(
    suite: Suite, shop: GuideShop
) -> None:
    events, member, ghost = _stored_events(suite), _profile(shop, MEMBER), _profile(shop, "ghost")
    assert member[0] == 200
    assert ghost[0] == 404

    seen = _preview(shop, "Breadcrumb", {"event": {"td_client_id": MEMBER, "td_path": "/preview"}})
    new = _preview(shop, "Breadcrumb", {"event": {"td_client_id": "ghost", "td_path": "/new"}})

    # The answers were computed with the event applied...
    assert seen["private_response"]["offers"]["Last page"] == {"attributes": {"path": "/preview"}}
    assert new["public_response"]["offers"]["Last page"] == {"attributes": {"path": "/new"}}
    # ...and nothing was stored or changed.
    assert _stored_events(suite) == events
    assert _profile(shop, MEMBER) == member
    assert _profile(shop, "ghost") == ghost
    # A real event does change both, so the comparison above can tell.
    shop.public("page_views", {"td_client_id": "ghost", "td_path": "/real"})
    assert _stored_events(suite) == events + 1
    assert _profile(shop, "ghost")[0] == 200


def test_preview_shows_both_paths_and_why(shop: GuideShop) -> None:
    answer = _preview(shop, "Homepage", {"event": {"td_client_id": MEMBER}})
    assert answer["public_response"] == {
        "offers": {
            "Welcome Banner": {"attributes": {"welcome_message": "Hello, new user!"}},
            "Loyalty Discount": {},
        }
    }
    assert answer["private_response"]["offers"]["Loyalty Discount"] == {
        "attributes": {"discount_code": "LOYAL-15", "membership_tier": TIER}
    }
    assert answer["sections"] == [
        {
            "name": "Welcome Banner",
            "matched": True,
            "redacted_for_public": False,
            "sensitive_references": [],
        },
        {
            "name": "Loyalty Discount",
            "matched": True,
            "redacted_for_public": True,
            "sensitive_references": ["membership_tier"],
        },
    ]
    assert answer["warnings"] == []


def test_preview_with_a_profile_override(shop: GuideShop) -> None:
    event = {"td_client_id": "someone-new"}
    before = _preview(shop, "Rewards", {"event": event})
    assert before["sections"][0]["matched"] is False
    after = _preview(
        shop,
        "Rewards",
        {"event": event, "profile": {"attributes": {"tier": "silver", "first_name": "Ann"}}},
    )
    assert after["sections"][0]["matched"] is True
    rewards = after["public_response"]["offers"]["Silver rewards just for you!"]["attributes"]
    assert (rewards["first_name"], rewards["total_purchase"]) == ("Ann", 0)


def test_preview_of_an_event_that_triggers_nothing_warns(shop: GuideShop) -> None:
    answer = _preview(shop, "VIP", {"event": {"td_client_id": MEMBER}})
    assert answer["sections"][0]["matched"] is False
    assert answer["private_response"] == {"offers": {}}
    assert "matches none of the trigger events (vip_check)" in answer["warnings"][0]
