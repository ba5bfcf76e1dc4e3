"""The guide's examples through the real Envoy: configured with the admin API, answered on
the public and private paths, read as the bytes a browser or a server receives."""

from __future__ import annotations

import json

import pytest
from support.admin import Account
from support.offers_shop import MEMBER, ORIGIN, TIER, GuideShop

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    shop = GuideShop.create(account)
    for amount, product in ((20000, "tent"), (8700, "stove")):
        bought = shop.private(
            "purchases", {"td_client_id": MEMBER, "amount": amount, "product_name": product}
        )
        assert bought.status == 200, bought.body
    return shop


def test_welcome_banner_and_loyalty_discount_side_by_side(shop: GuideShop) -> None:
    reply = shop.public("page_views", {"td_client_id": "new-visitor", "td_path": "/"})
    assert reply.status == 200, reply.body
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert reply.headers["content-type"] == "application/json"
    # The bytes a page receives: sections in order, the sensitive one as {}.
    assert reply.body == (
        b'{"offers":{"Welcome Banner":{"attributes":{"welcome_message":"Hello, new user!"}},'
        b'"Loyalty Discount":{}}}'
    )


def test_silver_rewards_print_28700_as_a_number(shop: GuideShop) -> None:
    reply = shop.public("page_views", {"td_client_id": MEMBER, "td_path": "/"})
    assert reply.status == 200, reply.body
    offers = json.loads(reply.body)["offers"]
    assert list(offers) == ["Welcome Banner", "Loyalty Discount", "Silver rewards just for you!"]
    assert offers["Loyalty Discount"] == {}
    rewards = offers["Silver rewards just for you!"]["attributes"]
    assert list(rewards) == [
        "first_name",
        "total_purchase",
        "items_purchased",
        "order_summary",
        "thank_you_message",
        "promotions_message",
    ]
    assert rewards["first_name"] == "John"
    assert rewards["items_purchased"] == ["stove", "tent"]
    assert b'"total_purchase":28700,' in reply.body
    assert b"28700.0" not in reply.body
    assert b'"28700"' not in reply.body
    assert TIER.encode() not in reply.body


def test_a_sensitive_sections_public_answer_does_not_depend_on_its_criteria(
    shop: GuideShop,
) -> None:
    member = shop.public("vip_checks", {"td_client_id": MEMBER})
    stranger = shop.public("vip_checks", {"td_client_id": "someone-else"})
    assert member.status == stranger.status == 200
    assert member.body == stranger.body == b'{"offers":{"VIP offer":{}}}'
    # The private path does tell them apart: the criteria are evaluated there.
    assert shop.private("vip_checks", {"td_client_id": MEMBER}).json() == {
        "offers": {"VIP offer": {"attributes": {"code": "VIP-20"}}}
    }
    assert shop.private("vip_checks", {"td_client_id": "someone-else"}).json() == {"offers": {}}


def test_the_private_path_returns_sensitive_sections_in_full(shop: GuideShop) -> None:
    reply = shop.private("page_views", {"td_client_id": MEMBER})
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["offers"]["Loyalty Discount"] == {
        "attributes": {"discount_code": "LOYAL-15", "membership_tier": TIER}
    }
    assert reply.cors_headers() == {}


def test_a_public_token_on_the_private_path_gets_exactly_the_public_answer(
    shop: GuideShop,
) -> None:
    event = {"td_client_id": MEMBER}
    private = shop.private("page_views", event, token=shop.public_token)
    public = shop.public("page_views", event)
    assert private.status == public.status == 200
    assert private.body == public.body
    assert TIER.encode() not in private.body


def test_a_private_token_is_refused_on_the_public_path(shop: GuideShop) -> None:
    reply = shop.public("page_views", {"td_client_id": MEMBER}, token=shop.private_token)
    assert reply.status == 403
    assert TIER.encode() not in reply.body


def _nested(levels: int) -> dict[str, object]:
    event: dict[str, object] = {"td_client_id": "deep"}
    inner = event
    for _ in range(levels - 1):
        inner["n"] = inner = {}
    return event


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(_nested(33), "nesting is deeper than 32 levels", id="33-levels"),
        # Too deep for protobuf to decode in the service: still 400, not 500.
        pytest.param(_nested(60), "nested at most 32 levels deep", id="60-levels"),
        # Too deep for the gateway's strict JSON check (the auth service, before the transcoder).
        pytest.param(_nested(200), "nested deeper than 64 levels", id="200-levels"),
        pytest.param("", "event has no identifier", id="empty-body"),
        pytest.param({}, "event has no identifier", id="empty-object"),
    ],
)
def test_an_unusable_event_is_400_json_with_cors(
    shop: GuideShop, body: object, message: str
) -> None:
    reply = shop.public("page_views", body)
    assert reply.status == 400, reply.body
    assert reply.json()["code"] == 3
    assert message in reply.json()["message"]
    assert reply.headers["access-control-allow-origin"] == ORIGIN


def test_a_table_that_is_no_event_table_is_404(shop: GuideShop) -> None:
    reply = shop.public("nowhere", {"td_client_id": MEMBER})
    assert reply.status == 404
    assert reply.json()["code"] == 5
    assert reply.headers["access-control-allow-origin"] == ORIGIN


def test_strings_reach_the_page_escaped_as_the_gateway_always_printed_them(
    shop: GuideShop,
) -> None:
    """The service writes the JSON itself; a visitor's own text (here a path) and an
    editor's (a static value) still arrive with <, > and invisible or line-separating
    characters escaped, byte for byte as Envoy's protobuf printer did."""
    account, ps = shop.account, shop.ps
    account.event(ps, "escape_check", "shop_db", "escape_checks")
    account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/attributes",
        {
            "name": "escape_path",
            "type": "SINGLE",
            "event": "escape_check",
            "field": "td_path",
            "sensitivity": "NON_SENSITIVE",
        },
    )
    account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/personalizations",
        {
            "name": "Escapes",
            "trigger_events": ["escape_check"],
            "sections": [
                {
                    "name": "<b>",
                    "payload": [
                        {"name": "static", "static": "</script>\u2028\ufeff\U0001d173 é"},
                        {"name": "path", "attribute": "escape_path"},
                    ],
                }
            ],
        },
    )
    event = {"td_client_id": "escaper", "td_path": "/<x>\u2029\u00ad"}
    reply = shop.public("escape_checks", event)
    assert reply.status == 200, reply.body
    assert reply.body == (
        b'{"offers":{"\\u003cb\\u003e":{"attributes":{'
        b'"static":"\\u003c/script\\u003e\\u2028\\ufeff\\ud834\\udd73 \xc3\xa9",'
        b'"path":"/\\u003cx\\u003e\\u2029\\u00ad"}}}}'
    )
