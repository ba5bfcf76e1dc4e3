"""The shortest path a user takes: configure through the admin API, call the data plane."""

from __future__ import annotations

import pytest
from support.admin import Account
from support.http import request
from support.suite import Suite

pytestmark = pytest.mark.both_backends


def test_a_public_token_from_an_allowed_origin_passes_the_gateway(
    suite: Suite, account: Account
) -> None:
    ps = account.parent_segment()
    account.event(ps, "page_view", "shop_db", "page_views")
    service = account.service(ps, "Web", origins=["https://*.shop.example"])
    token = account.token(ps, service)
    reply = request(
        "POST",
        suite.data_port,
        "/public/shop_db/page_views",
        headers={"wp13n-token": token, "origin": "https://m.shop.example"},
        body={"td_client_id": "abc"},
    )
    # Whatever the offers service answers, the decision let it through with CORS.
    assert reply.headers.get("access-control-allow-origin") == "https://m.shop.example"
    refused = request(
        "POST",
        suite.data_port,
        "/public/shop_db/page_views",
        headers={"wp13n-token": token, "origin": "https://shop.example.evil.com"},
        body={"td_client_id": "abc"},
    )
    assert refused.status == 403
    assert refused.cors_headers() == {}
    # Right after the table was defined: a preflight that misses looks the tables up again.
    preflight = request(
        "OPTIONS",
        suite.data_port,
        "/public/shop_db/page_views",
        headers={"origin": "https://m.shop.example", "access-control-request-method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://m.shop.example"


def test_a_70_kib_event_is_413_json_with_cors(suite: Suite, account: Account) -> None:
    ps = account.parent_segment("Big bodies")
    account.event(ps, "page_view", "big_db", "page_views")
    token = account.token(ps, account.service(ps, "Web", origins=["https://shop.example"]))
    reply = request(
        "POST",
        suite.data_port,
        "/public/big_db/page_views",
        headers={"wp13n-token": token, "origin": "https://shop.example"},
        body={"td_client_id": "abc", "padding": "x" * 70 * 1024},
    )
    assert reply.status == 413
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3
    assert "64 KiB" in reply.json()["message"]
    # The token and Origin were accepted, so the page may read why it failed.
    assert reply.headers["access-control-allow-origin"] == "https://shop.example"


def test_a_non_json_content_type_is_415_with_cors(suite: Suite, account: Account) -> None:
    ps = account.parent_segment("Content types")
    account.event(ps, "page_view", "ct_db", "page_views")
    token = account.token(ps, account.service(ps, "Web", origins=["https://shop.example"]))
    reply = request(
        "POST",
        suite.data_port,
        "/public/ct_db/page_views",
        headers={
            "wp13n-token": token,
            "origin": "https://shop.example",
            "content-type": "text/plain",
        },
        body="td_client_id=abc",
    )
    assert reply.status == 415
    assert reply.json()["code"] == 3
    assert reply.headers["access-control-allow-origin"] == "https://shop.example"
