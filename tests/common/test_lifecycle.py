"""Each service's lifespan: a start that fails at any step leaves nothing open, and a stop
reports NOT_SERVING, keeps serving through the drain, then stops.

A step fails either for real (a port already taken, a different secret key) or because the
test makes its opener raise; what came before it really opened. Afterwards the process must
hold no new listening socket, no open file in the data directory, no new asyncio task and
no open channel (``support.leaks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.leaks import Snapshot, port_is_free, recording_channels
from support.ports import free_port, is_open
from support.tls import aio_channel

from services.auth import server as auth_server
from services.auth import store as auth_store
from services.common import pki
from services.common.callers import AUTH, GATEWAY, OFFERS
from services.common.config import Settings
from services.common.errors import FailedPrecondition
from services.common.lifecycle import ShutdownSignals, serve_until_signalled
from services.common.main import serve
from services.common.server import RunningServer
from services.offers import server as offers_server
from services.profile import server as profile_server

LIFESPANS: dict[str, Callable[..., AbstractAsyncContextManager[RunningServer]]] = {
    "auth": auth_server.lifespan,
    "profile": profile_server.lifespan,
    "offers": offers_server.lifespan,
}
CHECK = "/envoy.service.auth.v3.Authorization/Check"

# How a step is made to fail: the name of its opener, made to raise; or a real failure.
PORT_TAKEN = "port-taken"
WRONG_SECRET_KEY = "wrong-secret-key"
AFTER_START = "after-start"  # everything opened, then the serving block raises


class Injected(Exception):
    """The failure a test put in a service's start."""


class Started(Exception):
    """Raised in the serving block: the start did not fail where the test meant it to."""


def _raise(*_: Any, **__: Any) -> Any:
    raise Injected


def _settings(data_dir: Path, service: str, port: int, **env: str) -> Settings:
    # The other services' targets are ports nobody listens on: channels open lazily, and
    # a call there fails (or waits) without reaching anything.
    pki.ensure(data_dir / "pki")
    return Settings.from_env(
        {
            "P13N_DATA_DIR": str(data_dir),
            "P13N_INTERNAL_KEY": os.urandom(32).hex(),
            "P13N_SECRET_KEY": os.urandom(32).hex(),
            f"P13N_{service.upper()}_PORT": str(port),
            **{
                f"P13N_{other.upper()}_TARGET": f"127.0.0.1:{free_port()}"
                for other in LIFESPANS
                if other != service
            },
            "P13N_SHUTDOWN_GRACE": "0",
            **env,
        }
    )


STEPS = [
    pytest.param("auth", "services.auth.server.open_store", id="auth-store"),
    pytest.param("auth", WRONG_SECRET_KEY, id="auth-secret-key"),
    pytest.param("auth", "services.auth.directory.MemoryDirectory.reload", id="auth-directory"),
    pytest.param("auth", "services.auth.server.Channels.of", id="auth-channels"),
    pytest.param("auth", "services.auth.server.background", id="auth-refresher"),
    pytest.param("auth", PORT_TAKEN, id="auth-bind"),
    pytest.param("auth", AFTER_START, id="auth-serving"),
    pytest.param("profile", "services.profile.backends.open_store", id="profile-store"),
    pytest.param("profile", "services.profile.group_commit.GroupCommit.start", id="profile-writer"),
    pytest.param("profile", "services.profile.server.Channels.of", id="profile-channels"),
    pytest.param("profile", PORT_TAKEN, id="profile-bind"),
    pytest.param("profile", AFTER_START, id="profile-serving"),
    pytest.param("offers", "services.offers.store.PersonalizationStore.open", id="offers-store"),
    pytest.param("offers", "services.offers.server.Channels.of", id="offers-channels"),
    pytest.param("offers", PORT_TAKEN, id="offers-bind"),
    pytest.param("offers", AFTER_START, id="offers-serving"),
]


@pytest.mark.parametrize(("service", "failure"), STEPS)
async def test_a_start_that_fails_at_any_step_leaves_nothing_open(
    service: str, failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    settings = _settings(tmp_path, service, port)
    expected: type[BaseException] = Injected
    with contextlib.ExitStack() as blockers:
        if failure == AFTER_START:
            expected = Started
        elif failure == PORT_TAKEN:
            taken = blockers.enter_context(socket.socket())
            taken.bind(("127.0.0.1", port))
            taken.listen()
            expected = OSError
        elif failure == WRONG_SECRET_KEY:
            async with LIFESPANS[service](settings, port=0):
                pass  # records the fingerprint of the first key
            settings = _settings(tmp_path, service, port)
            expected = FailedPrecondition
        else:
            monkeypatch.setattr(failure, _raise)
        snapshot = Snapshot.take()

        async def start_then_stop() -> None:
            async with LIFESPANS[service](settings) as running:
                assert running.port == port
                raise Started

        with recording_channels(monkeypatch, snapshot), pytest.raises(expected):
            await start_then_stop()
    assert snapshot.left_open(tmp_path) == {}
    assert port_is_free(port)
    if failure in (PORT_TAKEN, AFTER_START):
        assert snapshot.channels, "the channels step came before; its channels were opened"


class Hold(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Holds the first call of ``method`` until released: a request in flight."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        if details.method == self.method and not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
        return await continuation(details)


async def _health(channel: grpc.aio.Channel, names: tuple[str, ...]) -> set[int]:
    """The statuses ``names`` report (readiness: p13n.<service> and the servicers')."""
    stub = health_pb2_grpc.HealthStub(channel)
    replies = [
        await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5) for name in names
    ]
    return {reply.status for reply in replies}


async def _liveness(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int((await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)).status)


async def _until_not_serving(channel: grpc.aio.Channel, names: tuple[str, ...]) -> None:
    # The server turns its readiness names in order: once the last has turned, all have.
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=names[-1])
    )
    async with asyncio.timeout(10):
        async for update in watch:
            if update.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
    watch.cancel()
    assert await _health(channel, names) == {health_pb2.HealthCheckResponse.NOT_SERVING}
    # Draining is not dying: a liveness probe must not restart the pod now.
    assert await _liveness(channel) == health_pb2.HealthCheckResponse.SERVING


def _signal_self(sig: signal.Signals) -> Callable[[], None]:
    return lambda: os.kill(os.getpid(), sig)


async def test_a_drain_keeps_serving_while_health_says_not_serving(tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, "auth", port, P13N_DRAIN_SECONDS="1.5")
    hold = Hold(CHECK)
    loop = asyncio.get_running_loop()
    async with (
        auth_server.lifespan(settings, extra_interceptors=[hold]) as running,
        aio_channel(settings.pki_dir, GATEWAY, port, AUTH) as channel,
    ):
        authz = external_auth_pb2_grpc.AuthorizationStub(channel)
        in_flight = asyncio.ensure_future(authz.Check(external_auth_pb2.CheckRequest(), timeout=30))
        async with asyncio.timeout(10):
            await hold.entered.wait()
        assert running.names[0] == "p13n.auth"
        assert await _health(channel, running.names) == {health_pb2.HealthCheckResponse.SERVING}
        assert await _liveness(channel) == health_pb2.HealthCheckResponse.SERVING

        signalled = loop.time()
        shutdown = asyncio.create_task(
            serve_until_signalled(
                running, settings.drain_seconds, settled=_signal_self(signal.SIGTERM)
            )
        )
        await _until_not_serving(channel, running.names)
        # Draining: new requests are answered, and the one in flight completes.
        assert isinstance(
            await authz.Check(external_auth_pb2.CheckRequest(), timeout=5),
            external_auth_pb2.CheckResponse,
        )
        assert not in_flight.done()
        hold.release.set()
        assert isinstance(await in_flight, external_auth_pb2.CheckResponse)
        assert not shutdown.done(), "the drain ended before the requests it should serve"
        await shutdown
        assert loop.time() - signalled >= 1.5
        assert is_open(port), "the lifespan, not the drain, stops the server"
        assert not port_is_free(port)
    assert port_is_free(port)


async def test_a_second_signal_cuts_the_drain_short(tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, "offers", port, P13N_DRAIN_SECONDS="60")
    loop = asyncio.get_running_loop()
    async with (
        offers_server.lifespan(settings) as running,
        aio_channel(settings.pki_dir, GATEWAY, port, OFFERS) as channel,
    ):
        signalled = loop.time()
        shutdown = asyncio.create_task(
            serve_until_signalled(
                running, settings.drain_seconds, settled=_signal_self(signal.SIGTERM)
            )
        )
        await _until_not_serving(channel, running.names)
        assert not shutdown.done()
        os.kill(os.getpid(), signal.SIGINT)
        async with asyncio.timeout(5):
            await shutdown
        assert loop.time() - signalled < 10
    assert port_is_free(port)


@pytest.mark.parametrize("service", list(LIFESPANS))
def test_a_deployment_waits_for_the_drain_and_the_grace_before_killing(service: str) -> None:
    """deploy/: Kubernetes kills a pod ``terminationGracePeriodSeconds`` after SIGTERM; the
    service needs its drain and its grace before then, and its drain must outlast the
    failed readiness probes that take it out of its Service."""
    path = Path(__file__).resolve().parents[2] / "deploy" / "base" / f"{service}.yaml"
    deployment = next(d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    settings = Settings.from_env(
        {"P13N_INTERNAL_KEY": "00" * 32, "P13N_SECRET_KEY": "00" * 32, **env}
    )
    probe = container["readinessProbe"]
    unready_after = probe.get("failureThreshold", 3) * probe.get("periodSeconds", 10)
    assert settings.drain_seconds > unready_after
    assert pod["terminationGracePeriodSeconds"] > settings.drain_seconds + settings.shutdown_grace


async def test_the_health_port_answers_health_and_nothing_else_in_plaintext(
    tmp_path: Path,
) -> None:
    """Kubernetes' probes have no TLS: the health-only port serves them, the rest is not there."""
    port, probe = free_port(), free_port()
    settings = _settings(tmp_path, "auth", port, P13N_HEALTH_PORT=str(probe))
    async with (
        auth_server.lifespan(settings) as running,
        grpc.aio.insecure_channel(f"127.0.0.1:{probe}") as channel,
    ):
        assert await _health(channel, running.names) == {health_pb2.HealthCheckResponse.SERVING}
        assert await _liveness(channel) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await external_auth_pb2_grpc.AuthorizationStub(channel).Check(
                external_auth_pb2.CheckRequest(), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        await running.set_serving(False)
        assert await _health(channel, running.names) == {health_pb2.HealthCheckResponse.NOT_SERVING}
        assert await _liveness(channel) == health_pb2.HealthCheckResponse.SERVING
    assert port_is_free(probe)


async def test_a_signal_during_start_up_drains_the_service_once_it_serves(tmp_path: Path) -> None:
    """run_service installs the handlers before the lifespan: a SIGTERM that arrives while
    the service starts would otherwise kill the process (here: the test run) undrained."""
    port = free_port()
    settings = _settings(tmp_path, "offers", port, P13N_DRAIN_SECONDS="0.2")
    with ShutdownSignals() as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            await signals.first.wait()
        async with offers_server.lifespan(settings) as running:
            async with asyncio.timeout(5):
                await serve_until_signalled(running, settings.drain_seconds, signals=signals)
            assert is_open(port), "the lifespan, not the drain, stops the server"
    assert port_is_free(port)


async def _probe(channel: grpc.aio.Channel, name: str) -> int | None:
    """What the kubelet's gRPC probe of ``name`` would see; None: the port refused."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1)
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return None
    return int(reply.status)


async def _until(channel: grpc.aio.Channel, name: str, status: int) -> None:
    async with asyncio.timeout(15):
        while True:
            if await _probe(channel, name) == status:
                return
            await asyncio.sleep(0.02)


async def test_the_probes_see_a_slow_start_then_readiness_and_liveness_through_the_drain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a pod runs it (``services.common.main.serve``): while the store opens (here held
    open, as PostgreSQL migrations would) the health port answers "" SERVING and
    p13n.auth NOT_SERVING, so a startupProbe waits instead of counting refusals; once
    serving p13n.auth is SERVING; from SIGTERM on p13n.auth is NOT_SERVING and "" SERVING
    for the whole drain; after it the port closes."""
    port, probe = free_port(), free_port()
    settings = _settings(
        tmp_path, "auth", port, P13N_HEALTH_PORT=str(probe), P13N_DRAIN_SECONDS="1"
    )
    migrated = asyncio.Event()
    real_open_store = auth_store.open_store

    async def slow_open_store(where: Any) -> Any:
        await migrated.wait()
        return await real_open_store(where)

    monkeypatch.setattr(auth_server, "open_store", slow_open_store)
    SERVING, NOT_SERVING = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    loop = asyncio.get_running_loop()
    running = asyncio.create_task(serve("auth", auth_server.lifespan, settings))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{probe}") as channel:
            await _until(channel, "", SERVING)
            assert await _probe(channel, "p13n.auth") == NOT_SERVING
            assert not is_open(port), "the service port opens once the store is open"
            migrated.set()
            await _until(channel, "p13n.auth", SERVING)
            assert is_open(port)

            os.kill(os.getpid(), signal.SIGTERM)
            signalled = loop.time()
            await _until(channel, "p13n.auth", NOT_SERVING)
            while loop.time() - signalled < 0.8:  # the drain lasts 1 s
                assert await _probe(channel, "") == SERVING
                assert await _probe(channel, "p13n.auth") == NOT_SERVING
                assert is_open(port), "draining: still serving"
                await asyncio.sleep(0.05)
            async with asyncio.timeout(10):
                await running
    finally:
        if not running.done():
            migrated.set()
            os.kill(os.getpid(), signal.SIGINT)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(running, 10)
    assert port_is_free(port)
    assert port_is_free(probe)
