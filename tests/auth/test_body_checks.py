"""Big bodies are checked in the worker process, so the event loop keeps deciding; what
waits for the worker is bounded in all and per account; the worker dies with the service."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth import body_checks
from services.auth.authz import Request
from services.auth.body_checks import INLINE_BYTES, BodyChecks

PERSONALIZATIONS = "/v1/parent_segments/1/personalizations"
SECTION = {"name": "s", "criteria": {"all": [{"attribute": "t", "op": "eq", "value": "g"}]}}


def _admin(body: bytes) -> Request:
    return Request("admin", "POST", PERSONALIZATIONS, {"authorization": "TD1 k"}, "192.0.2.1", body)


def _big(sections: int = 20_000, bad: bool = False) -> bytes:
    body = json.dumps({"name": "p", "sections": [SECTION] * sections})
    return (body[:-1] + ', "sectoins": []}' if bad else body).encode()


@pytest.fixture
async def checks() -> AsyncIterator[BodyChecks]:
    async with body_checks.body_checks() as started:
        yield started


async def test_a_big_body_is_checked_in_the_worker_while_the_loop_keeps_answering(
    checks: BodyChecks,
) -> None:
    assert len(_big()) > INLINE_BYTES
    check = asyncio.create_task(checks.decide(_admin(_big(bad=True)), "account:1"))
    ticks = 0
    while not check.done():  # the loop is free while the worker parses
        await asyncio.sleep(0.005)
        ticks += 1
    decision = check.result()
    assert decision.status == 400
    assert decision.message.startswith('Unknown field "personalization.sectoins"')
    assert ticks >= 5
    assert (await checks.decide(_admin(_big()), "account:1")).allowed


def _sized(share_of: float) -> bytes:
    """A valid body of about ``share_of`` times one account's share."""
    per_section = len(_big(2)) - len(_big(1))
    return _big(int(body_checks.MAX_SHARE_BYTES * share_of / per_section))


async def test_one_account_cannot_take_every_turn(checks: BodyChecks) -> None:
    body = _sized(0.4)  # two fit in one account's share, a third does not
    mine = [asyncio.create_task(checks.decide(_admin(body), "account:1")) for _ in range(3)]
    await asyncio.sleep(0)
    theirs = asyncio.create_task(checks.decide(_admin(body), "account:2"))
    decisions = await asyncio.gather(*mine)
    refused = [d for d in decisions if d.status == 429]
    assert len(refused) == 1
    assert refused[0].response_headers["retry-after"] == "1"
    assert refused[0].message == body_checks.TOO_MANY
    assert (await theirs).allowed  # the other account still had its turn


async def test_beyond_the_queue_a_big_body_is_refused(checks: BodyChecks) -> None:
    body = _sized(0.4)
    shares = [f"account:{n}" for n in range(5)]
    decisions = await asyncio.gather(*(checks.decide(_admin(body), s) for s in shares))
    allowed = sum(d.allowed for d in decisions)
    assert allowed == body_checks.MAX_QUEUED_BYTES // len(body)
    assert all(d.status == 429 for d in decisions if not d.allowed)


def _kill_the_worker() -> None:
    for child in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split():
        if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text():  # not the tracker
            os.kill(int(child), signal.SIGKILL)


async def test_a_worker_that_died_is_replaced(checks: BodyChecks) -> None:
    assert (await checks.decide(_admin(_big()), "account:1")).allowed
    _kill_the_worker()
    await asyncio.sleep(0.2)
    assert (await checks.decide(_admin(_big(bad=True)), "account:1")).status == 400


async def test_a_small_body_is_checked_inline() -> None:
    decision = await BodyChecks(None).decide(_admin(b'{"name": "p", "x": 1}'), "account:1")
    assert decision.status == 400


# A service that starts the checker, prints its worker's pid, then waits to be killed.
SERVICE = """
import asyncio, os
from pathlib import Path
from services.auth import body_checks, authz

async def main():
    async with body_checks.body_checks() as checks:
        await asyncio.sleep(0.5)
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        print(" ".join(children), flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def test_the_worker_dies_with_the_service() -> None:
    with subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        workers = [int(pid) for pid in p.stdout.readline().split()]
        assert workers
        os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}/cmdline").exists() for pid in workers)
