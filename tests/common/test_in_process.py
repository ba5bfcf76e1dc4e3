"""In-process calls (``services.common.in_process``) against the same servicer over gRPC.

One servicer is served by a real grpc.aio server with mutual TLS and the real
``ServiceInterceptor`` (rules, callers, key), and hosted in an ``InProcess`` with that
server's interceptors, as ``serving_from`` does in the single-process mode. Each test
makes the same call both ways: a caller must not be able to tell them apart by the
answer, nor by a failure's code, message and trailing metadata (the ``google.rpc.Status``
details the gateway prints).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import (
    account_pb2,
    identity_pb2,
    identity_service_pb2,
    identity_service_pb2_grpc,
)
from p13n.profile.v1 import profile_service_pb2, profile_service_pb2_grpc
from support.tls import aio_channel
from typing_extensions import override

from services.common import clients, handlers, identity, logs, pki, tls
from services.common.access import Access
from services.common.callers import AUTH, GATEWAY, OFFERS, PROFILE, only
from services.common.clients import Channels
from services.common.config import Settings
from services.common.errors import InvalidArgument
from services.common.in_process import InProcess, LocalChannel
from services.common.rpc_status import DETAILS_KEY
from services.common.server import Registration, RunningServer, serving

KEY = os.urandom(32)
NAME = "p13n.auth.v1.IdentityService"
RULES = {
    f"/{NAME}/CreateSession": Access.OPEN,
    f"/{NAME}/GetMe": Access.VIEWER,
    f"/{NAME}/CreateUser": Access.ADMIN,
}
# Only the gateway may call: another component's call is refused by name.
CALLERS = {method: only(GATEWAY) for method in RULES}
# What the handler sets in its own context, which must not reach the caller's.
CALLEE_REQUEST_ID = "callee-request"
CALLER_REQUEST_ID = "caller-request"
SLOW = "slow@example.com"


class _Servicer(identity_service_pb2_grpc.IdentityServiceServicer):
    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    @override
    async def CreateSession(
        self, request: identity_service_pb2.CreateSessionRequest, context: Any
    ) -> identity_service_pb2.CreateSessionResponse:
        if request.email == "bad":
            raise InvalidArgument("Email is invalid", reason="BAD_EMAIL", field="email")
        if request.email == SLOW:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if request.email == "broken":
            raise ValueError("secret internal detail")
        return identity_service_pb2.CreateSessionResponse(session_token=f"for {request.email}")

    @override
    async def GetMe(
        self, request: identity_service_pb2.GetMeRequest, context: Any
    ) -> identity_service_pb2.Me:
        # What the interceptor set for this call, and something the handler sets itself.
        caller = identity.current.get()
        seen = logs.request_id.get()
        logs.request_id.set("changed by the handler")
        return identity_service_pb2.Me(account_id=f"{caller.account_id if caller else ''}/{seen}")

    @override
    async def CreateUser(
        self, request: identity_service_pb2.CreateUserRequest, context: Any
    ) -> account_pb2.User:
        raise AssertionError("must not run: permission is checked before the handler")


class _EncodingServicer(identity_service_pb2_grpc.IdentityServiceServicer):
    """Answers GetMe with bytes it encoded itself (``services.common.handlers``)."""

    @override
    async def GetMe(self, request: identity_service_pb2.GetMeRequest, context: Any) -> Any:
        return identity_service_pb2.Me(account_id="pre-encoded").SerializeToString()


@dataclass
class Both:
    """The same servicer behind a real server and in this process, and how to reach it."""

    pki_dir: Path
    server: RunningServer
    in_process: InProcess
    servicer: Any

    @contextlib.asynccontextmanager
    async def remote(self, caller: str = GATEWAY) -> AsyncIterator[Any]:
        async with aio_channel(self.pki_dir, caller, self.server.port, AUTH) as channel:
            yield identity_service_pb2_grpc.IdentityServiceStub(channel)

    def local(self, caller: str = GATEWAY) -> Any:
        return identity_service_pb2_grpc.IdentityServiceStub(self.in_process.channel(AUTH, caller))


@contextlib.asynccontextmanager
async def _both(pki_dir: Path, registration: Registration) -> AsyncIterator[Both]:
    async with serving(
        [registration],
        host="127.0.0.1",
        port=0,
        key=KEY,
        rules=RULES,
        callers=CALLERS,
        credentials=tls.server_credentials(pki_dir / AUTH),
        grace=0,
    ) as running:
        in_process = InProcess(frozenset({AUTH}))
        # As ``serving_from`` hosts a component: the server's own interceptors.
        with in_process.hosting(AUTH, [registration], running.interceptors):
            yield Both(pki_dir, running, in_process, registration.servicer)


@pytest.fixture
async def both(pki_dir: Path) -> AsyncIterator[Both]:
    registration = Registration(
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server, _Servicer(), NAME
    )
    async with _both(pki_dir, registration) as found:
        yield found


def _as(role: identity_pb2.Role, account_id: str = "7") -> tuple[tuple[str, str], ...]:
    signed = identity.sign(identity_pb2.Identity(account_id=account_id, role=role), KEY)
    return ((identity.IDENTITY_HEADER, signed),)


@dataclass(frozen=True)
class Failure:
    code: grpc.StatusCode
    details: str | None
    # The google.rpc.Status the gateway turns into JSON, if any.
    status: bytes | None


async def _failure(call: Awaitable[Any]) -> Failure:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = caught.value
    trailing = dict(error.trailing_metadata() or ())
    status = trailing.get(DETAILS_KEY)
    assert status is None or isinstance(status, bytes)
    return Failure(error.code(), error.details(), status)


async def _failures(
    both: Both, call: Callable[[Any], Awaitable[Any]], caller: str = GATEWAY
) -> tuple[Failure, Failure]:
    """The failure of ``call`` over the network and in process, as ``caller``."""
    async with both.remote(caller) as stub:
        remote = await _failure(call(stub))
    local = await _failure(call(both.local(caller)))
    return remote, local


async def test_an_answer_is_the_same_in_process(both: Both) -> None:
    request = identity_service_pb2.CreateSessionRequest(email="ada@example.com")
    async with both.remote() as stub:
        remote = await stub.CreateSession(request)
    local = await both.local().CreateSession(request)
    assert local == remote
    assert local.session_token == "for ada@example.com"


async def test_a_domain_error_has_the_same_code_message_and_details(both: Both) -> None:
    remote, local = await _failures(
        both,
        lambda stub: stub.CreateSession(identity_service_pb2.CreateSessionRequest(email="bad")),
    )
    assert remote.code == grpc.StatusCode.INVALID_ARGUMENT
    assert remote.status is not None
    assert local == remote


async def test_an_unexpected_error_is_the_same_internal_error(both: Both) -> None:
    remote, local = await _failures(
        both,
        lambda stub: stub.CreateSession(identity_service_pb2.CreateSessionRequest(email="broken")),
    )
    assert remote.code == grpc.StatusCode.INTERNAL
    assert local == remote


async def test_a_call_without_an_identity_is_refused_the_same(both: Both) -> None:
    remote, local = await _failures(
        both, lambda stub: stub.GetMe(identity_service_pb2.GetMeRequest())
    )
    assert remote.code == grpc.StatusCode.UNAUTHENTICATED
    assert local == remote


async def test_a_role_the_rule_refuses_is_refused_the_same(both: Both) -> None:
    remote, local = await _failures(
        both,
        lambda stub: stub.CreateUser(
            identity_service_pb2.CreateUserRequest(), metadata=_as(identity_pb2.VIEWER)
        ),
    )
    assert remote.code == grpc.StatusCode.PERMISSION_DENIED
    assert local == remote


async def test_a_caller_not_on_the_list_is_refused_the_same(both: Both) -> None:
    """In process the caller's name is the component the channel was opened for, as the
    certificate says it over the network."""
    remote, local = await _failures(
        both,
        lambda stub: stub.GetMe(
            identity_service_pb2.GetMeRequest(), metadata=_as(identity_pb2.OWNER)
        ),
        caller=OFFERS,
    )
    assert remote.code == grpc.StatusCode.PERMISSION_DENIED
    assert remote.details == f"/{NAME}/GetMe may not be called by offers"
    assert local == remote


async def test_a_caller_on_the_list_is_let_through_in_process(both: Both) -> None:
    me = await both.local(GATEWAY).GetMe(
        identity_service_pb2.GetMeRequest(),
        metadata=(*_as(identity_pb2.VIEWER), ("x-request-id", CALLEE_REQUEST_ID)),
    )
    assert me.account_id == f"7/{CALLEE_REQUEST_ID}"


async def test_each_call_of_a_method_is_judged_on_its_own(both: Both) -> None:
    """The interceptor keeps a method's wrapped handler after its first call; the access
    rule, the caller check and the identity are still each call's own, both ways."""

    async def calls(stub: Any) -> list[str]:
        seen = []
        for account, metadata in (("1", _as(identity_pb2.VIEWER, "1")), ("none", ())):
            try:
                me = await stub.GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
                seen.append(me.account_id.split("/")[0])
            except grpc.aio.AioRpcError as error:
                seen.append(f"{account}: {error.code().name}")
        me = await stub.GetMe(
            identity_service_pb2.GetMeRequest(), metadata=_as(identity_pb2.OWNER, "2")
        )
        return [*seen, me.account_id.split("/")[0]]

    expected = ["1", "none: UNAUTHENTICATED", "2"]
    async with both.remote() as stub:
        assert await calls(stub) == expected
        assert await calls(stub) == expected
    assert await calls(both.local()) == expected
    refused = await _failure(
        both.local(OFFERS).GetMe(
            identity_service_pb2.GetMeRequest(), metadata=_as(identity_pb2.OWNER)
        )
    )
    assert refused.code == grpc.StatusCode.PERMISSION_DENIED
    assert await calls(both.local()) == expected


@contextlib.contextmanager
def _caller_context() -> Iterator[identity_pb2.Identity]:
    """The caller's own request id and identity, as a handler calling another has them."""
    mine = identity_pb2.Identity(account_id="caller", role=identity_pb2.OWNER)
    tokens = (
        logs.request_id.set(CALLER_REQUEST_ID),
        identity.current.set(mine),
        identity.current_header.set("caller's header"),
    )
    try:
        yield mine
    finally:
        identity.current_header.reset(tokens[2])
        identity.current.reset(tokens[1])
        logs.request_id.reset(tokens[0])


async def test_the_callees_context_does_not_leak_into_the_callers(both: Both) -> None:
    with _caller_context() as mine:
        me = await both.local().GetMe(
            identity_service_pb2.GetMeRequest(),
            metadata=(*_as(identity_pb2.VIEWER), ("x-request-id", CALLEE_REQUEST_ID)),
        )
        # The callee saw its own (from the metadata), then changed the request id...
        assert me.account_id == f"7/{CALLEE_REQUEST_ID}"
        # ...and the caller's are as they were.
        assert logs.request_id.get() == CALLER_REQUEST_ID
        assert identity.current.get() is mine
        assert identity.current_header.get() == "caller's header"


async def test_the_callee_serves_under_the_callers_request_id(both: Both) -> None:
    """An internal call carries the id of the request it serves (``clients.with_request_id``):
    the callee's log lines name the gateway's request, over the network as in process."""
    with _caller_context():
        metadata = clients.with_request_id(_as(identity_pb2.VIEWER))
        async with both.remote() as stub:
            remote = await stub.GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
        local = await both.local().GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
    assert remote.account_id == local.account_id == f"7/{CALLER_REQUEST_ID}"


async def test_without_a_request_id_the_callee_makes_its_own(both: Both) -> None:
    metadata = clients.with_request_id(_as(identity_pb2.VIEWER))
    assert metadata == _as(identity_pb2.VIEWER)  # nothing is being served here
    async with both.remote() as stub:
        first = await stub.GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
    second = await both.local().GetMe(identity_service_pb2.GetMeRequest(), metadata=metadata)
    made_up = {first.account_id.removeprefix("7/"), second.account_id.removeprefix("7/")}
    assert len(made_up) == 2  # one each, of the interceptor's making (a uuid4's hex)
    assert all(len(rid) == 32 for rid in made_up)


async def test_a_refused_call_does_not_leak_either(both: Both) -> None:
    with _caller_context() as mine:
        await _failure(
            both.local(OFFERS).GetMe(
                identity_service_pb2.GetMeRequest(),
                metadata=(*_as(identity_pb2.VIEWER), ("x-request-id", CALLEE_REQUEST_ID)),
            )
        )
        assert logs.request_id.get() == CALLER_REQUEST_ID
        assert identity.current.get() is mine


async def test_a_deadline_gives_deadline_exceeded_and_cancels_the_handler(both: Both) -> None:
    remote, local = await _failures(
        both,
        lambda stub: stub.CreateSession(
            identity_service_pb2.CreateSessionRequest(email=SLOW), timeout=0.3
        ),
    )
    assert remote.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert local == remote
    # The in-process handler does not run on after its caller gave up (the remote one's
    # cancellation is grpc's); the last call was the local one.
    await asyncio.wait_for(both.servicer.cancelled.wait(), 10)


async def test_the_handler_sees_the_time_remaining(both: Both) -> None:
    remaining: list[float | None] = []

    class Timed(identity_service_pb2_grpc.IdentityServiceServicer):
        @override
        async def CreateSession(self, request: Any, context: Any) -> Any:
            remaining.append(context.time_remaining())
            return identity_service_pb2.CreateSessionResponse()

    registration = Registration(
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server, Timed(), NAME
    )
    async with _both(both.pki_dir, registration) as timed:
        await timed.local().CreateSession(identity_service_pb2.CreateSessionRequest(), timeout=20)
        await timed.local().CreateSession(identity_service_pb2.CreateSessionRequest())
    first, second = remaining
    assert first is not None
    assert 10 < first <= 20
    assert second is None


async def test_a_named_component_not_serving_is_unavailable() -> None:
    in_process = InProcess(frozenset({AUTH, PROFILE}))
    stub = identity_service_pb2_grpc.IdentityServiceStub(in_process.channel(AUTH, GATEWAY))
    failure = await _failure(stub.CreateSession(identity_service_pb2.CreateSessionRequest()))
    assert failure.code == grpc.StatusCode.UNAVAILABLE


async def test_a_component_that_stopped_serving_is_unavailable(pki_dir: Path) -> None:
    registration = Registration(
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server, _Servicer(), NAME
    )
    async with _both(pki_dir, registration) as both:
        in_process = both.in_process
    stub = identity_service_pb2_grpc.IdentityServiceStub(in_process.channel(AUTH, GATEWAY))
    failure = await _failure(stub.CreateSession(identity_service_pb2.CreateSessionRequest()))
    assert failure.code == grpc.StatusCode.UNAVAILABLE


async def test_a_method_the_component_does_not_serve_is_unimplemented(both: Both) -> None:
    """Profile's stub on auth's servicers: no handler for the method, both ways."""

    async def call(channel: Any) -> None:
        stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
        await stub.GetProfile(profile_service_pb2.GetProfileRequest())

    async with aio_channel(both.pki_dir, GATEWAY, both.server.port, AUTH) as channel:
        remote = await _failure(call(channel))
    local = await _failure(call(both.in_process.channel(AUTH, GATEWAY)))
    assert remote.code == grpc.StatusCode.UNIMPLEMENTED
    assert local.code == remote.code


async def test_a_pre_encoded_answer_is_decoded_by_the_stubs_deserializer(pki_dir: Path) -> None:
    service = identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"]
    registration = Registration(handlers.register(service), _EncodingServicer(), NAME)
    async with _both(pki_dir, registration) as both:
        request = identity_service_pb2.GetMeRequest()
        metadata = _as(identity_pb2.VIEWER)
        async with both.remote() as stub:
            remote = await stub.GetMe(request, metadata=metadata)
        local = await both.local().GetMe(request, metadata=metadata)
    assert isinstance(local, identity_service_pb2.Me)
    assert local == remote
    assert local.account_id == "pre-encoded"


async def test_a_streaming_method_is_not_supported_in_process() -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(
        InProcess(frozenset({PROFILE})).channel(PROFILE, OFFERS)
    )
    with pytest.raises(NotImplementedError, match="StreamImportAttributes streams"):
        stub.StreamImportAttributes(iter(()))


def _settings(data_dir: Path) -> Settings:
    settings = Settings.from_env({"P13N_DATA_DIR": str(data_dir)})
    pki.ensure(settings.pki_dir)
    return settings


async def test_channels_are_local_for_a_hosted_component_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    in_process = InProcess(frozenset({PROFILE, OFFERS}))
    async with Channels.of(settings, PROFILE, in_process=in_process) as channels:
        local = channels.get(settings.offers_target, OFFERS)
        remote = channels.get(settings.auth_target, AUTH)
        assert isinstance(local, LocalChannel)
        assert not isinstance(remote, LocalChannel)
        # The same target twice is the same (shared) network channel.
        assert channels.get(settings.auth_target, AUTH) is remote


async def test_channels_without_in_process_are_all_remote(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with Channels.of(settings, PROFILE) as channels:
        assert not isinstance(channels.get(settings.offers_target, OFFERS), LocalChannel)


async def test_a_nul_in_a_string_is_refused_the_same(both: Both) -> None:
    """Over the network the NUL rule reads the encoding (``interceptor._tolerant``); in
    process there is none, and the message itself is searched."""
    remote, local = await _failures(
        both,
        lambda stub: stub.CreateSession(identity_service_pb2.CreateSessionRequest(email="a\0b")),
    )
    assert remote.code == grpc.StatusCode.INVALID_ARGUMENT
    assert remote.status is not None
    assert local == remote
