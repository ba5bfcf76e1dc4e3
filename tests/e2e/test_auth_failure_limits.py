"""Failure limits on every credential check, through the real Envoy (docs/design.md#failure-limits).

An attacker sends 1,000 wrong credentials from one loopback address; after the budget the
gateway answers 429 with ``Retry-After`` and a message that says what to do, while the right
credential from another loopback address still works. Each test uses its own 127.0.2.x
addresses, so budgets never mix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from p13n.profile.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from support.admin import PASSWORD, Account
from support.auth import SHOP, add_user, api_key, passed_auth, personalize, sign_in
from support.http import Response, request
from support.suite import Suite

from services.auth import failures, secrets
from services.auth.directory import FAILURE_LIMIT
from services.auth.ratelimit import Limit
from services.common.events import to_struct

ATTEMPTS = 1000
ADMIN_LIMIT = failures.ADDRESS_FAILURES
ADMIN_BUDGET = ADMIN_LIMIT.burst
INGEST_PATH = "/records/shop_db/page_views"
PUBLIC_PATH = "/public/shop_db/page_views"
# Longer than any stored password: refused without argon2, so 1,000 of them are quick.
LONG_WRONG = "x" * 300


@dataclass(frozen=True)
class Target:
    """What the attacks aim at: the suite, an account, and its published public token."""

    suite: Suite
    account: Account
    public_token: str


@pytest.fixture(scope="module")
def target(suite: Suite, account: Account) -> Target:
    ps = account.parent_segment("Failure limits")
    account.event(ps, "page_view", "shop_db", "page_views")
    return Target(suite, account, account.token(ps, account.service(ps, "Web", "PUBLIC", [SHOP])))


@dataclass(frozen=True)
class Attack:
    name: str
    attempt: Callable[[Target, str, int], Response]  # the n-th wrong try, from an address
    right: Callable[[Target, str], Response]  # the owner's right try, from an address
    limit: Limit  # the failure budget the wrong tries spend


def _me(suite: Suite, authorization: str, source: str) -> Response:
    return request(
        "GET", suite.admin_port, "/v1/me", headers={"authorization": authorization}, source=source
    )


def _wrong_master_key(target: Target, source: str, _n: int) -> Response:
    key = secrets.generate_secret(secrets.SecretKind.MASTER_KEY).reveal()
    return _me(target.suite, f"TD1 {key}", source)


def _wrong_session(target: Target, source: str, _n: int) -> Response:
    session = secrets.generate_secret(secrets.SecretKind.SESSION).reveal()
    return _me(target.suite, f"Bearer {session}", source)


def _right_key(target: Target, source: str) -> Response:
    return _me(target.suite, f"TD1 {target.account.api_key}", source)


def _right_session(target: Target, source: str) -> Response:
    """The owner's own session (signed in from ``source``) on the attacked listener."""
    signed_in = _sign_in(target.suite, target.account.email, PASSWORD, source)
    assert signed_in.status == 200, signed_in.body
    return _me(target.suite, f"Bearer {signed_in.json()['session_token']}", source)


def _sign_in(suite: Suite, email: str, password: str, source: str) -> Response:
    body = {"email": email, "password": password}
    return request("POST", suite.admin_port, "/v1/sessions", body=body, source=source)


def _wrong_password(target: Target, source: str, n: int) -> Response:
    return _sign_in(target.suite, target.account.email, f"{n:04d}{LONG_WRONG}", source)


def _right_password(target: Target, source: str) -> Response:
    return _sign_in(target.suite, target.account.email, PASSWORD, source)


def _ingest(suite: Suite, key: str, source: str) -> Response:
    body = {"records": [{"td_client_id": "visitor-1"}]}
    headers = {"authorization": f"TD1 {key}"}
    return request("POST", suite.data_port, INGEST_PATH, headers=headers, body=body, source=source)


def _wrong_write_only_key(target: Target, source: str, _n: int) -> Response:
    key = secrets.generate_secret(secrets.SecretKind.WRITE_ONLY_KEY).reveal()
    return _ingest(target.suite, key, source)


def _right_write_only_key(target: Target, source: str) -> Response:
    return _ingest(target.suite, api_key(target.account, "WRITE_ONLY"), source)


def _from_browser(target: Target, key: str, source: str) -> Response:
    """An event with a write-only key beside the public token, as a shop's page sends it."""
    return personalize(
        target.suite,
        PUBLIC_PATH,
        token=target.public_token,
        origin=SHOP,
        headers={"authorization": f"TD1 {key}"},
        source=source,
    )


def _wrong_browser_key(target: Target, source: str, _n: int) -> Response:
    key = secrets.generate_secret(secrets.SecretKind.WRITE_ONLY_KEY).reveal()
    return _from_browser(target, key, source)


def _right_browser_key(target: Target, source: str) -> Response:
    return _from_browser(target, api_key(target.account, "WRITE_ONLY"), source)


API_KEY = Attack("master key", _wrong_master_key, _right_key, ADMIN_LIMIT)
SESSION = Attack("session", _wrong_session, _right_session, ADMIN_LIMIT)
SIGN_IN = Attack("sign-in", _wrong_password, _right_password, ADMIN_LIMIT)
INGEST_KEY = Attack("ingest key", _wrong_write_only_key, _right_write_only_key, FAILURE_LIMIT)
BROWSER_KEY = Attack("browser key", _wrong_browser_key, _right_browser_key, FAILURE_LIMIT)
ATTACKS = [
    pytest.param(API_KEY, id="api-key"),
    pytest.param(SESSION, id="session"),
    pytest.param(SIGN_IN, id="create-session"),
    pytest.param(INGEST_KEY, id="write-only-ingest-key"),
    pytest.param(BROWSER_KEY, id="write-only-key-beside-a-public-token"),
]
_sources = iter(f"127.0.2.{n}" for n in range(1, 250))


def _spend_until_refused(limit: Limit, refused: Callable[[int], bool]) -> None:
    """Make wrong tries from one address until one is refused, within what ``limit`` allows.

    Not a fixed count: the data plane refills 5 tries a second, so on a loaded machine the
    burst takes more tries to spend than it holds; the refill over the tries is counted in.
    """
    started = time.monotonic()
    for n in range(ATTEMPTS):
        if refused(n):
            assert n <= limit.burst + limit.rate * (time.monotonic() - started) + 1
            return
    pytest.fail(f"{ATTEMPTS} wrong tries from one address were never refused")


def _assert_too_many(reply: Response) -> None:
    """A 429 a client can act on: JSON RESOURCE_EXHAUSTED, a message, a Retry-After."""
    assert reply.status == 429, reply.body
    assert reply.json()["code"] == 8
    assert reply.json()["message"].startswith("Too many")
    assert int(reply.headers["retry-after"]) >= 1


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_thousand_wrong_credentials_meet_429_while_the_owner_gets_in(
    target: Target, attack: Attack
) -> None:
    attacker, owner = next(_sources), next(_sources)
    started = time.monotonic()
    replies = [attack.attempt(target, attacker, n) for n in range(ATTEMPTS)]
    elapsed = time.monotonic() - started
    statuses = [r.status for r in replies]
    burst = attack.limit.burst
    assert set(statuses[: burst - 2]) == {401}, statuses[:burst]
    first_limited = statuses.index(429)
    assert first_limited <= burst + 2
    # After the burst only the refill is looked at (one per 6 s on the admin listener, 5/s
    # on the data plane); everything else is refused.
    assert statuses.count(401) <= burst + attack.limit.rate * elapsed + 1, attack.name
    for reply in replies[first_limited:]:
        if reply.status == 429:
            _assert_too_many(reply)
    # The right credential, from another address, works meanwhile: answered, not only let
    # through (a 5xx after the gateway would not be "the owner gets in").
    right = attack.right(target, owner)
    assert right.status == 200, right.body


@pytest.mark.parametrize(
    ("attack", "right_passes"),
    [
        # The admin listener refuses every credential: else the limit would only relabel
        # wrong guesses, and a right guess would still pass.
        pytest.param(API_KEY, False, id="api-key"),
        pytest.param(SIGN_IN, False, id="create-session"),
        # The data plane refuses only the failures: servers and browsers share office and
        # carrier addresses with whoever misbehaves.
        pytest.param(INGEST_KEY, True, id="ingest-key"),
        pytest.param(BROWSER_KEY, True, id="browser-key"),
    ],
)
def test_a_right_credential_from_an_address_over_its_budget(
    target: Target, attack: Attack, right_passes: bool
) -> None:
    address = next(_sources)
    _spend_until_refused(attack.limit, lambda n: attack.attempt(target, address, n).status == 429)
    reply = attack.right(target, address)
    if right_passes:
        assert passed_auth(reply), reply.body
    else:
        _assert_too_many(reply)


def test_sign_in_guesses_from_many_addresses_do_not_lock_the_owner_out(
    suite: Suite, account: Account
) -> None:
    """The account's budget (50) is spent from 12 addresses; the owner still signs in.

    Once spent, an address that failed for this account is refused by the auth service
    itself (not the gateway): its 429 carries Retry-After through the transcoder too.
    """
    owner = add_user(account, "EDITOR")
    attackers = [next(_sources) for _ in range(12)]
    for n, attacker in enumerate(attackers):
        for m in range(5):
            _sign_in(suite, owner.email, f"{n:02d}{m}{LONG_WRONG}", attacker)
    refused = _sign_in(suite, owner.email, f"again{LONG_WRONG}", attackers[0])
    _assert_too_many(refused)
    assert "this account" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) > 60  # the per account and address refill
    # Another account from the same attacking address is not affected.
    assert _sign_in(suite, account.email, PASSWORD, attackers[0]).status == 200
    # The owner, from an address that has not failed, signs in.
    assert _sign_in(suite, owner.email, PASSWORD, next(_sources)).status == 200


def _reauthenticate(suite: Suite, session: str, password: str, source: str) -> Response:
    return request(
        "POST",
        suite.admin_port,
        "/v1/sessions:reauthenticate",
        headers={"authorization": f"Bearer {session}"},
        body={"password": password},
        source=source,
    )


def test_re_authentication_guesses_meet_429_while_the_owner_re_authenticates(
    suite: Suite, account: Account
) -> None:
    """A stolen session guesses its user's password; the user's own session still works."""
    user = add_user(account, "ADMIN")
    stolen = sign_in(suite, user.email)
    attacker, owner = next(_sources), next(_sources)
    replies = [
        _reauthenticate(suite, stolen, f"{n:04d}{LONG_WRONG}", attacker) for n in range(ATTEMPTS)
    ]
    statuses = [r.status for r in replies]
    assert set(statuses[:5]) == {401}
    first_limited = statuses.index(429)
    assert first_limited <= ADMIN_BUDGET
    assert statuses[first_limited:].count(401) <= 10
    for reply in replies[first_limited:]:
        if reply.status == 429:
            _assert_too_many(reply)
    assert _reauthenticate(suite, user.session, PASSWORD, owner).status == 200


def _ingest_over_grpc(channel: grpc.Channel, key: str) -> tuple[grpc.StatusCode, dict[str, str]]:
    """The status of one IngestRecords call through the door, with the trailers it carried."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
    records = ingest_service_pb2.IngestRecordsRequest(
        database="shop_db", table="page_views", records=[to_struct({"td_client_id": "grpc-1"})]
    )
    try:
        stub.IngestRecords(records, metadata=(("authorization", f"TD1 {key}"),), timeout=10)
    except grpc.RpcError as error:
        failed: Any = error  # a grpc.Call as well
        return failed.code(), dict(failed.trailing_metadata() or ())
    return grpc.StatusCode.OK, {}


def test_wrong_ingest_keys_over_grpc_meet_resource_exhausted_with_retry_after(
    target: Target,
) -> None:
    """The gateway's gRPC door spends the same budget. grpcio cannot bind a source address,
    so this comes from 127.0.0.1, whose data-plane budget no other test here spends."""
    wrong = secrets.generate_secret(secrets.SecretKind.WRITE_ONLY_KEY).reveal()
    with grpc.insecure_channel(f"127.0.0.1:{target.suite.data_port}") as channel:
        answers: list[tuple[grpc.StatusCode, dict[str, str]]] = []

        def refused(_n: int) -> bool:
            answers.append(_ingest_over_grpc(channel, wrong))
            return answers[-1][0] is grpc.StatusCode.RESOURCE_EXHAUSTED

        _spend_until_refused(FAILURE_LIMIT, refused)
        assert {code for code, _ in answers[:-1]} == {grpc.StatusCode.UNAUTHENTICATED}
        # A trailers-only answer: the gateway's response headers arrive as its trailers.
        assert int(answers[-1][1]["retry-after"]) >= 1
        right = api_key(target.account, "WRITE_ONLY")
        assert _ingest_over_grpc(channel, right)[0] == grpc.StatusCode.OK
