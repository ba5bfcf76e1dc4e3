"""An EDITOR cannot publish withheld values by deleting or renaming, through the real Envoy.

The attack (issue 13 review): imported values, profile state and identities are kept by the
attribute's, aggregation's or stitching key's NAME and outlive the attribute or key. So an
EDITOR, who may not lower a sensitivity, deleted a SENSITIVE imported attribute (or renamed
it away) and created a NON_SENSITIVE one of the same name, and the public answer showed the
old values; deleting a verified key and creating it unverified let any browser claim its
members. Now the store remembers every name that held withheld values, and showing one
again is a lowering: 403 for an EDITOR with the usual message, allowed and called out
(``sensitivity_lowered``) for an ADMIN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from support.admin import Account
from support.auth import add_user
from support.offers_shop import MEMBER, NON_SENSITIVE, SENSITIVE, GuideShop

pytestmark = pytest.mark.both_backends

LOWERING_NEEDS_ADMIN = (
    "Lowering a sensitivity needs the ADMIN role: it publishes values the public path "
    "withholds. Ask an admin to make this change."
)
VERIFICATION_OFF_NEEDS_ADMIN = (
    "Turning off a stitching key's verification needs the ADMIN role: any browser could then "
    "claim its values and see their profiles. Ask an admin to make this change."
)


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    return GuideShop.create(account, "Withheld names shop")


@pytest.fixture(scope="module")
def sessions(account: Account) -> dict[str, str]:
    """The Authorization header of a signed-in user of each role."""
    return {role: add_user(account, role).authorization for role in ("ADMIN", "EDITOR")}


def _names(shop: GuideShop, collection: str) -> list[str]:
    listed = shop.account.ok("GET", f"/v1/parent_segments/{shop.ps}/{collection}")
    return [item["name"] for item in listed.get(collection, [])]


def _last_audited(shop: GuideShop, resource_type: str, resource_id: str) -> tuple[str, bool]:
    """The newest entry of the resource: (action, sensitivity_lowered). A deleted child's id
    may be given out again, so older entries of the id can be another resource's."""
    query = f"resource_type={resource_type}&resource_id={resource_id}&page_size=100"
    entries = shop.account.ok("GET", f"/v1/audit_log?{query}").get("entries", [])
    return entries[-1]["action"], entries[-1].get("sensitivity_lowered", False)


def _eventually(seen: Callable[[], bytes], wanted: bytes, seconds: float = 10.0) -> bytes:
    """The body ``seen`` answers once it holds ``wanted`` (configuration reloads take about
    a second), or its last answer."""
    deadline = time.monotonic() + seconds
    body = seen()
    while wanted not in body and time.monotonic() < deadline:
        time.sleep(0.2)
        body = seen()
    return body


# -- attributes and aggregations ---------------------------------------------------------


def _imported(name: str, sensitivity: str) -> dict[str, Any]:
    return {"name": name, "type": "IMPORTED", "sensitivity": sensitivity}


def _bought(name: str, sensitivity: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "LIST",
        "event": "purchase",
        "list": {
            "max_items": 5,
            "expire_days": 7,
            "aggregations": [{"name": "card", "field": "card", "sensitivity": sensitivity}],
        },
    }


def _hold_a_secret(shop: GuideShop, name: str, kind: str, secret: str) -> dict[str, Any]:
    """A withheld attribute ``name`` of ``kind`` holding ``secret`` for MEMBER."""
    base = f"/v1/parent_segments/{shop.ps}"
    if kind == "imported":
        created: dict[str, Any] = shop.account.ok(
            "POST", f"{base}/attributes", _imported(name, SENSITIVE)
        )
        shop.account.ok(
            "POST",
            f"{base}/imports",
            {"key": "td_client_id", "records": [{"value": MEMBER, "attributes": {name: secret}}]},
        )
        return created
    created = shop.account.ok("POST", f"{base}/attributes", _bought(name, SENSITIVE))
    reply = shop.private("purchases", {"td_client_id": MEMBER, "card": secret})
    assert reply.status == 200, reply.body
    return created


def _show(name: str, kind: str) -> dict[str, Any]:
    """A personalization showing attribute ``name`` on every page view."""
    item: dict[str, Any] = {"name": "shown", "attribute": name}
    if kind == "list":
        item["aggregation"] = "card"
    return {
        "name": f"Show {name}",
        "trigger_events": ["page_view"],
        "sections": [{"name": f"show_{name}", "payload": [item]}],
    }


def _get_rid_of(shop: GuideShop, attribute: dict[str, Any], how: str, editor: str) -> None:
    """The EDITOR's first step, allowed: delete the attribute or rename it away."""
    url = f"/v1/parent_segments/{shop.ps}/attributes/{attribute['id']}"
    if how == "delete":
        reply = shop.account.call("DELETE", url, authorization=editor)
    else:
        renamed = {"name": f"{attribute['name']}_old"}
        reply = shop.account.call("PATCH", f"{url}?update_mask=name", renamed, authorization=editor)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        pytest.param("imported", "delete", id="imported-deleted"),
        pytest.param("imported", "rename", id="imported-renamed"),
        pytest.param("list", "delete", id="aggregation-deleted"),
    ],
)
def test_an_editor_cannot_recreate_a_withheld_name_as_non_sensitive(
    shop: GuideShop, sessions: dict[str, str], kind: str, how: str
) -> None:
    name = f"secret_{kind}_{how}"
    secret = f"TOPSECRET-{kind}-{how}"
    attribute = _hold_a_secret(shop, name, kind, secret)
    _get_rid_of(shop, attribute, how, sessions["EDITOR"])  # withholds more: allowed
    base = f"/v1/parent_segments/{shop.ps}"
    shown = (_imported if kind == "imported" else _bought)(name, NON_SENSITIVE)

    reply = shop.account.call("POST", f"{base}/attributes", shown, authorization=sessions["EDITOR"])
    assert reply.status == 403, reply.body
    assert reply.json()["message"] == LOWERING_NEEDS_ADMIN
    assert reply.json()["code"] == 7
    assert name not in _names(shop, "attributes")  # nothing written

    # An ADMIN may: the same request publishes the old values, and the log calls it out.
    reply = shop.account.call("POST", f"{base}/attributes", shown, authorization=sessions["ADMIN"])
    assert reply.status == 200, reply.body
    assert _last_audited(shop, "attribute", reply.json()["id"]) == ("create", True)
    shop.account.ok("POST", f"{base}/personalizations", _show(name, kind))
    body = _eventually(
        lambda: shop.public("page_views", {"td_client_id": MEMBER}).body, secret.encode()
    )
    assert secret.encode() in body  # what the remembered name protected


def test_an_editor_cannot_rename_onto_a_withheld_name(
    shop: GuideShop, sessions: dict[str, str]
) -> None:
    attribute = _hold_a_secret(shop, "secret_target", "imported", "TOPSECRET-target")
    _get_rid_of(shop, attribute, "delete", sessions["EDITOR"])
    base = f"/v1/parent_segments/{shop.ps}/attributes"
    public = shop.account.ok("POST", base, _imported("harmless", NON_SENSITIVE))
    reply = shop.account.call(
        "PATCH",
        f"{base}/{public['id']}?update_mask=name",
        {"name": "secret_target"},
        authorization=sessions["EDITOR"],
    )
    assert reply.status == 403, reply.body
    assert reply.json()["message"] == LOWERING_NEEDS_ADMIN
    assert shop.account.ok("GET", f"{base}/{public['id']}")["name"] == "harmless"


def test_an_editor_may_recreate_a_withheld_name_withheld(
    shop: GuideShop, sessions: dict[str, str]
) -> None:
    """Only showing the name again is a lowering: re-creating it SENSITIVE is not, and an
    EDITOR's later edits of what an ADMIN published are not either."""
    attribute = _hold_a_secret(shop, "secret_kept", "imported", "TOPSECRET-kept")
    _get_rid_of(shop, attribute, "delete", sessions["EDITOR"])
    base = f"/v1/parent_segments/{shop.ps}/attributes"
    reply = shop.account.call(
        "POST", base, _imported("secret_kept", SENSITIVE), authorization=sessions["EDITOR"]
    )
    assert reply.status == 200, reply.body
    assert _last_audited(shop, "attribute", reply.json()["id"]) == ("create", False)


# -- stitching keys -----------------------------------------------------------------------


def test_an_editor_cannot_recreate_a_verified_key_unverified(
    shop: GuideShop, sessions: dict[str, str]
) -> None:
    base = f"/v1/parent_segments/{shop.ps}/stitching_keys"
    key = shop.account.ok("POST", base, {"name": "member_id", "verified": True})
    # The trusted private path links M-1 to MEMBER (who has first_name John).
    reply = shop.private("page_views", {"td_client_id": MEMBER, "member_id": "M-1"})
    assert reply.status == 200, reply.body
    reply = shop.account.call("DELETE", f"{base}/{key['id']}", authorization=sessions["EDITOR"])
    assert reply.status == 200, reply.body  # withholds more: allowed

    reply = shop.account.call("POST", base, {"name": "member_id"}, authorization=sessions["EDITOR"])
    assert reply.status == 403, reply.body
    assert reply.json()["message"] == VERIFICATION_OFF_NEEDS_ADMIN
    assert "member_id" not in _names(shop, "stitching_keys")

    def attacker() -> bytes:
        return shop.public("page_views", {"td_client_id": "attacker-1", "member_id": "M-1"}).body

    # Re-created verified, it is allowed, and a browser without a proof still joins no one.
    reply = shop.account.call(
        "POST", base, {"name": "member_id", "verified": True}, authorization=sessions["EDITOR"]
    )
    assert reply.status == 200, reply.body
    assert b"John" not in attacker()
    # Verification off needs an ADMIN whichever way: delete and re-create is called out.
    shop.account.ok("DELETE", f"{base}/{reply.json()['id']}")
    reply = shop.account.call("POST", base, {"name": "member_id"}, authorization=sessions["ADMIN"])
    assert reply.status == 200, reply.body
    assert _last_audited(shop, "stitching_key", reply.json()["id"]) == ("create", True)
    assert b"John" in _eventually(attacker, b"John")  # what the remembered name protected
