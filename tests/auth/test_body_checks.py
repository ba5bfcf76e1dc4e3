"""Big bodies are checked in the worker process, so the event loop keeps deciding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from services.auth import body_checks
from services.auth.authz import Request
from services.auth.body_checks import INLINE_BYTES, BodyChecks

SERVICES = "/v1/parent_segments/1/personalizations"
SECTION = {"name": "s", "criteria": {"all": [{"attribute": "t", "op": "eq", "value": "g"}]}}


def _admin(body: bytes) -> Request:
    return Request("admin", "POST", SERVICES, {"authorization": "TD1 k"}, "192.0.2.1", body)


def _big(bad: bool = False) -> bytes:
    body = json.dumps({"name": "p", "sections": [SECTION] * 20_000})
    return (body[:-1] + ', "sectoins": []}' if bad else body).encode()


@pytest.fixture
async def checks() -> AsyncIterator[BodyChecks]:
    async with body_checks.body_checks() as started:
        yield started


async def test_a_big_body_is_checked_in_the_worker_while_the_loop_keeps_answering(
    checks: BodyChecks,
) -> None:
    assert len(_big()) > INLINE_BYTES
    check = asyncio.create_task(checks.decide(_admin(_big(bad=True))))
    ticks = 0
    while not check.done():  # the loop is free while the worker parses
        await asyncio.sleep(0.005)
        ticks += 1
    decision = check.result()
    assert decision.status == 400
    assert decision.message.startswith('Unknown field "personalization.sectoins"')
    assert ticks >= 5
    assert (await checks.decide(_admin(_big()))).allowed


async def test_beyond_the_queue_a_big_body_is_refused_with_retry_after(
    checks: BodyChecks,
) -> None:
    body = _big()
    waiting = [
        asyncio.create_task(checks.decide(_admin(body))) for _ in range(body_checks.MAX_WAITING + 3)
    ]
    decisions = await asyncio.gather(*waiting)
    refused = [d for d in decisions if d.status == 429]
    assert len(refused) >= 2  # the first may already be in the worker, not waiting
    assert all(d.response_headers["retry-after"] == "1" for d in refused)
    assert all(d.message == body_checks.TOO_MANY for d in refused)
    assert sum(d.allowed for d in decisions) >= body_checks.MAX_WAITING


async def test_a_small_body_is_checked_inline() -> None:
    decision = await BodyChecks(None).decide(_admin(b'{"name": "p", "x": 1}'))
    assert decision.status == 400
