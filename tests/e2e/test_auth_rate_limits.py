"""Rate limits through the real Envoy: per token (the service's setting), per client address,
failed credentials per address, and sign-in attempts — each a 429 with Retry-After and
without CORS headers (tests/e2e/test_auth_failure_limits.py has every credential check's).

This module's suite lowers the per-address limit (P13N_ADDRESS_RATE/BURST) so that it can be
reached quickly; each test sends from its own loopback address, so buckets never mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.admin import Account
from support.auth import passed_auth, personalize
from support.http import Response, request
from support.suite import Suite

from services.auth import secrets

pytestmark = pytest.mark.both_backends

PUBLIC_PATH = "/public/shop_db/page_views"
ORIGIN = "https://shop.example"
ADDRESS_BURST = 100  # above the failed-attempt burst (50), so each limit shows on its own


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, backend_env: dict[str, str]) -> Iterator[Suite]:
    env = {"P13N_ADDRESS_RATE": "1", "P13N_ADDRESS_BURST": str(ADDRESS_BURST), **backend_env}
    running = Suite(Path(tmp_path_factory.mktemp("rate-limits")), env=env)
    running.start()
    try:
        yield running
    finally:
        running.close()


@dataclass(frozen=True)
class Tokens:
    slow: str  # a public token of a service limited to 1 request/s with a burst of 3
    fast: str  # a public token with the default limit (1,000/s, burst 2,000)
    unknown: str  # well formed, never issued


@pytest.fixture(scope="module")
def tokens(account: Account) -> Tokens:
    ps = account.parent_segment("Limits")
    account.event(ps, "page_view", "shop_db", "page_views")
    services = f"/v1/parent_segments/{ps}/services"
    slow = account.ok(
        "POST",
        services,
        {
            "name": "Slow",
            "type": "PUBLIC",
            "allowed_origins": [ORIGIN],
            "rate_limit": {"requests_per_second": 1, "burst": 3},
        },
    )["id"]
    fast = account.service(ps, "Fast", "PUBLIC", [ORIGIN])
    slow_token = account.token(ps, slow)
    account_id, reactor_id, _ = slow_token.split("/")
    unknown = secrets.make_token(
        account_id, reactor_id, secrets.generate_secret(secrets.SecretKind.PUBLIC_TOKEN)
    )
    return Tokens(slow_token, account.token(ps, fast), unknown.reveal())


def _send(suite: Suite, token: str, source: str, count: int, **headers: str) -> list[Response]:
    return [
        personalize(suite, PUBLIC_PATH, token=token, origin=ORIGIN, source=source, headers=headers)
        for _ in range(count)
    ]


def _assert_limited(replies: list[Response]) -> list[Response]:
    """Some replies are 429; each is JSON RESOURCE_EXHAUSTED with Retry-After, without CORS."""
    limited = [r for r in replies if r.status == 429]
    assert limited, [r.status for r in replies]
    for reply in limited:
        assert reply.cors_headers() == {}
        assert reply.json()["code"] == 8
        assert int(reply.headers["retry-after"]) >= 1
    return limited


def test_per_token_limit_is_the_services_setting(suite: Suite, tokens: Tokens) -> None:
    replies = _send(suite, tokens.slow, "127.0.1.1", 10)
    # The burst of 3 passes (with CORS); then the bucket is empty, far sooner than 1 s refills.
    assert all(passed_auth(r) and r.cors_headers() for r in replies[:3])
    _assert_limited(replies[3:])
    # Another token from the same address is not affected.
    assert passed_auth(_send(suite, tokens.fast, "127.0.1.1", 1)[0])


def test_per_address_limit(suite: Suite, tokens: Tokens) -> None:
    replies = _send(suite, tokens.fast, "127.0.1.2", ADDRESS_BURST + 10)
    assert all(passed_auth(r) for r in replies[: ADDRESS_BURST - 5])
    _assert_limited(replies)
    # Other addresses keep their own budget.
    assert passed_auth(_send(suite, tokens.fast, "127.0.1.3", 1)[0])


def test_forwarded_headers_do_not_split_an_address_budget(suite: Suite, tokens: Tokens) -> None:
    replies = [
        personalize(
            suite,
            PUBLIC_PATH,
            token=tokens.fast,
            origin=ORIGIN,
            source="127.0.1.4",
            headers={"x-forwarded-for": f"198.51.100.{n % 250}"},
        )
        for n in range(ADDRESS_BURST + 10)
    ]
    _assert_limited(replies)


def test_failed_token_attempts_are_limited_per_address(suite: Suite, tokens: Tokens) -> None:
    replies = _send(suite, tokens.unknown, "127.0.1.5", 80)
    assert {r.status for r in replies[:20]} == {401}
    _assert_limited(replies[20:])
    # The failure budget is for failures: a valid token from that address still passes
    # (a shop's visitors may share a carrier address with a scanner).
    assert passed_auth(_send(suite, tokens.fast, "127.0.1.5", 1)[0])
    # Malformed tokens and a missing token count too.
    _assert_limited(_send(suite, "1/2/p13n_pub_x", "127.0.1.6", 80))
    missing = [
        personalize(suite, PUBLIC_PATH, origin=ORIGIN, source="127.0.1.7") for _ in range(80)
    ]
    _assert_limited(missing)


def test_sign_in_attempts_are_limited_per_address(suite: Suite) -> None:
    """Password guessing meets the admin listener's failure budget (a burst of 20, then 10/min).

    The passwords are longer than any stored one, which the service refuses without
    spending argon2 time, so the attempts arrive faster than the budget refills.
    """
    replies = [
        request(
            "POST",
            suite.admin_port,
            "/v1/sessions",
            body={"email": "nobody@example.com", "password": f"{n:03d}" + "x" * 300},
            source="127.0.1.8",
        )
        for n in range(80)
    ]
    assert {r.status for r in replies[:20]} == {401}
    _assert_limited(replies[20:])
