"""Wildcard origins over a public suffix (docs/design.md#origins), through the real Envoy.

The attack: ``https://*.co.uk`` was accepted as an allowed origin, and then anyone's
``https://attacker.co.uk`` got 200 with CORS. Saving such a wildcard is now refused with a
400 naming the field; one already stored (saved before the check, or made public by a
newer list) matches nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from support import stored
from support.admin import Account
from support.auth import passed_auth, personalize
from support.suite import Suite

from services.auth.sql_base import bump_generation
from services.common.sql import Sql

pytestmark = pytest.mark.both_backends

PUBLIC_PATH = "/public/shop_db/page_views"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def _refusal(suffix: str) -> str:
    # A literal copy of docs/design.md §8, not the code's constant.
    return (
        f'Allowed origin "https://*.{suffix}" cannot have a wildcard over {suffix}: it is a '
        "public suffix, under which anyone can register a site; put the wildcard over your own "
        f'domain, e.g. "https://*.yourshop.{suffix}"'
    )


@dataclass(frozen=True)
class World:
    ps: str
    service: str
    token: str


@pytest.fixture(scope="module")
def world(account: Account) -> World:
    ps = account.parent_segment("Public suffixes")
    account.event(ps, "page_view", "shop_db", "page_views")
    service = account.service(ps, "Web", "PUBLIC", ["https://*.shop.example"])
    return World(ps, service, account.token(ps, service))


def _field_violation(body: dict[str, Any]) -> dict[str, Any]:
    [bad_request] = [d for d in body["details"] if d["@type"] == BAD_REQUEST]
    [violation] = bad_request["field_violations"]
    result: dict[str, Any] = violation
    return result


@pytest.mark.parametrize(
    ("origins", "field", "suffix"),
    [
        pytest.param(["https://*.co.uk"], "allowed_origins[0]", "co.uk", id="icann"),
        pytest.param(
            ["https://*.shop.example", "https://*.github.io"],
            "allowed_origins[1]",
            "github.io",
            id="private-section",
        ),
    ],
)
def test_creating_a_service_with_a_wildcard_over_a_public_suffix_is_refused(
    account: Account, world: World, origins: list[str], field: str, suffix: str
) -> None:
    path = f"/v1/parent_segments/{world.ps}/services"
    reply = account.call("POST", path, {"name": f"Web {suffix}", "type": "PUBLIC",
                                        "allowed_origins": origins})  # fmt: skip
    assert (reply.status, reply.json()["code"]) == (400, 3), reply.body
    assert reply.json()["message"] == _refusal(suffix)
    assert _field_violation(reply.json())["field"] == field
    names = [s["name"] for s in account.ok("GET", path)["services"]]
    assert f"Web {suffix}" not in names


def test_a_wildcard_over_the_sites_own_domain_is_accepted_and_works(
    suite: Suite, world: World
) -> None:
    reply = personalize(suite, PUBLIC_PATH, token=world.token, origin="https://m.shop.example")
    assert passed_auth(reply), reply.body
    assert reply.headers["access-control-allow-origin"] == "https://m.shop.example"


def test_updating_allowed_origins_to_a_public_suffix_is_refused_and_changes_nothing(
    account: Account, world: World
) -> None:
    path = f"/v1/parent_segments/{world.ps}/services/{world.service}"
    reply = account.call(
        "PATCH", f"{path}?update_mask=allowed_origins", {"allowed_origins": ["https://*.co.uk"]}
    )
    assert (reply.status, reply.json()["code"]) == (400, 3), reply.body
    assert reply.json()["message"] == _refusal("co.uk")
    assert _field_violation(reply.json())["field"] == "allowed_origins[0]"
    assert account.ok("GET", path)["allowed_origins"] == ["https://*.shop.example"]


def _store_origins_behind_the_api(suite: Suite, service: str, origins: list[str]) -> None:
    # As a database written before the check existed holds them; the generation bump is
    # what every write of the auth store does, so running auth processes reload.

    async def update(sql: Sql) -> None:
        await sql.execute(
            "UPDATE services SET allowed_origins = ? WHERE id = ?",
            json.dumps(origins),
            int(service),
        )
        await bump_generation(sql)

    stored.transaction(suite.settings, "auth", update)


def test_a_stored_wildcard_over_a_public_suffix_lets_no_site_in(
    suite: Suite, account: Account
) -> None:
    ps = account.parent_segment("Stored before the check")
    account.event(ps, "page_view", "shop_db", "page_views")
    service = account.service(ps, "Legacy", "PUBLIC", ["https://old.example"])
    token = account.token(ps, service)
    _store_origins_behind_the_api(suite, service, ["https://*.co.uk", "https://new.example"])

    # The new exact origin passing shows the directory has reloaded the stored list.
    deadline = time.monotonic() + 5
    while not passed_auth(
        personalize(suite, PUBLIC_PATH, token=token, origin="https://new.example")
    ):
        assert time.monotonic() < deadline, "the auth service never reloaded the stored origins"
        time.sleep(0.1)

    attacker = personalize(suite, PUBLIC_PATH, token=token, origin="https://attacker.co.uk")
    assert attacker.status == 403, attacker.body
    assert attacker.json()["message"] == "Origin is not allowed for this token's service"
    assert attacker.cors_headers() == {}
