"""Acknowledged means durable: `kill -9` the profile service process while events arrive.

The suite's profile service is replaced by a real ``python -m services.profile`` process on
the same port and data directory. Concurrent clients send events for one visitor through
Track (as the offers service does); once enough are acknowledged the process is killed with
SIGKILL, restarted, and sent more. Then every acknowledged event must be in its table, and
the visitor's counter must equal the events stored for it: an event and its profile update
commit together or not at all (events committed but not yet acknowledged may be there too).

In the single-process mode (P13N_SINGLE_PROCESS=1) the process killed is the one profile
runs in there, ``python -m services.single`` (auth and offers die with it), on the suite's
ports.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from p13n.profile.v1 import internal_service_pb2 as api
from p13n.profile.v1 import internal_service_pb2_grpc
from support import stored as stored_rows
from support.admin import Account
from support.suite import Suite, single_process

from services.common import identity
from services.common.events import to_struct

pytestmark = pytest.mark.both_backends

SENDERS = 16
KILL_AFTER = 200  # acknowledged events before the kill


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    ps = account.parent_segment()
    account.counted_page_views(ps)
    return ps


class ProfileProcess:
    """The profile service as its own process (in the single-process mode, the process it
    shares with auth and offers), on the suite's ports and data directory."""

    def __init__(self, suite: Suite, log: Path) -> None:
        self._env = {**os.environ, **suite.env}
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.single" if single_process() else "services.profile",
                ],
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def profile_process(suite: Suite, tmp_path: Path) -> Iterator[ProfileProcess]:
    suite.stop_service("profile")
    process = ProfileProcess(suite, tmp_path / "profile.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def serving(channel: grpc.aio.Channel) -> None:
    """Returns once the service reports SERVING; ``wait_for_ready`` waits for it to listen.

    (Health ``Watch`` would avoid the re-check, but the shared interceptor cannot wrap it.)
    """
    health = health_pb2_grpc.HealthStub(channel)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        reply = await health.Check(
            # Readiness: "" (liveness) is SERVING before the service takes calls.
            health_pb2.HealthCheckRequest(service="p13n.profile"),
            wait_for_ready=True,
            timeout=30,
        )
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return
        assert asyncio.get_running_loop().time() < deadline, "the service never became SERVING"
        await asyncio.sleep(0.05)  # started, not yet marked SERVING: a moment away


def service_metadata(suite: Suite) -> Any:
    signed = identity.sign(identity.service_identity("offers"), suite.settings.internal_key)
    return ((identity.IDENTITY_HEADER, signed),)


async def test_every_acknowledged_event_survives_kill_9(
    suite: Suite, account: Account, ps: str, profile_process: ProfileProcess
) -> None:
    numbers = itertools.count()
    acknowledged: list[int] = []
    enough = asyncio.Event()
    killed = asyncio.Event()

    async def send(stub: Any, n: int) -> bool:
        try:
            await stub.Track(
                api.TrackRequest(
                    parent_segment_id=ps,
                    database="shop_db",
                    table="page_views",
                    event=to_struct({"td_client_id": "visitor", "n": n}),
                ),
                metadata=service_metadata(suite),
                timeout=10,
            )
        except grpc.aio.AioRpcError:
            return False
        acknowledged.append(n)
        return True

    async def sender(stub: Any) -> None:
        while not killed.is_set():
            await send(stub, next(numbers))
            if len(acknowledged) >= KILL_AFTER:
                enough.set()

    async with suite.aio_channel("profile", caller="offers") as channel:
        await serving(channel)
        stub = internal_service_pb2_grpc.InternalProfileServiceStub(channel)
        senders = [asyncio.create_task(sender(stub)) for _ in range(SENDERS)]
        await enough.wait()
        profile_process.kill()  # while the senders' calls are in flight
        killed.set()
        await asyncio.gather(*senders)
    before_restart = len(acknowledged)

    profile_process.start()
    async with suite.aio_channel("profile", caller="offers") as channel:
        await serving(channel)
        stub = internal_service_pb2_grpc.InternalProfileServiceStub(channel)
        for _ in range(10):
            assert await send(stub, next(numbers))

    dialect = stored_rows.dialect_of(suite.settings)
    number = stored_rows.json_text(dialect, "body", "n")
    visitor = stored_rows.json_text(dialect, "body", "td_client_id")
    query = f"SELECT {number} FROM events WHERE {visitor} = 'visitor'"
    stored = {int(n) for (n,) in stored_rows.rows(suite.settings, "profile", query)}
    assert before_restart >= KILL_AFTER
    assert set(acknowledged) <= stored
    found = account.ok("GET", f"/v1/parent_segments/{ps}/profiles/td_client_id/visitor")
    views = {a["name"]: a["value"] for a in found["attributes"]}["views"]
    assert views == len(stored)
