"""Behind one load balancer (`p13n gateway-config --trusted-hops 1`), through the real
Envoy: the client address the balancer appended to X-Forwarded-For drives the gateway's
per-address buckets and the auth service's IP allow-lists; an entry the client wrote
itself is ignored.

The test stands in for the balancer: every request comes from one loopback address (the
balancer's) with the X-Forwarded-For a balancer would send, the client's own entries
first and the address it saw last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.admin import Account
from support.auth import passed_auth, personalize
from support.http import Response
from support.suite import Suite

from gateway.capacity import Capacity
from gateway.render import DESCRIPTOR_FILE, GatewayConfig

PUBLIC_PATH = "/public/shop_db/page_views"
PRIVATE_PATH = "/shop_db/page_views"
ORIGIN = "https://shop.example"
BALANCER = "127.0.0.9"
BURST = 3
ALLOWED = "203.0.113.0/24"

# The descriptor set as deploy/ ships it (no source info, gateway/descriptor.py): every
# request here is transcoded with it.
SHIPPED_DESCRIPTOR = Path(__file__).resolve().parents[2] / "deploy/base/gateway" / DESCRIPTOR_FILE


@dataclasses.dataclass(frozen=True)
class NoRefill(Capacity):
    """A bucket refilled once a minute: what a test spends stays spent while it runs
    (at the smallest rate, 1/s, a held request's 2 to 3 s would refill it)."""

    def fill_interval(self) -> float:
        return 60.0


class BehindOneBalancer(Suite):
    def gateway_config(self) -> GatewayConfig:
        return dataclasses.replace(
            super().gateway_config(),
            descriptor=SHIPPED_DESCRIPTOR,
            trusted_hops=1,
            capacity=NoRefill(requests_per_second=1, burst=BURST),
        )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    running = BehindOneBalancer(Path(tmp_path_factory.mktemp("trusted-hops")))
    running.start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def tokens(suite: Suite) -> tuple[str, str]:
    """A public token for any address, and a server's token allowed from ``ALLOWED`` only."""
    account = Account.create(suite)
    ps = account.parent_segment("Hops")
    account.event(ps, "page_view", "shop_db", "page_views")
    shop = account.service(ps, "Shop", "PUBLIC", [ORIGIN])
    backend = account.service(ps, "Backend", "PRIVATE")
    return account.token(ps, shop), account.token(ps, backend, "office", [ALLOWED])


def _public(suite: Suite, token: str, forwarded_for: str) -> Response:
    """A visitor's page view that reached the gateway through the balancer."""
    headers = {"x-forwarded-for": forwarded_for}
    return personalize(
        suite, PUBLIC_PATH, token=token, origin=ORIGIN, headers=headers, source=BALANCER
    )


def _private(suite: Suite, token: str, forwarded_for: str | None) -> Response:
    """A server's event through the balancer (``None``: the balancer's own request)."""
    headers = {} if forwarded_for is None else {"x-forwarded-for": forwarded_for}
    return personalize(suite, PRIVATE_PATH, token=token, headers=headers, source=BALANCER)


def test_each_client_behind_the_balancer_has_its_own_bucket(
    suite: Suite, tokens: tuple[str, str]
) -> None:
    anyone, _ = tokens
    first, second = "198.51.100.1", "198.51.100.2"
    assert [_public(suite, anyone, first).status for _ in range(BURST)] == [200] * BURST
    # Its bucket is empty: held, then refused.
    assert _public(suite, anyone, first).status == 429
    # Another client through the same balancer (the same peer address) has its own.
    assert _public(suite, anyone, second).status == 200
    # The first client writes the second's address (or any other) in front of its own:
    # only the entry the balancer appended counts, and that one is still the first's.
    assert _public(suite, anyone, f"{second}, {first}").status == 429
    assert _public(suite, anyone, f"192.0.2.77, {first}").status == 429


def test_ip_allow_lists_see_the_client_the_balancer_saw(
    suite: Suite, tokens: tuple[str, str]
) -> None:
    _, office_only = tokens
    inside, outside = "203.0.113.5", "198.51.100.50"
    admitted = _private(suite, office_only, inside)
    assert passed_auth(admitted), admitted.body
    refused = _private(suite, office_only, outside)
    assert refused.status == 403, refused.body
    # A client outside claiming an inside address in its own X-Forwarded-For stays outside.
    assert _private(suite, office_only, f"{inside}, {outside}").status == 403
    # Without X-Forwarded-For the request is the balancer's own (its peer address): outside.
    assert _private(suite, office_only, None).status == 403
