"""An internal channel to several replicas (`p13n up --replicas N`): balanced over mutual TLS,
and a replica that stops serving or dies leaves the rotation without failing a call."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import tls
from services.common.callers import OFFERS, PROFILE
from services.common.clients import Channels
from services.common.readiness import ServiceHealth
from services.common.replicas import balanced_target
from services.common.server import RunningServer, serving

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Replica a reports the name "who" SERVING, b NOT_SERVING: the answer says who served a call.
WHO = ("a", "b")
_STATUS_OF = {SERVING: "a", NOT_SERVING: "b"}


@contextlib.asynccontextmanager
async def _replica(pki_dir: Path, who: str) -> AsyncIterator[RunningServer]:
    # The channel asks the callee's readiness name, as a service reports it.
    reported = ServiceHealth.of(PROFILE)
    await reported.alive()
    async with serving(
        [],
        host="127.0.0.1",
        port=0,
        key=os.urandom(32),
        rules={},
        callers={},
        credentials=tls.server_credentials(pki_dir / PROFILE),
        grace=0,
        reported=reported,
    ) as running:
        await running.health.set("who", SERVING if who == "a" else NOT_SERVING)
        yield running


async def _who(stub: health_pb2_grpc.HealthStub) -> str:
    """Which replica answered one call (a failed call raises)."""
    reply = await stub.Check(health_pb2.HealthCheckRequest(service="who"), timeout=2)
    return _STATUS_OF[reply.status]


async def _calls(stub: health_pb2_grpc.HealthStub, count: int) -> list[str]:
    return [await _who(stub) for _ in range(count)]


@pytest.fixture
async def replicas(pki_dir: Path) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    async with _replica(pki_dir, WHO[0]) as a, _replica(pki_dir, WHO[1]) as b:
        yield a, b


async def test_calls_go_to_every_replica_and_skip_one_that_is_not_serving(
    pki_dir: Path, replicas: tuple[RunningServer, RunningServer]
) -> None:
    a, b = replicas
    target = balanced_target("127.0.0.1", (a.port, b.port))
    async with Channels(pki_dir / OFFERS) as channels:
        # Verified as the profile component, whichever replica answers.
        stub = health_pb2_grpc.HealthStub(channels.get(target, PROFILE))
        assert set(await _calls(stub, 10)) == set(WHO)
        await a.set_serving(False)  # draining, or unhealthy
        await asyncio.sleep(0.2)  # the health stream's update
        assert set(await _calls(stub, 10)) == {WHO[1]}
        await a.set_serving(True)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and WHO[0] not in await _calls(stub, 4):
            pass
        assert WHO[0] in await _calls(stub, 4)


async def test_a_replica_that_dies_fails_no_call(
    pki_dir: Path, replicas: tuple[RunningServer, RunningServer]
) -> None:
    a, b = replicas
    target = balanced_target("127.0.0.1", (a.port, b.port))
    async with Channels(pki_dir / OFFERS) as channels:
        stub = health_pb2_grpc.HealthStub(channels.get(target, PROFILE))
        assert set(await _calls(stub, 10)) == set(WHO)
        # Closed at once without a NOT_SERVING first: as a killed process's sockets close.
        await a.server.stop(0)
        started = time.monotonic()
        assert await _calls(stub, 20) == [WHO[1]] * 20
        assert time.monotonic() - started < 1.0


async def test_a_replica_with_another_components_certificate_is_never_called(
    pki_dir: Path, replicas: tuple[RunningServer, RunningServer]
) -> None:
    a, _ = replicas
    async with (
        serving(
            [],
            host="127.0.0.1",
            port=0,
            key=os.urandom(32),
            rules={},
            callers={},
            credentials=tls.server_credentials(pki_dir / OFFERS),
            grace=0,
        ) as impostor,
        Channels(pki_dir / OFFERS) as channels,
    ):
        await impostor.health.set("who", NOT_SERVING)
        target = balanced_target("127.0.0.1", (a.port, impostor.port))
        stub = health_pb2_grpc.HealthStub(channels.get(target, PROFILE))
        # The name check fails the impostor's handshake: only the real profile answers.
        assert await _calls(stub, 10) == [WHO[0]] * 10
