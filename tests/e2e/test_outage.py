"""A stopped service is an outage the gateway reports at once, in JSON, and recovers from."""

from __future__ import annotations

import time

import pytest
from support.admin import Account
from support.http import request
from support.suite import Suite

pytestmark = pytest.mark.both_backends


def _offers_call(suite: Suite, account: Account, ps: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    reply = request(
        "GET",
        suite.admin_port,
        f"/v1/parent_segments/{ps}/personalizations",
        headers={"authorization": f"TD1 {account.api_key}"},
    )
    return reply.status, reply.json(), time.monotonic() - started


def test_offers_stopped_is_503_within_a_second_then_recovers(
    suite: Suite, account: Account
) -> None:
    ps = account.parent_segment("Outage")
    status, _, _ = _offers_call(suite, account, ps)
    assert status != 503
    suite.stop_service("offers")
    try:
        status, body, elapsed = _offers_call(suite, account, ps)
        assert status == 503
        assert body["code"] == 14
        assert "unavailable" in str(body["message"]).lower()
        assert elapsed < 1.0, f"the outage took {elapsed:.2f}s to report"
    finally:
        suite.start_service("offers")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, _, _ = _offers_call(suite, account, ps)
        if status != 503:
            break
        time.sleep(0.1)
    assert status != 503
