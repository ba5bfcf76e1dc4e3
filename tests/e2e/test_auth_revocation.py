"""Revocation within 5 s on every path (docs/design.md#revocation), through the real Envoy.

A deleted private token, API key or session is refused by the gateway within 5 s of its
deletion; a signed identity ext_authz issued for it before the deletion, captured on its
way to a service and replayed straight to that service's port, is refused within 5 s too
(it is accepted for at most the identity's maximum age); and a streamed import opened with
an API key, authenticated once when it opened, is ended within 5 s of the key's deletion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_service_pb2, identity_service_pb2_grpc
from p13n.offers.v1 import personalize_service_pb2, personalize_service_pb2_grpc
from p13n.profile.v1 import profile_service_pb2 as profile_api
from p13n.profile.v1 import profile_service_pb2_grpc
from support import stored
from support.admin import Account
from support.auth import add_user, passed_auth
from support.http import Response, request
from support.offers_shop import DATABASE, MEMBER, GuideShop
from support.suite import Suite

from services.auth.sql_base import bump_generation
from services.common import identity
from services.common.sql import Sql

pytestmark = pytest.mark.both_backends

BOUND_SECONDS = 5.0
PRIVATE_PATH = f"/{DATABASE}/page_views"
# The gateway calls the HTTP form; its identity is replayed to the typed RPC.
PRIVATE_PERSONALIZE = "/p13n.offers.v1.PersonalizeService/PrivatePersonalizeHttp"
GET_ME = "/p13n.auth.v1.IdentityService/GetMe"


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    return GuideShop.create(account, "Revocation shop")


@dataclass(frozen=True)
class Revoked:
    """A credential just deleted, and when its deletion began."""

    credential: str
    deleted_at: float


def _seconds_until(refused: Callable[[], bool], since: float) -> float:
    """Polls every 0.1 s until ``refused`` holds; the seconds from ``since`` (inf if never)."""
    deadline = since + 2 * BOUND_SECONDS
    while time.monotonic() < deadline:
        if refused():
            return time.monotonic() - since
        time.sleep(0.1)
    return float("inf")


def _private(suite: Suite, token: str) -> Response:
    return request(
        "POST",
        suite.data_port,
        PRIVATE_PATH,
        headers={"wp13n-token": token},
        body={"td_client_id": MEMBER},
    )


def _me(suite: Suite, authorization: str) -> Response:
    return request("GET", suite.admin_port, "/v1/me", headers={"authorization": authorization})


# -- the credentials, each deleted the way its owner (or an operator) deletes it ------------


def _revoked_token(suite: Suite, shop: GuideShop) -> Iterator[Revoked]:
    account = shop.account
    tokens = f"/v1/parent_segments/{shop.ps}/services"
    service = account.service(shop.ps, f"Backend {time.monotonic_ns()}", "PRIVATE")
    created = account.ok("POST", f"{tokens}/{service}/tokens", {"name": "soon gone"})
    assert passed_auth(_private(suite, created["token"]))
    yield Revoked(created["token"], time.monotonic())
    account.ok("DELETE", f"{tokens}/{service}/tokens/{created['id']}")


def _revoked_api_key(suite: Suite, shop: GuideShop) -> Iterator[Revoked]:
    created = shop.account.ok("POST", "/v1/api_keys", {"type": "MASTER"})
    authorization = f"TD1 {created['key']}"
    assert _me(suite, authorization).status == 200
    yield Revoked(authorization, time.monotonic())
    shop.account.ok("DELETE", f"/v1/api_keys/{created['id']}")


def _revoked_session(suite: Suite, shop: GuideShop) -> Iterator[Revoked]:
    """There is no sign-out RPC yet: a session leaves the store when it expires or an
    operator deletes it, bumping the generation in the same transaction as the store's
    contract requires (services/auth/store_protocols.py)."""
    user = add_user(shop.account, "VIEWER")
    assert _me(suite, user.authorization).status == 200
    yield Revoked(user.authorization, time.monotonic())

    async def delete(sql: Sql) -> None:
        await sql.execute(
            "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = ?)",
            user.email,
        )
        await bump_generation(sql)

    stored.transaction(suite.settings, "auth", delete)


def _revoke(
    revoking: Callable[[Suite, GuideShop], Iterator[Revoked]], suite: Suite, shop: GuideShop
) -> Revoked:
    """Makes the credential, proves it works, deletes it; the time is taken before the delete."""
    steps = revoking(suite, shop)
    revoked = next(steps)
    next(steps, None)
    return revoked


# -- the HTTP path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revoking", "refused"),
    [
        pytest.param(
            _revoked_token, lambda suite, c: _private(suite, c).status == 401, id="private-token"
        ),
        pytest.param(_revoked_api_key, lambda suite, c: _me(suite, c).status == 401, id="api-key"),
        pytest.param(_revoked_session, lambda suite, c: _me(suite, c).status == 401, id="session"),
    ],
)
def test_a_deleted_credential_is_refused_by_the_gateway_within_5_seconds(
    suite: Suite, shop: GuideShop, revoking: Any, refused: Callable[[Suite, str], bool]
) -> None:
    revoked = _revoke(revoking, suite, shop)
    elapsed = _seconds_until(lambda: refused(suite, revoked.credential), revoked.deleted_at)
    assert elapsed <= BOUND_SECONDS


# -- an identity captured before the deletion, replayed to a service ---------------------------


def _captured(suite: Suite, method: str, before: int, service: str) -> str:
    calls = [c for c in suite.recorders[service].calls[before:] if c.method == method]
    return calls[-1].metadata[identity.IDENTITY_HEADER]


def _personalize_with(suite: Suite, header: str) -> grpc.StatusCode:
    event = personalize_service_pb2.PrivatePersonalizeRequest(database=DATABASE, table="page_views")
    event.event.update({"td_client_id": MEMBER})
    # As the gateway (mutual TLS): the one component that may present an identity there.
    with suite.channel("offers") as channel:
        stub = personalize_service_pb2_grpc.PersonalizeServiceStub(channel)
        try:
            stub.PrivatePersonalize(
                event, metadata=((identity.IDENTITY_HEADER, header),), timeout=5
            )
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def _get_me_with(suite: Suite, header: str) -> grpc.StatusCode:
    with suite.channel("auth") as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        try:
            stub.GetMe(
                identity_service_pb2.GetMeRequest(),
                metadata=((identity.IDENTITY_HEADER, header),),
                timeout=5,
            )
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


@dataclass(frozen=True)
class Replay:
    revoking: Callable[[Suite, GuideShop], Iterator[Revoked]]
    use: Callable[[Suite, str], Response]  # one request through the gateway
    service: str  # where its identity goes
    method: str
    replay: Callable[[Suite, str], grpc.StatusCode]  # the identity sent straight there


REPLAYS = [
    pytest.param(
        Replay(_revoked_token, _private, "offers", PRIVATE_PERSONALIZE, _personalize_with),
        id="private-token-identity-to-offers",
    ),
    pytest.param(
        Replay(_revoked_api_key, _me, "auth", GET_ME, _get_me_with),
        id="api-key-identity-to-auth",
    ),
    pytest.param(
        Replay(_revoked_session, _me, "auth", GET_ME, _get_me_with),
        id="session-identity-to-auth",
    ),
]


@pytest.mark.parametrize("case", REPLAYS)
def test_an_identity_issued_before_the_deletion_is_refused_within_5_seconds(
    suite: Suite, shop: GuideShop, case: Replay
) -> None:
    steps = case.revoking(suite, shop)
    revoked = next(steps)
    before = len(suite.recorders[case.service].calls)
    assert passed_auth(case.use(suite, revoked.credential))
    header = _captured(suite, case.method, before, case.service)
    # The replay works while the identity is fresh: the harness can reach the service.
    assert case.replay(suite, header) == grpc.StatusCode.OK
    deleted_at = time.monotonic()
    next(steps, None)
    elapsed = _seconds_until(
        lambda: case.replay(suite, header) == grpc.StatusCode.UNAUTHENTICATED, deleted_at
    )
    assert elapsed <= BOUND_SECONDS


# -- a stream that outlives its credential ------------------------------------------------------


def _import_chunks(
    ps: str, first_reply: threading.Event, until: float
) -> Iterator[profile_api.StreamImportAttributesRequest]:
    """A chunk, then (once it was reported) one every 0.2 s until ``until``."""
    n = 0
    while time.monotonic() < until:
        yield profile_api.StreamImportAttributesRequest(
            parent_segment_id=ps if n == 0 else "",
            key="member_id" if n == 0 else "",
            records=[profile_api.ImportRecord(value=f"m{n}")],
        )
        if n == 0:
            first_reply.wait(BOUND_SECONDS)
        n += 1
        time.sleep(0.2)


def _read(
    replies: Iterator[profile_api.StreamImportAttributesResponse],
    progress: list[int],
    after_first: Callable[[], None],
) -> None:
    """Reads the progress replies into ``progress``, calling ``after_first`` after the first."""
    for reply in replies:
        progress.append(reply.imported)
        if len(progress) == 1:
            after_first()


def test_a_streamed_import_is_refused_within_5_seconds_of_its_api_key_deletion(
    suite: Suite, shop: GuideShop
) -> None:
    account = shop.account
    ps = account.parent_segment(f"Imports {time.monotonic_ns()}")
    account.ok("POST", f"/v1/parent_segments/{ps}/stitching_keys", {"name": "member_id"})
    created = account.ok("POST", "/v1/api_keys", {"type": "MASTER"})
    first_reply = threading.Event()
    deleted_at: list[float] = []
    progress: list[int] = []

    def delete_key() -> None:
        deleted_at.append(time.monotonic())
        account.ok("DELETE", f"/v1/api_keys/{created['id']}")
        first_reply.set()

    with grpc.insecure_channel(f"127.0.0.1:{suite.admin_port}") as channel:
        stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
        replies = stub.StreamImportAttributes(
            _import_chunks(ps, first_reply, time.monotonic() + 4 * BOUND_SECONDS),
            metadata=(("authorization", f"TD1 {created['key']}"),),
            timeout=6 * BOUND_SECONDS,
        )
        with pytest.raises(grpc.RpcError) as refused:
            _read(replies, progress, delete_key)
        elapsed = time.monotonic() - deleted_at[0]
    error = refused.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert "revoked" in (error.details() or "")
    assert progress[0] == 1
    assert elapsed <= BOUND_SECONDS
