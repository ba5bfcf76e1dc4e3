"""The audit log, sensitivity lowering and sign-out, through the real Envoy (issue 13, item 8).

The attack: an EDITOR patched an attribute from SENSITIVE to NON_SENSITIVE and the public
path showed the value about a second later, with no record of who did it. Now lowering
needs an ADMIN, and every admin change of the three services is in ``GET /v1/audit_log``
(ADMIN and OWNER), with who, when, which resource and before/after, but no secret.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from support import stored
from support.admin import PASSWORD, Account
from support.auth import PERMISSION_DENIED, add_user, api_key, sign_in
from support.http import Response, request
from support.offers_shop import MEMBER, SENSITIVE, TIER, GuideShop

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
    return GuideShop.create(account, "Audit shop")


@pytest.fixture(scope="module")
def sessions(account: Account) -> dict[str, str]:
    """The Authorization header of a signed-in user of each role."""
    return {role: add_user(account, role).authorization for role in ("ADMIN", "EDITOR", "VIEWER")}


def _user_id(account: Account, authorization: str) -> str:
    reply = account.call("GET", "/v1/me", authorization=authorization)
    assert reply.status == 200, reply.body
    return str(reply.json()["user_id"])


def _log(account: Account, authorization: str | None = None, **query: Any) -> Response:
    path = "/v1/audit_log" + (f"?{urlencode(query)}" if query else "")
    return account.call("GET", path, authorization=authorization)


def _pages(account: Account, size: int = 100, **query: Any) -> list[Response]:
    """Every page of the log, following ``next_page_token``."""
    pages: list[Response] = []
    token = ""
    while True:
        more = {"page_token": token} if token else {}
        reply = _log(account, page_size=size, **query, **more)
        assert reply.status == 200, reply.body
        assert len(reply.json().get("entries", [])) <= size
        pages.append(reply)
        token = reply.json().get("next_page_token", "")
        if not token:
            return pages


def _entries(account: Account, **query: Any) -> list[dict[str, Any]]:
    return [e for page in _pages(account, **query) for e in page.json().get("entries", [])]


def _attribute_id(shop: GuideShop, name: str) -> str:
    listed = shop.account.ok("GET", f"/v1/parent_segments/{shop.ps}/attributes")["attributes"]
    return str(next(a["id"] for a in listed if a["name"] == name))


def _public_tier(shop: GuideShop) -> bool:
    return TIER.encode() in shop.public("page_views", {"td_client_id": MEMBER}).body


# -- lowering a sensitivity ------------------------------------------------------------


def _lowering(shop: GuideShop, kind: str) -> tuple[str, str, dict[str, Any]]:
    """A fresh sensitive resource of ``kind`` and the PATCH (path, body) that lowers it."""
    base = f"/v1/parent_segments/{shop.ps}"
    n = len(shop.account.ok("GET", f"{base}/attributes")["attributes"])
    if kind == "attribute":
        return (
            "/attributes/" + _attribute_id(shop, "membership_tier"),
            "sensitivity",
            {"sensitivity": "NON_SENSITIVE"},
        )
    if kind == "aggregation":
        created = shop.account.ok(
            "POST",
            f"{base}/attributes",
            {
                "name": f"bought_{n}",
                "type": "LIST",
                "event": "purchase",
                "list": {
                    "max_items": 5,
                    "expire_days": 7,
                    "aggregations": [{"name": "p", "field": "p", "sensitivity": SENSITIVE}],
                },
            },
        )
        lowered: dict[str, Any] = {
            "max_items": 5,
            "expire_days": 7,
            "aggregations": [{"name": "p", "field": "p", "sensitivity": "NON_SENSITIVE"}],
        }
        return f"/attributes/{created['id']}", "list", {"list": lowered}
    created = shop.account.ok(
        "POST", f"{base}/segments", {"name": f"vips_{n}", "sensitivity": SENSITIVE}
    )
    return f"/segments/{created['id']}", "sensitivity", {"sensitivity": "NON_SENSITIVE"}


@pytest.mark.parametrize("kind", ["attribute", "aggregation", "segment"])
def test_an_editor_cannot_lower_a_sensitivity(
    shop: GuideShop, sessions: dict[str, str], kind: str
) -> None:
    path, mask, body = _lowering(shop, kind)
    url = f"/v1/parent_segments/{shop.ps}{path}?update_mask={mask}"
    before = shop.account.ok("GET", url.split("?")[0])
    reply = shop.account.call("PATCH", url, body, authorization=sessions["EDITOR"])
    assert reply.status == 403, reply.body
    assert reply.json()["code"] == 7
    assert reply.json()["message"] == LOWERING_NEEDS_ADMIN
    assert shop.account.ok("GET", url.split("?")[0]) == before  # nothing written
    assert not _public_tier(shop)


def test_an_editor_may_still_raise_a_sensitivity(shop: GuideShop, sessions: dict[str, str]) -> None:
    base = f"/v1/parent_segments/{shop.ps}"
    created = shop.account.ok(
        "POST",
        f"{base}/attributes",
        {"name": "nickname", "type": "IMPORTED", "sensitivity": "NON_SENSITIVE"},
    )
    reply = shop.account.call(
        "PATCH",
        f"{base}/attributes/{created['id']}?update_mask=sensitivity",
        {"sensitivity": SENSITIVE},
        authorization=sessions["EDITOR"],
    )
    assert reply.status == 200, reply.body
    entries = _entries(shop.account, resource_type="attribute", resource_id=created["id"])
    assert [(e["action"], e.get("sensitivity_lowered", False)) for e in entries] == [
        ("create", False),
        ("update", False),
    ]


def test_an_admins_lowering_is_recorded_and_called_out(
    shop: GuideShop, sessions: dict[str, str]
) -> None:
    attribute = _attribute_id(shop, "membership_tier")
    assert not _public_tier(shop)
    reply = shop.account.call(
        "PATCH",
        f"/v1/parent_segments/{shop.ps}/attributes/{attribute}?update_mask=sensitivity",
        {"sensitivity": "NON_SENSITIVE"},
        authorization=sessions["ADMIN"],
    )
    assert reply.status == 200, reply.body
    assert _public_tier(shop)  # what the lowering does: the value is now public
    last = _entries(shop.account, resource_type="attribute", resource_id=attribute)[-1]
    assert last["action"] == "update"
    assert last["sensitivity_lowered"] is True
    assert last["actor"] == f"users/{_user_id(shop.account, sessions['ADMIN'])}"
    assert last["source"] == "profile"
    assert last["parent"] == f"parent_segments/{shop.ps}"
    assert last["account_id"] == shop.account.account_id
    assert last["before"]["sensitivity"] == SENSITIVE
    assert last["after"]["sensitivity"] == "NON_SENSITIVE"
    assert last["time"].endswith("Z")


def test_turning_off_verification_needs_an_admin(shop: GuideShop, sessions: dict[str, str]) -> None:
    base = f"/v1/parent_segments/{shop.ps}/stitching_keys"
    key = shop.account.ok("POST", base, {"name": "member_no", "verified": True})
    url = f"{base}/{key['id']}?update_mask=verified"
    reply = shop.account.call("PATCH", url, {"verified": False}, authorization=sessions["EDITOR"])
    assert reply.status == 403, reply.body
    assert reply.json()["message"] == VERIFICATION_OFF_NEEDS_ADMIN
    assert shop.account.ok("GET", f"{base}/{key['id']}")["verified"] is True
    reply = shop.account.call("PATCH", url, {"verified": False}, authorization=sessions["ADMIN"])
    assert reply.status == 200, reply.body
    last = _entries(shop.account, resource_type="stitching_key", resource_id=key["id"])[-1]
    assert last["sensitivity_lowered"] is True
    assert last["before"]["verified"] is True


# -- who may read it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"), [("VIEWER", False), ("EDITOR", False), ("ADMIN", True)]
)
def test_only_admins_and_owners_read_the_audit_log(
    account: Account, sessions: dict[str, str], role: str, allowed: bool
) -> None:
    reply = _log(account, sessions[role])
    if allowed:
        assert reply.status == 200, reply.body
    else:
        assert reply.status == 403, reply.body
        assert reply.json()["message"] == PERMISSION_DENIED
    owner = f"Bearer {sign_in(account.suite, account.email)}"
    assert _log(account, owner).status == 200
    assert _log(account, f"TD1 {api_key(account, 'WRITE_ONLY')}").status == 403


def test_another_accounts_entries_are_not_shown(account: Account) -> None:
    other = Account.create(account.suite)
    other.parent_segment("Theirs")
    mine = {e["id"] for e in _entries(account)}
    theirs = _entries(other)
    assert theirs
    assert not mine & {e["id"] for e in theirs}
    assert {e["account_id"] for e in theirs} == {other.account_id}


# -- no secret in it -------------------------------------------------------------------------


def test_the_audit_log_holds_no_secret(account: Account) -> None:
    """Tokens, keys, identity secrets, passwords, sessions: none in the log or its rows."""
    password = "audit-secret-passphrase-4711"
    ps = account.parent_segment("Secrets")
    service = account.service(ps, "Web secrets", origins=["https://secrets.example"])
    token = account.ok(
        "POST", f"/v1/parent_segments/{ps}/services/{service}/tokens", {"name": "web"}
    )
    key = account.ok("POST", "/v1/api_keys", {"type": "MASTER"})
    identity_secret = account.ok(
        "POST", f"/v1/parent_segments/{ps}/services/{service}/identity_secrets", {"name": "shop"}
    )
    write_only = api_key(account, "WRITE_ONLY")
    user = account.ok(
        "POST",
        "/v1/users",
        {"email": "secrets@audit.example", "password": password, "role": "ADMIN"},
    )
    session = sign_in(account.suite, "secrets@audit.example", password)
    # A secret pasted where any text goes is a secret still.
    account.ok(
        "PATCH",
        f"/v1/parent_segments/{ps}/services/{service}?update_mask=description",
        {"description": f"do not share {key['key']}"},
    )
    account.ok("DELETE", f"/v1/parent_segments/{ps}/services/{service}/tokens/{token['id']}")
    account.ok("DELETE", f"/v1/api_keys/{key['id']}")
    account.ok(
        "DELETE",
        f"/v1/parent_segments/{ps}/services/{service}/identity_secrets/{identity_secret['id']}",
    )
    secrets = [
        password,
        token["token"],
        token["token"].rsplit("/", 1)[1],
        key["key"],
        identity_secret["secret"],
        write_only,
        session,
        account.api_key,
    ]

    logged = "".join(page.body.decode() for page in _pages(account))
    recorded = {(e["resource_type"], e["action"], e["resource_id"]) for e in _entries(account)}
    assert {
        ("token", "create", token["id"]),
        ("token", "delete", token["id"]),
        ("api_key", "create", key["id"]),
        ("api_key", "delete", key["id"]),
        ("user", "create", user["id"]),
        ("identity_secret", "create", identity_secret["id"]),
        ("identity_secret", "delete", identity_secret["id"]),
        ("service", "update", service),
    } <= recorded
    assert "[REDACTED]" in logged
    rows = _audit_rows(account)
    assert len(rows) >= len(recorded)
    for secret in secrets:
        assert secret not in logged
        assert not [row for row in rows if secret in row]
    assert "p13n_" not in logged


def _audit_rows(account: Account) -> list[str]:
    """Every stored audit row of the three databases, as text."""
    found = []
    for service in ("auth", "profile", "offers"):
        rows = stored.rows(account.suite.settings, service, "SELECT * FROM audit_log")
        found += [json.dumps(list(row), default=str) for row in rows]
    return found


# -- paging and filters ----------------------------------------------------------------------


def test_pages_hold_every_entry_once_in_order(account: Account) -> None:
    ps = account.parent_segment("Paged")
    for n in range(5):
        account.event(ps, f"event_{n}", "paged_db", f"table_{n}")
    everything = _entries(account)
    assert len(everything) >= 6
    paged = [e for page in _pages(account, size=2) for e in page.json().get("entries", [])]
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert len({e["id"] for e in paged}) == len(paged)
    assert {e["source"] for e in everything} >= {"auth", "profile"}


def test_the_log_filters_by_resource_type_and_id(account: Account) -> None:
    ps = account.parent_segment("Filtered")
    event = account.event(ps, "filtered", "filtered_db", "views")
    account.ok(
        "PATCH",
        f"/v1/parent_segments/{ps}/events/{event['id']}?update_mask=table",
        {"table": "views_2"},
    )
    by_type = _entries(account, resource_type="event_definition")
    assert by_type
    assert {e["resource_type"] for e in by_type} == {"event_definition"}
    one = _entries(account, resource_type="event_definition", resource_id=event["id"])
    assert [e["action"] for e in one] == ["create", "update"]
    assert one[1]["before"]["table"] == "views"
    assert one[1]["after"]["table"] == "views_2"


@pytest.mark.parametrize("token", ["x", "eyJhdXRoIjogMX0=", "%%%"])
def test_a_bad_page_token_is_a_clear_400(account: Account, token: str) -> None:
    reply = _log(account, page_token=token)
    assert reply.status == 400, reply.body
    assert reply.json()["message"] == "Page token is invalid: pass next_page_token unchanged"


def test_offers_changes_are_in_the_log(shop: GuideShop) -> None:
    created = _entries(shop.account, resource_type="personalization")
    assert {e["after"]["name"] for e in created if e["action"] == "create"} >= {"Homepage"}
    assert {e["source"] for e in created} == {"offers"}


# -- sign-out and session lifetime -----------------------------------------------------------


def test_sign_out_ends_the_session_at_once(account: Account) -> None:
    user = add_user(account, "VIEWER")
    other = f"Bearer {sign_in(account.suite, user.email)}"
    assert account.call("GET", "/v1/me", authorization=user.authorization).status == 200
    reply = account.call("DELETE", "/v1/sessions/current", authorization=user.authorization)
    assert reply.status == 200, reply.body
    after = account.call("GET", "/v1/me", authorization=user.authorization)
    assert after.status == 401, after.body
    assert after.json()["message"] == "Unknown or expired credentials"
    # Only that session: the user's other one still works.
    assert account.call("GET", "/v1/me", authorization=other).status == 200


def test_an_api_key_has_no_session_to_end(account: Account) -> None:
    reply = account.call("DELETE", "/v1/sessions/current")
    assert reply.status == 401, reply.body
    assert reply.json()["message"].startswith("Signing out needs a session")
    assert account.call("GET", "/v1/me").status == 200


def test_a_session_has_a_lifetime(account: Account) -> None:
    reply = request(
        "POST",
        account.suite.admin_port,
        "/v1/sessions",
        body={"email": account.email, "password": PASSWORD},
    )
    assert reply.status == 200, reply.body
    assert reply.json()["expires_at"].endswith("Z")


def test_an_audit_page_holds_at_most_100(account: Account) -> None:
    for n in range(101):  # a parent segment holds at most 100 event definitions
        if n % 50 == 0:
            ps = account.parent_segment(f"Many {n}")
        account.event(ps, f"many_{n}", "many_db", f"table_{n}")
    reply = _log(account, page_size=1000, resource_type="event_definition")
    assert reply.status == 200, reply.body
    assert len(reply.json()["entries"]) == 100
    assert reply.json()["next_page_token"]
