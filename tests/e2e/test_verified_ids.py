"""The visitor-claim attack (issue 13), through the real Envoy, and verified identifiers.

The shop's ``member_id`` key accepts ``M-[0-9]{4}``: any browser can type one. Marked
``verified``, a public-path value links profiles only with the proof the shop's server makes
with the service's identity secret; without it the attacker is answered as the anonymous
visitor it is, and the member's profile is not touched. A server with a private token is
trusted and stitches without a proof.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import pytest
from support.admin import PASSWORD, Account
from support.auth import add_user
from support.http import Response
from support.offers_shop import MEMBER, ORIGIN, GuideShop

from services.profile.proofs import sign

MEMBER_ID = "M-1001"  # the member's card number, linked to MEMBER's profile by the shop
REWARDS = "Silver rewards just for you!"  # shows the member's first name and purchases


@dataclass
class Shop:
    guide: GuideShop
    service: str  # the public service's id
    secret: str  # its identity secret, as the create response showed it
    other_secret: str  # another public service's secret

    @property
    def base(self) -> str:
        return f"/v1/parent_segments/{self.guide.ps}"

    def member(self, key: str = "member_id", value: str = MEMBER_ID) -> dict[str, Any]:
        """The member's profile as the admin API shows it."""
        profile: dict[str, Any] = self.guide.account.ok(
            "GET", f"{self.base}/profiles/{key}/{value}"
        )
        return profile

    def profile_of(self, client_id: str) -> Response:
        return self.guide.account.call("GET", f"{self.base}/profiles/td_client_id/{client_id}")


def _secret(account: Account, base: str, service: str, name: str = "current") -> dict[str, Any]:
    created: dict[str, Any] = account.ok(
        "POST", f"{base}/services/{service}/identity_secrets", {"name": name}
    )
    return created


@pytest.fixture(scope="module")
def shop(account: Account) -> Shop:
    guide = GuideShop.create(account, "Verified shop")
    base = f"/v1/parent_segments/{guide.ps}"
    account.ok(
        "POST",
        f"{base}/attributes",
        {
            "name": "recently_viewed",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 10,
                "expire_days": 30,
                "aggregations": [
                    {"name": "product", "field": "product_name", "sensitivity": "NON_SENSITIVE"}
                ],
            },
        },
    )
    key = account.ok(
        "POST",
        f"{base}/stitching_keys",
        {"name": "member_id", "regex": "M-[0-9]{4}", "verified": True},
    )
    assert key["verified"] is True
    services = account.ok("GET", f"{base}/services")["services"]
    web = next(s["id"] for s in services if s["name"] == "Web")
    other = account.service(guide.ps, "Other web", origins=[ORIGIN])
    # The member signs in at the shop: its server links the card to the browser (trusted).
    for event in (
        {"td_client_id": MEMBER, "member_id": MEMBER_ID, "product_name": "lantern"},
        {"td_client_id": MEMBER, "amount": 20000, "product_name": "tent"},
        {"td_client_id": MEMBER, "amount": 8700, "product_name": "stove"},
    ):
        table = "purchases" if "amount" in event else "page_views"
        assert guide.private(table, event).status == 200
    return Shop(
        guide,
        web,
        _secret(account, base, web)["secret"],
        _secret(account, base, other)["secret"],
    )


def _offers(reply: Response) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    offers: dict[str, Any] = json.loads(reply.body)["offers"]
    return offers


def _claim(shop: Shop, visitor: str, proofs: dict[str, str] | None = None) -> Response:
    """A new browser's three product views, then the event naming the member's card."""
    for product in ("kayak", "paddle", "helmet"):
        viewed = shop.guide.public("page_views", {"td_client_id": visitor, "product_name": product})
        assert viewed.status == 200, viewed.body
    event: dict[str, Any] = {"td_client_id": visitor, "member_id": MEMBER_ID}
    if proofs is not None:
        event["p13n_proofs"] = proofs
    return shop.guide.public("page_views", event)


def _nothing_of_the_member(reply: Response) -> None:
    offers = _offers(reply)
    assert REWARDS not in offers
    for trace in (b"John", b"28700", b"tent", b"stove", b"lantern"):
        assert trace not in reply.body


def test_the_members_own_answer_shows_their_rewards(shop: Shop) -> None:
    """The baseline the attack is measured against."""
    offers = _offers(shop.guide.public("page_views", {"td_client_id": MEMBER}))
    assert offers[REWARDS]["attributes"]["first_name"] == "John"


def test_claiming_a_member_without_a_proof_gets_nothing_of_theirs(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = shop.member()
    reply = _claim(shop, "attacker-1")
    _nothing_of_the_member(reply)
    # The member's profile, identities and lists ("Recently viewed") are untouched.
    assert shop.member() == before
    assert shop.member("td_client_id", MEMBER) == before
    # The attacker's own profile did not gain the card either.
    attacker = shop.profile_of("attacker-1").json()
    assert [i["key"] for i in attacker["identities"]] == ["td_client_id"]
    # Recorded by the key's name, never by the value claimed.
    lines = [r.getMessage() for r in caplog.records if "verified stitching key" in r.getMessage()]
    assert lines, "the unproven claim was not logged"
    assert "member_id" in lines[-1]
    assert "without a proof" in lines[-1]
    assert all(MEMBER_ID not in r.getMessage() for r in caplog.records)


def _wrong_proofs(shop: Shop) -> dict[str, dict[str, str]]:
    return {
        "garbage": {"member_id": "00" * 32},
        "other-value": {"member_id": sign(shop.secret, "member_id", "M-1002")},
        "other-key": {"member_id": sign(shop.secret, "td_client_id", MEMBER_ID)},
        "under-another-key": {"td_client_id": sign(shop.secret, "member_id", MEMBER_ID)},
        "other-services-secret": {"member_id": sign(shop.other_secret, "member_id", MEMBER_ID)},
    }


@pytest.mark.parametrize(
    "case", ["garbage", "other-value", "other-key", "under-another-key", "other-services-secret"]
)
def test_a_bad_proof_or_a_proof_for_another_key_is_ignored(shop: Shop, case: str) -> None:
    before = shop.member()
    reply = _claim(shop, f"attacker-{case}", _wrong_proofs(shop)[case])
    _nothing_of_the_member(reply)
    assert shop.member() == before


def test_the_sites_proof_joins_the_members_profile(shop: Shop) -> None:
    proof = sign(shop.secret, "member_id", MEMBER_ID)
    reply = _claim(shop, "members-phone", {"member_id": proof})
    offers = _offers(reply)
    assert offers[REWARDS]["attributes"]["first_name"] == "John"
    assert offers[REWARDS]["attributes"]["total_purchase"] == 28700
    joined = shop.member()
    assert ("td_client_id", "members-phone") in {
        (i["key"], i["value"]) for i in joined["identities"]
    }
    # The proofs are not stored with the event, nor taken for an attribute.
    assert b"p13n_proofs" not in reply.body


def test_the_private_path_stitches_without_a_proof(shop: Shop) -> None:
    reply = shop.guide.private("page_views", {"td_client_id": "till-7", "member_id": MEMBER_ID})
    offers = _offers(reply)
    assert offers[REWARDS]["attributes"]["first_name"] == "John"
    assert "till-7" in {i["value"] for i in shop.member()["identities"]}


def test_a_public_token_on_the_private_path_still_needs_a_proof(shop: Shop) -> None:
    """A public token is readable by anyone who opens the page: the path does not make it
    trusted."""
    before = shop.member()
    reply = shop.guide.private(
        "page_views",
        {"td_client_id": "attacker-private-path", "member_id": MEMBER_ID},
        token=shop.guide.public_token,
    )
    _nothing_of_the_member(reply)
    assert shop.member() == before


def test_a_malformed_proofs_field_is_a_clear_400(shop: Shop) -> None:
    reply = shop.guide.public("page_views", {"td_client_id": "careless-dev", "p13n_proofs": "abc"})
    assert reply.status == 400, reply.body
    assert "p13n_proofs must be an object" in reply.json()["message"]


def test_a_deleted_secret_stops_proving_within_seconds(shop: Shop) -> None:
    account, base = shop.guide.account, shop.base
    rotated = _secret(account, base, shop.service, "rotated")
    proof = {"member_id": sign(rotated["secret"], "member_id", MEMBER_ID)}
    # Profile keeps a service's secrets for at most 2 seconds: the new one counts by then.
    deadline = time.monotonic() + 5
    while REWARDS not in _offers(_claim(shop, "rotation-1", proof)):
        assert time.monotonic() < deadline, "the new secret never started to count"
        time.sleep(0.2)
    account.ok("DELETE", f"{base}/services/{shop.service}/identity_secrets/{rotated['id']}")
    time.sleep(2.5)  # profile keeps a service's secrets for at most 2 seconds
    before = shop.member()
    _nothing_of_the_member(_claim(shop, "rotation-2", proof))
    assert shop.member() == before


def test_identity_secrets_are_shown_once_listed_without_value_and_revealed_to_a_session(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account, base = shop.guide.account, shop.base
    secrets = f"{base}/services/{shop.service}/identity_secrets"
    listed = account.ok("GET", secrets)["identity_secrets"]
    assert [s["name"] for s in listed][:1] == ["current"]
    assert all(s.get("secret", "") == "" for s in listed)
    first = listed[0]["id"]
    # An API key cannot reveal; a freshly re-authenticated session can.
    by_key = account.call("POST", f"{secrets}/{first}:reveal", {})
    assert by_key.status == 401
    assert by_key.json()["message"].startswith("Re-authentication required")
    admin = add_user(account, "ADMIN")
    account.call(
        "POST",
        "/v1/sessions:reauthenticate",
        {"password": PASSWORD},
        authorization=admin.authorization,
    )
    revealed = account.call(
        "POST", f"{secrets}/{first}:reveal", {}, authorization=admin.authorization
    )
    assert revealed.status == 200, revealed.body
    assert revealed.json()["secret"] == shop.secret
    # A proof checked on the way (profile asks auth for the secrets), then the logs.
    _claim(shop, "log-check", {"member_id": sign(shop.secret, "member_id", MEMBER_ID)})
    messages = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert f"identity secret {first} of service {shop.service} revealed" in messages
    assert shop.secret not in messages
    assert shop.secret[len("p13n_idv_") :][:16] not in messages


def test_a_private_service_has_no_identity_secrets(shop: Shop) -> None:
    account, base = shop.guide.account, shop.base
    backend = next(
        s["id"] for s in account.ok("GET", f"{base}/services")["services"] if s["name"] == "Backend"
    )
    reply = account.call("POST", f"{base}/services/{backend}/identity_secrets", {"name": "nope"})
    assert reply.status == 400, reply.body
    assert "private service" in reply.json()["message"]


def test_at_most_five_identity_secrets_per_service(shop: Shop) -> None:
    account, base = shop.guide.account, shop.base
    service = account.service(shop.guide.ps, "Crowded web", origins=[ORIGIN])
    for n in range(5):
        _secret(account, base, service, f"s{n}")
    reply = account.call(
        "POST", f"{base}/services/{service}/identity_secrets", {"name": "one too many"}
    )
    assert reply.status == 429, reply.body
    assert "at most 5" in reply.json()["message"]
