"""The visitor-claim attack (issue 13), through the real Envoy, and verified identifiers.

The shop's ``member_id`` key accepts ``M-[0-9]{4}``: any browser can type one. Marked
``verified``, a public-path value links profiles only with the proof the shop's server makes
with the service's identity secret; without it the attacker is answered as the anonymous
visitor it is, and the member's profile is not touched. A server with a private token is
trusted and stitches without a proof.

The Ingest API trusts only a master key: a write-only key may sit in a page beside the public
token (design §2.1), so it is as public as the token, and its records' verified values are
left out whatever proof they carry. The proofs field is stored nowhere, on any path.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from p13n.profile.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from support import stored
from support.admin import PASSWORD, Account
from support.auth import add_user, api_key
from support.http import Response, request
from support.offers_shop import DATABASE, MEMBER, ORIGIN, GuideShop

from services.common.events import to_struct
from services.profile.proofs import FIELD, sign

pytestmark = pytest.mark.both_backends

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


# The Ingest API: only a master key is trusted.


def _ingest_http(shop: Shop, key: str, records: list[dict[str, Any]]) -> tuple[int, str]:
    reply = request(
        "POST",
        shop.guide.account.suite.data_port,
        f"/records/{DATABASE}/page_views",
        headers={"authorization": f"TD1 {key}"},
        body={"records": records},
        timeout=30,
    )
    return reply.status, reply.body.decode()


def _ingest_grpc(shop: Shop, key: str, records: list[dict[str, Any]]) -> tuple[int, str]:
    with grpc.insecure_channel(f"127.0.0.1:{shop.guide.account.suite.data_port}") as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        try:
            reply = stub.IngestRecords(
                ingest_service_pb2.IngestRecordsRequest(
                    database=DATABASE, table="page_views", records=[to_struct(r) for r in records]
                ),
                metadata=(("authorization", f"TD1 {key}"),),
                timeout=30,
            )
        except grpc.RpcError as error:
            failed: Any = error  # a grpc.Call as well
            return 400 if failed.code() == grpc.StatusCode.INVALID_ARGUMENT else 500, str(
                failed.details()
            )
    return 200, json.dumps({"received": reply.received})


INGESTS = {"http": _ingest_http, "grpc": _ingest_grpc}


def _stored(shop: Shop, client_id: str) -> list[str]:
    """The stored bodies of the events naming ``client_id`` (read from the profile store)."""
    settings = shop.guide.account.suite.settings
    query = "SELECT body FROM events WHERE body LIKE ? ORDER BY id"
    return [str(body) for (body,) in stored.rows(settings, "profile", query, f'%"{client_id}"%')]


@pytest.mark.parametrize("via", ["http", "grpc"])
def test_a_write_only_key_cannot_claim_a_member_through_the_ingest_api(
    shop: Shop, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The reviewer's attack: the key a page may hold, on the Ingest API."""
    caplog.set_level(logging.INFO)
    before = shop.member()
    write_only = api_key(shop.guide.account, "WRITE_ONLY")
    attacker = f"attacker-ingest-{via}"
    status, body = INGESTS[via](
        shop, write_only, [{"td_client_id": attacker, "member_id": MEMBER_ID}]
    )
    assert (status, json.loads(body)) == (200, {"received": 1})
    _nothing_of_the_member(shop.guide.public("page_views", {"td_client_id": attacker}))
    assert shop.member() == before
    claimed = shop.profile_of(attacker).json()
    assert [i["key"] for i in claimed["identities"]] == ["td_client_id"]
    # Not kept for later either, and recorded by the key's name only.
    stored = _stored(shop, attacker)  # the ingested record, then the page's own event
    assert len(stored) == 2
    assert not any(MEMBER_ID in body for body in stored)
    lines = [r.getMessage() for r in caplog.records if "verified stitching key" in r.getMessage()]
    assert lines, "the unproven claim was not logged"
    assert "member_id" in lines[-1]
    assert "write-only API key" in lines[-1]
    assert all(MEMBER_ID not in r.getMessage() for r in caplog.records)


def test_a_write_only_keys_proof_is_not_accepted_either(shop: Shop) -> None:
    """A write-only key belongs to the account, not to a public service: no service's
    secrets speak for it, so even the site's own proof does not make its record trusted."""
    before = shop.member()
    proof = {"member_id": sign(shop.secret, "member_id", MEMBER_ID)}
    record = {"td_client_id": "ingest-with-proof", "member_id": MEMBER_ID, FIELD: proof}
    status, _ = _ingest_http(shop, api_key(shop.guide.account, "WRITE_ONLY"), [record])
    assert status == 200
    assert shop.member() == before
    _nothing_of_the_member(shop.guide.public("page_views", {"td_client_id": "ingest-with-proof"}))


def test_a_write_only_record_with_only_a_verified_identifier_is_a_clear_400(shop: Shop) -> None:
    write_only = api_key(shop.guide.account, "WRITE_ONLY")
    records = [{"td_client_id": "fine-1"}, {"member_id": MEMBER_ID, "product_name": "oar"}]
    status, body = _ingest_http(shop, write_only, records)
    assert status == 400, body
    message = json.loads(body)["message"]
    assert message.startswith("records[1]: its only identifier is a value of verified")
    assert "master key" in message
    assert _stored(shop, "fine-1") == []  # all or nothing


def test_a_master_key_stitches_without_a_proof(shop: Shop) -> None:
    master = shop.guide.account.api_key
    status, body = _ingest_http(
        shop, master, [{"td_client_id": "back-office", "member_id": MEMBER_ID}]
    )
    assert (status, json.loads(body)) == (200, {"received": 1})
    assert "back-office" in {i["value"] for i in shop.member()["identities"]}
    offers = _offers(shop.guide.public("page_views", {"td_client_id": "back-office"}))
    assert offers[REWARDS]["attributes"]["first_name"] == "John"


def test_proofs_are_stored_nowhere(shop: Shop) -> None:
    """Every path takes the proofs field off before storing: public, private, ingest."""
    proof = {"member_id": sign(shop.secret, "member_id", MEMBER_ID)}
    write_only = api_key(shop.guide.account, "WRITE_ONLY")
    sent: dict[str, Callable[[dict[str, Any]], int]] = {
        "proof-public": lambda e: shop.guide.public("page_views", e).status,
        "proof-private": lambda e: shop.guide.private("page_views", e).status,
        "proof-master": lambda e: _ingest_http(shop, shop.guide.account.api_key, [e])[0],
        "proof-write-only": lambda e: _ingest_http(shop, write_only, [e])[0],
    }
    for client_id, send in sent.items():
        event = {"td_client_id": client_id, "member_id": MEMBER_ID, FIELD: proof}
        assert send(event) == 200, client_id
        bodies = _stored(shop, client_id)
        assert len(bodies) == 1, client_id
        assert FIELD not in bodies[0], client_id
        assert proof["member_id"] not in bodies[0], client_id
