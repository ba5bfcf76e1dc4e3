"""The shared runner and interceptor against a real grpc.aio server on an ephemeral port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from p13n.auth.v1 import account_pb2, identity_pb2, identity_service_pb2, identity_service_pb2_grpc
from support.ports import free_port, is_open
from support.processes import log_of, service_process
from support.tls import aio_channel
from typing_extensions import override

from services.common import identity, tls
from services.common.access import Access
from services.common.callers import AUTH, GATEWAY, only
from services.common.errors import InvalidArgument
from services.common.server import Registration, RunningServer, serving

KEY = os.urandom(32)
NAME = "p13n.auth.v1.IdentityService"
RULES = {
    f"/{NAME}/CreateSession": Access.OPEN,
    f"/{NAME}/GetMe": Access.VIEWER,
    f"/{NAME}/CreateUser": Access.ADMIN,
    f"/{NAME}/CreateApiKey": Access.ADMIN,
}
CALLERS = {method: only(GATEWAY) for method in RULES}


class _Servicer(identity_service_pb2_grpc.IdentityServiceServicer):
    @override
    async def CreateSession(
        self, request: identity_service_pb2.CreateSessionRequest, context: Any
    ) -> identity_service_pb2.CreateSessionResponse:
        if request.email == "bad":
            raise InvalidArgument("Email is invalid", reason="BAD_EMAIL", field="email")
        raise ValueError("secret internal detail")

    @override
    async def GetMe(
        self, request: identity_service_pb2.GetMeRequest, context: Any
    ) -> identity_service_pb2.Me:
        caller = identity.current.get()
        return identity_service_pb2.Me(account_id=caller.account_id if caller else "")

    @override
    async def CreateUser(
        self, request: identity_service_pb2.CreateUserRequest, context: Any
    ) -> account_pb2.User:
        raise AssertionError("must not run: permission is checked before the handler")


def _channel(pki_dir: Path, server: RunningServer) -> grpc.aio.Channel:
    return aio_channel(pki_dir, GATEWAY, server.port, AUTH)


@pytest.fixture
async def server(pki_dir: Path) -> AsyncIterator[RunningServer]:
    async with serving(
        [
            Registration(
                identity_service_pb2_grpc.add_IdentityServiceServicer_to_server, _Servicer(), NAME
            )
        ],
        host="127.0.0.1",
        port=0,
        key=KEY,
        rules=RULES,
        callers=CALLERS,
        credentials=tls.server_credentials(pki_dir / AUTH),
        grace=0,
    ) as running:
        yield running


def _metadata(role: identity_pb2.Role) -> tuple[tuple[str, str], ...]:
    signed = identity.sign(identity_pb2.Identity(account_id="7", role=role), KEY)
    return ((identity.IDENTITY_HEADER, signed),)


async def _refused_sign_in(pki_dir: Path, server: RunningServer) -> grpc.aio.AioRpcError:
    """The server's answer to a sign-in with a malformed email: a field error."""
    async with _channel(pki_dir, server) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateSession(identity_service_pb2.CreateSessionRequest(email="bad"))
    return caught.value


async def test_domain_error_maps_to_its_code_with_error_info(
    pki_dir: Path, server: RunningServer
) -> None:
    error = await _refused_sign_in(pki_dir, server)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "Email is invalid"
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, info.metadata["field"]) == ("BAD_EMAIL", "p13n.dev", "email")


async def test_a_field_error_carries_a_field_violation(
    pki_dir: Path, server: RunningServer
) -> None:
    error = await _refused_sign_in(pki_dir, server)
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    bad_request = error_details_pb2.BadRequest()
    assert status_pb2.Status.FromString(details).details[1].Unpack(bad_request)
    [violation] = bad_request.field_violations
    assert (violation.field, violation.description) == ("email", "Email is invalid")


async def test_unexpected_error_is_internal_and_reveals_nothing(
    pki_dir: Path, server: RunningServer
) -> None:
    async with _channel(pki_dir, server) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateSession(identity_service_pb2.CreateSessionRequest(email="x"))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret internal detail" not in (caught.value.details() or "")


async def test_unimplemented_stays_unimplemented(pki_dir: Path, server: RunningServer) -> None:
    async with _channel(pki_dir, server) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateApiKey(
                identity_service_pb2.CreateApiKeyRequest(),
                metadata=_metadata(identity_pb2.OWNER),
            )
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        pytest.param((), grpc.StatusCode.UNAUTHENTICATED, id="no-identity"),
        pytest.param(
            ((identity.IDENTITY_HEADER, "forged.value"),),
            grpc.StatusCode.UNAUTHENTICATED,
            id="forged",
        ),
        # Signed when the test runs: an identity lives 4 s, collection may be longer ago.
        pytest.param(None, None, id="viewer-reads"),
    ],
)
async def test_access_rules_on_a_viewer_method(
    pki_dir: Path,
    server: RunningServer,
    metadata: tuple[tuple[str, str], ...] | None,
    code: grpc.StatusCode | None,
) -> None:
    if metadata is None:
        metadata = _metadata(identity_pb2.VIEWER)
    async with _channel(pki_dir, server) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        if code is None:
            me = await stub.GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
            assert me.account_id == "7"
            return
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
    assert caught.value.code() == code


async def test_permission_is_checked_before_the_handler(
    pki_dir: Path, server: RunningServer
) -> None:
    async with _channel(pki_dir, server) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateUser(
                identity_service_pb2.CreateUserRequest(),
                metadata=_metadata(identity_pb2.EDITOR),
            )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "You do not have permission to perform this action."


async def test_stop_reports_not_serving(server: RunningServer) -> None:
    await server.stop(0)
    for name in ("", NAME):
        reply = await server.health.Check(health_pb2.HealthCheckRequest(service=name), None)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_leaving_serving_stops_the_server_and_frees_its_port(pki_dir: Path) -> None:
    port = free_port()
    registration = Registration(
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server, _Servicer(), NAME
    )
    async with serving(
        [registration],
        host="127.0.0.1",
        port=port,
        key=KEY,
        rules=RULES,
        callers=CALLERS,
        credentials=tls.server_credentials(pki_dir / AUTH),
        grace=0,
    ) as running:
        assert running.port == port
        assert is_open(port)
    assert not is_open(port)
    reply = await running.health.Check(health_pb2.HealthCheckRequest(service=NAME), None)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_sigterm_stops_a_service_process_cleanly(tmp_path: Path) -> None:
    port = free_port()
    # The block kills the process if it is still running, closes its pipe and reaps it.
    with service_process("auth", tmp_path, port, P13N_DRAIN_SECONDS="0") as process:
        deadline = time.monotonic() + 20
        while not is_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_open(port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        log = log_of(process)
    assert not is_open(port)
    assert "shutting down" in log


def test_a_bad_setting_stops_a_service_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "P13N_DATA_DIR": str(tmp_path), "P13N_AUTH_PORT": "http"}
    result = subprocess.run(
        [sys.executable, "-m", "services.auth"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "P13N_AUTH_PORT='http' is not a port number" in result.stderr


async def test_health_watch_streams_through_the_interceptor(
    pki_dir: Path, server: RunningServer
) -> None:
    async with _channel(pki_dir, server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        call = stub.Watch(health_pb2.HealthCheckRequest(service=NAME))
        first = await call.read()
        call.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_connection_is_renewed_after_its_maximum_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server sends GOAWAY after MAX_CONNECTION_AGE_MS, so a balanced channel to a
    headless Service's name reconnects and resolves the name again (new pods join)."""
    monkeypatch.setattr("services.common.server.MAX_CONNECTION_AGE_MS", 300)
    async with (
        serving(
            [],
            host="127.0.0.1",
            port=0,
            key=KEY,
            rules={},
            callers={},
            credentials=None,
            grace=0,
        ) as running,
        grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel,
    ):
        stub = health_pb2_grpc.HealthStub(channel)
        await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert channel.get_state() == grpc.ChannelConnectivity.READY
        async with asyncio.timeout(5):
            # The server's GOAWAY ends the connection; an idle channel then stays IDLE.
            while channel.get_state() == grpc.ChannelConnectivity.READY:
                await channel.wait_for_state_change(grpc.ChannelConnectivity.READY)
        # A call after that opens a new connection and is answered.
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
