"""The profile service stopped: the personalize paths answer 503 at once, then recover.

In the single-process mode (P13N_SINGLE_PROCESS=1) profile's process is auth's and offers'
too: its death leaves nothing behind the gateway, the 503 is the gateway's own, not offers'
account of profile's silence, and no decision was made to let the page read it (no CORS).
"""

from __future__ import annotations

import time

import pytest
from support.admin import Account
from support.offers_shop import MEMBER, ORIGIN, GuideShop
from support.suite import Suite, single_process

from gateway.render import LOCAL_REPLY_MESSAGES

pytestmark = pytest.mark.both_backends

EVENT = {"td_client_id": MEMBER}


def test_profile_stopped_is_503_within_about_a_second_then_recovers(
    suite: Suite, account: Account
) -> None:
    shop = GuideShop.create(account)
    assert shop.public("page_views", EVENT).status == 200
    suite.stop_service("profile")
    try:
        started = time.monotonic()
        reply = shop.public("page_views", EVENT)
        elapsed = time.monotonic() - started
        private = shop.private("page_views", EVENT)
    finally:
        suite.start_service("profile")
    assert reply.status == 503, reply.body
    if single_process():
        assert reply.json() == {"code": 14, "message": LOCAL_REPLY_MESSAGES[503]}
        assert "access-control-allow-origin" not in reply.headers
    else:
        assert reply.json()["code"] == 14
        assert "profile service did not answer" in reply.json()["message"]
        # The gateway's decision had succeeded, so the page may read the error.
        assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert private.status == 503
    # Generous: a refused connection is reported in milliseconds; a hang would take the
    # whole 5 s route timeout.
    assert elapsed < 2.0, f"the outage took {elapsed:.2f}s to report"

    deadline = time.monotonic() + 10
    while (status := shop.public("page_views", EVENT).status) != 200:
        assert time.monotonic() < deadline, f"still {status} 10 s after the restart"
        time.sleep(0.1)
