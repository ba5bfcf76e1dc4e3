"""Token, Origin, CORS and IP decisions of docs/design.md#data-plane, through the real Envoy.

A request the decision lets through reaches the offers service carrying a signed identity;
one it refuses gets its 4xx with no ``Access-Control-*`` header and reaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from p13n.auth.v1 import identity_pb2
from support.admin import Account
from support.auth import api_key, passed_auth, personalize
from support.http import Response, request
from support.suite import Call, Suite

from services.auth import secrets
from services.common import identity as identities

pytestmark = pytest.mark.both_backends

PUBLIC_PATH = "/public/shop_db/page_views"
PRIVATE_PATH = "/shop_db/page_views"
ORIGIN = "https://shop.example"
ALLOWED_ADDRESS = "127.0.0.2"
PERSONALIZE = "/p13n.offers.v1.PersonalizeService/"


@dataclass(frozen=True)
class World:
    account: Account
    public: str  # token of a public service allowing https://*.shop.example and ORIGIN
    private: str  # token of a private service, no IP allow-list
    restricted: str  # private token allowed from 127.0.0.2 only
    revoked: str  # a deleted public token
    unknown: str  # well formed, right account and reactor, never issued
    write_only_key: str
    other_write_only_key: str  # of another account
    token_ids: dict[str, str]


@pytest.fixture(scope="module")
def world(suite: Suite, account: Account) -> World:
    ps = account.parent_segment("Gateway")
    account.event(ps, "page_view", "shop_db", "page_views")
    web = account.service(ps, "Web", "PUBLIC", ["https://*.shop.example", ORIGIN])
    backend = account.service(ps, "Backend", "PRIVATE")
    tokens = f"/v1/parent_segments/{ps}/services"
    created = {
        "public": account.ok("POST", f"{tokens}/{web}/tokens", {"name": "web"}),
        "private": account.ok("POST", f"{tokens}/{backend}/tokens", {"name": "server"}),
        "restricted": account.ok(
            "POST",
            f"{tokens}/{backend}/tokens",
            {"name": "office", "allowed_ips": [f"{ALLOWED_ADDRESS}/32"]},
        ),
        "revoked": account.ok("POST", f"{tokens}/{web}/tokens", {"name": "old"}),
    }
    account.ok("DELETE", f"{tokens}/{web}/tokens/{created['revoked']['id']}")
    account_id, reactor_id, _ = created["public"]["token"].split("/")
    unknown = secrets.make_token(
        account_id, reactor_id, secrets.generate_secret(secrets.SecretKind.PUBLIC_TOKEN)
    )
    other = Account.create(suite)
    return World(
        account=account,
        public=created["public"]["token"],
        private=created["private"]["token"],
        restricted=created["restricted"]["token"],
        revoked=created["revoked"]["token"],
        unknown=unknown.reveal(),
        write_only_key=api_key(account, "WRITE_ONLY"),
        other_write_only_key=api_key(other, "WRITE_ONLY"),
        token_ids={name: str(c["id"]) for name, c in created.items()},
    )


def _reached_offers(suite: Suite, before: int) -> list[Call]:
    return [c for c in suite.recorders["offers"].calls[before:] if c.method.startswith(PERSONALIZE)]


def _identity(suite: Suite, call: Call) -> identity_pb2.Identity:
    return identities.verify(call.metadata[identities.IDENTITY_HEADER], suite.settings.internal_key)


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://a.shop.example", id="wildcard-label"),
        pytest.param("https://www.shop.example", id="wildcard-www"),
        pytest.param(ORIGIN, id="exact"),
    ],
)
def test_valid_public_token_from_allowed_origin_gets_cors(
    suite: Suite, world: World, origin: str
) -> None:
    before = len(suite.recorders["offers"].calls)
    reply = personalize(suite, PUBLIC_PATH, token=world.public, origin=origin)
    assert passed_auth(reply), reply.body
    assert reply.headers["access-control-allow-origin"] == origin
    assert "Origin" in reply.headers["vary"]
    (call,) = _reached_offers(suite, before)
    assert call.method.endswith("/PublicPersonalize")
    assert _identity(suite, call).token_id == world.token_ids["public"]


def test_write_only_key_of_the_same_account_may_come_along(suite: Suite, world: World) -> None:
    reply = personalize(
        suite,
        PUBLIC_PATH,
        token=world.public,
        origin=ORIGIN,
        headers={"authorization": f"TD1 {world.write_only_key}"},
    )
    assert passed_auth(reply), reply.body
    assert reply.headers["access-control-allow-origin"] == ORIGIN


@dataclass(frozen=True)
class Refusal:
    token: str | None  # a World attribute, or None for no token at all
    origin: str | None = ORIGIN
    authorization: str | None = None  # a World attribute holding an API key
    raw_token: str | None = None  # a literal token string instead


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        pytest.param(Refusal(None), 401, id="no-token"),
        pytest.param(Refusal(None, raw_token="not-a-token"), 401, id="malformed-token"),
        pytest.param(Refusal(None, raw_token="1/2/p13n_pub_short"), 401, id="malformed-secret"),
        pytest.param(Refusal("unknown"), 401, id="unknown-token"),
        pytest.param(Refusal("revoked"), 401, id="revoked-token"),
        pytest.param(Refusal("private"), 403, id="private-token-on-public-path"),
        pytest.param(Refusal("public", origin=None), 403, id="origin-missing"),
        pytest.param(Refusal("public", origin="https://evil.example"), 403, id="origin-other"),
        pytest.param(
            Refusal("public", origin="https://shop.example.evil.com"), 403, id="origin-suffix"
        ),
        pytest.param(
            Refusal("public", origin="https://a.b.shop.example"), 403, id="origin-two-labels"
        ),
        pytest.param(Refusal("public", origin="http://a.shop.example"), 403, id="origin-scheme"),
        pytest.param(Refusal("public", origin="https://shop.example:8443"), 403, id="origin-port"),
        pytest.param(Refusal("public", origin="null"), 403, id="origin-null"),
        pytest.param(
            Refusal("public", authorization="master"), 403, id="full-access-key-in-browser"
        ),
        pytest.param(
            Refusal("public", authorization="other_write_only_key"), 401, id="foreign-write-key"
        ),
    ],
)
def test_refusals_carry_no_cors_headers(
    suite: Suite, world: World, refusal: Refusal, status: int
) -> None:
    token = refusal.raw_token if refusal.token is None else getattr(world, refusal.token)
    headers = {}
    if refusal.authorization == "master":
        headers["authorization"] = f"TD1 {world.account.api_key}"
    elif refusal.authorization:
        headers["authorization"] = f"TD1 {getattr(world, refusal.authorization)}"
    before = len(suite.recorders["offers"].calls)
    reply = personalize(suite, PUBLIC_PATH, token=token, origin=refusal.origin, headers=headers)
    assert reply.status == status, reply.body
    assert reply.cors_headers() == {}
    assert reply.json()["code"] == {401: 16, 403: 7}[status]
    assert reply.json()["message"]
    assert _reached_offers(suite, before) == []


@pytest.mark.parametrize("token", ["public", "private"])
def test_private_path_takes_both_token_types_and_never_sends_cors(
    suite: Suite, world: World, token: str
) -> None:
    before = len(suite.recorders["offers"].calls)
    reply = personalize(suite, PRIVATE_PATH, token=getattr(world, token), origin=ORIGIN)
    assert passed_auth(reply), reply.body
    assert reply.cors_headers() == {}
    (call,) = _reached_offers(suite, before)
    # The gateway's private path (a direct gRPC caller uses PrivatePersonalize).
    assert call.method.endswith("/PrivatePersonalizeHttp")
    assert _identity(suite, call).token_id == world.token_ids[token]


def test_ip_allow_list_admits_a_listed_address(suite: Suite, world: World) -> None:
    before = len(suite.recorders["offers"].calls)
    reply = personalize(suite, PRIVATE_PATH, token=world.restricted, source=ALLOWED_ADDRESS)
    assert passed_auth(reply), reply.body
    assert len(_reached_offers(suite, before)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="plain"),
        pytest.param({"x-forwarded-for": ALLOWED_ADDRESS}, id="x-forwarded-for"),
        pytest.param({"x-forwarded-for": f"{ALLOWED_ADDRESS}, 127.0.0.1"}, id="xff-chain"),
        pytest.param({"x-real-ip": ALLOWED_ADDRESS}, id="x-real-ip"),
        pytest.param({"forwarded": f"for={ALLOWED_ADDRESS}"}, id="forwarded"),
        pytest.param({"x-envoy-external-address": ALLOWED_ADDRESS}, id="envoy-external"),
    ],
)
def test_ip_allow_list_refuses_other_addresses_whatever_the_headers_say(
    suite: Suite, world: World, headers: dict[str, str]
) -> None:
    before = len(suite.recorders["offers"].calls)
    reply = personalize(
        suite, PRIVATE_PATH, token=world.restricted, headers=headers, source="127.0.0.1"
    )
    assert reply.status == 403, reply.body
    assert reply.cors_headers() == {}
    assert _reached_offers(suite, before) == []


def _no_credentials(call: Call) -> None:
    assert "wp13n-token" not in call.metadata
    assert "authorization" not in call.metadata
    assert identities.IDENTITY_HEADER in call.metadata


def test_credentials_do_not_travel_upstream(suite: Suite, world: World) -> None:
    """Envoy removes WP13n-Token and Authorization once the decision is made."""
    offers, profile, auth = (suite.recorders[n].calls for n in ("offers", "profile", "auth"))
    marks = len(offers), len(profile), len(auth)
    browser = personalize(
        suite,
        PUBLIC_PATH,
        token=world.public,
        origin=ORIGIN,
        headers={"authorization": f"TD1 {world.write_only_key}"},
    )
    server = personalize(suite, PRIVATE_PATH, token=world.private)
    ingest = request(
        "POST",
        suite.data_port,
        "/records/shop_db/page_views",
        headers={"authorization": f"TD1 {world.write_only_key}"},
        body={"records": [{"td_client_id": "v"}]},
    )
    admin = world.account.call("GET", "/v1/me")
    assert all(passed_auth(r) for r in (browser, server, ingest, admin))
    personalized = [c for c in offers[marks[0] :] if c.method.startswith(PERSONALIZE)]
    ingested = [c for c in profile[marks[1] :] if c.method.endswith("/IngestRecords")]
    me = [c for c in auth[marks[2] :] if c.method.endswith("/GetMe")]
    assert (len(personalized), len(ingested), len(me)) == (2, 1, 1)
    for call in (*personalized, *ingested, *me):
        _no_credentials(call)


def _preflight(suite: Suite, origin: str) -> Response:
    return request(
        "OPTIONS",
        suite.data_port,
        PUBLIC_PATH,
        headers={"origin": origin, "access-control-request-method": "POST"},
    )


@pytest.mark.usefixtures("world")
def test_preflight_follows_the_allowed_origins(suite: Suite) -> None:
    import time

    deadline = time.monotonic() + 5  # the event-table list is refreshed every 2 s
    allowed = _preflight(suite, "https://a.shop.example")
    while allowed.status != 204 and time.monotonic() < deadline:
        time.sleep(0.2)
        allowed = _preflight(suite, "https://a.shop.example")
    assert allowed.status == 204
    assert allowed.headers["access-control-allow-origin"] == "https://a.shop.example"
    assert "wp13n-token" in allowed.headers["access-control-allow-headers"].lower()
    refused = _preflight(suite, "https://shop.example.evil.com")
    assert refused.status == 403
    assert refused.cors_headers() == {}
