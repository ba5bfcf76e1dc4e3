"""Channels from one p13n service to another, and the identity each call carries.

A call on behalf of the current caller forwards the caller's signed identity, so the callee
applies the caller's own permissions; a call on the service's own behalf signs a service
identity. Channels are created once per target and reused, and closed together when the
service's lifespan leaves its ``async with Channels()`` step.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from p13n.auth.v1 import identity_pb2

from services.common import identity, logs, tls
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.reloading import ReloadingChannel
from services.common.replicas import balanced_service_config, is_balanced
from services.common.server import MAX_MESSAGE_BYTES

Metadata = tuple[tuple[str, str], ...]


# gRPC waits up to two minutes between reconnection attempts by default; calls that must
# fail fast (no wait_for_ready) would then fail for that long after the callee is back.
FAST_RECONNECT: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A DNS name (a headless Service) is resolved again when its addresses stop answering,
    # but by default at most every 30 s: a replaced pod (a new address) would get no calls
    # for that long. Once a second finds it within a second of its readiness.
    ("grpc.dns_min_time_between_resolutions_ms", 1000),
)


def open_channel(
    target: str,
    server: str,
    credentials: grpc.ChannelCredentials | None,
    options: tuple[tuple[str, int], ...] = (),
) -> grpc.aio.Channel:
    """A channel to component ``server`` at ``target``: mutual TLS with ``credentials``
    (the caller's certificate), plain only for the benchmark's loopback comparison.

    A target listing several replicas is balanced across those whose readiness
    (``p13n.<server>``) says SERVING (``services.common.replicas``); every replica presents
    the same component's
    certificate, so the name check is the same for each.
    """
    common: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        *options,
    ]
    if is_balanced(target):
        # A restarted replica rejoins within a second, not after gRPC's growing backoff.
        given = {name for name, _ in options}
        common += [option for option in FAST_RECONNECT if option[0] not in given]
        common.append(("grpc.service_config", balanced_service_config(server)))
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=common)
    return grpc.aio.secure_channel(
        target, credentials, options=[*common, *tls.target_options(server)]
    )


class Channels:
    """Lazily opened, shared grpc.aio channels keyed by target, all as one component.

    ``tls_dir`` is the component's own certificate directory (``Channels.of(settings,
    name)``); each channel follows a renewal there (``services.common.reloading``). None
    only when internal TLS is off.
    """

    def __init__(
        self,
        tls_dir: Path | None = None,
        options: tuple[tuple[str, int], ...] = (),
        local: tuple[InProcess, str] | None = None,
    ) -> None:
        self._channels: dict[str, Any] = {}
        self._tls_dir = tls_dir
        self._options = options
        self._local = local

    @classmethod
    def of(
        cls,
        settings: Settings,
        component: str,
        options: tuple[tuple[str, int], ...] = (),
        in_process: InProcess | None = None,
    ) -> Channels:
        """Channels that call as ``component``, as ``settings`` say (its certificate);
        a component ``in_process`` hosts is called there, not over the network."""
        tls_dir = settings.tls_dir(component) if settings.internal_tls else None
        return cls(tls_dir, options, None if in_process is None else (in_process, component))

    def get(self, target: str, server: str) -> Any:
        """The channel to component ``server`` (verified by its certificate) at ``target``,
        or to its servicers in this process when it is hosted here."""
        if self._local is not None and server in self._local[0].components:
            in_process, caller = self._local
            return in_process.channel(server, caller)
        channel = self._channels.get(target)
        if channel is None:
            if self._tls_dir is None:
                channel = open_channel(target, server, None, self._options)
            else:
                channel = ReloadingChannel(
                    lambda credentials: open_channel(target, server, credentials, self._options),
                    self._tls_dir,
                )
            self._channels[target] = channel
        return channel

    async def close(self) -> None:
        # Every channel is closed even if one fails to; the first failure is raised after.
        channels, self._channels = list(self._channels.values()), {}
        outcomes = await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def __aenter__(self) -> Channels:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def with_request_id(metadata: Metadata) -> Metadata:
    """``metadata`` and the id of the request being served, so that the callee's log lines
    carry the id the gateway gave the request (its access log's ``x-request-id``), not one
    of their own: one visitor's event is one id across auth, offers and profile."""
    served = logs.request_id.get()
    return (*metadata, (logs.REQUEST_ID_HEADER, served)) if served else metadata


def on_behalf_of_caller() -> Metadata:
    """Metadata that forwards the current caller's signed identity."""
    header = identity.current_header.get()
    return with_request_id(((identity.IDENTITY_HEADER, header),) if header else ())


def as_service(name: str, key: bytes) -> Metadata:
    """Metadata for a call a service makes on its own behalf."""
    signed = identity.sign(identity.service_identity(name), key)
    return with_request_id(((identity.IDENTITY_HEADER, signed),))


def on_behalf_of_caller_as(name: str, key: bytes) -> Metadata:
    """Metadata forwarding the current caller's identity through an internal-only RPC.

    The caller's identity is re-signed with ``caller_service`` set, so that the callee's
    internal rule accepts it while still seeing whose request it serves (account, parent
    segment, token). Without a current caller it is ``as_service(name, key)``.
    """
    caller = identity.current.get()
    if caller is None:
        return as_service(name, key)
    forwarded = identity_pb2.Identity()
    forwarded.CopyFrom(caller)
    forwarded.caller_service = name
    return with_request_id(((identity.IDENTITY_HEADER, identity.sign(forwarded, key)),))
