"""Calls between services hosted in one process: the same stubs, without gRPC.

In the single-process mode (``services.single``) auth, profile and offers run in one process.
Each still serves its own port, where Envoy and the other services call it; it also
registers its servicers here (``InProcess.hosting``), and a channel that ``Channels``
opens to a component hosted here is a ``LocalChannel``. The generated stub calls it as it
calls a grpc.aio channel, and the call runs the servicer's handler through the same
interceptors as a call from the network (the component check, the access rule and the
signed identity, the checks of ids and limits, the error mapping), in a task of its own
with a copy of the caller's context, so the callee's request id and identity never leak
back into the caller's. What is saved is the encoding of both messages, two trips
through grpc's core and the loopback socket.

A refusal or failure reaches the caller as the ``grpc.aio.AioRpcError`` a remote call
raises, with the same code, message and trailing metadata (the ``google.rpc.Status``
details), so the caller keeps one way of reading failures. Messages are passed by
reference: neither side changes a request or an answer after handing it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import grpc

from services.common import pki, tls
from services.common.interceptor import as_received

Metadata = Sequence[tuple[str, str | bytes]]


class _CallDetails(NamedTuple):
    """What a server interceptor is given (``grpc.HandlerCallDetails``)."""

    method: str
    invocation_metadata: Metadata


class _Collector:
    """Stands for a server while a ``Registration`` adds its servicer's handlers."""

    def __init__(self) -> None:
        self.handlers: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(self, name: str, handlers: dict[str, Any]) -> None:
        pass  # the generic handlers above serve the same methods


_Resolve = Callable[[_CallDetails], Awaitable[grpc.RpcMethodHandler | None]]


def _resolver(
    handlers: Sequence[grpc.GenericRpcHandler], interceptors: Sequence[grpc.aio.ServerInterceptor]
) -> _Resolve:
    """A method's handler as the component's server would run it: its interceptors
    applied in order, the first outermost. Built once per component, not per call."""

    async def lookup(call: _CallDetails) -> grpc.RpcMethodHandler | None:
        for generic in handlers:
            found = generic.service(call)
            if found is not None:
                return found
        return None

    resolve: _Resolve = lookup
    for interceptor in reversed(interceptors):
        resolve = _chained(interceptor, resolve)
    return resolve


class InProcess:
    """The components this process hosts, by name, with their handlers and interceptors.

    ``components`` are named when the process starts, so a channel opened before its
    callee serves (profile opens one to offers, which starts after it) is still local;
    a call made while the callee is not serving fails as UNAVAILABLE, as over the network.
    """

    def __init__(self, components: frozenset[str]) -> None:
        self.components = components
        self._hosted: dict[str, _Resolve] = {}  # each hosted component's ``_resolver``

    @contextlib.contextmanager
    def hosting(
        self,
        component: str,
        registrations: Sequence[Any],
        interceptors: Sequence[grpc.aio.ServerInterceptor],
    ) -> Iterator[None]:
        """``component``'s servicers answer local calls for the block (its server's life)."""
        assert component in self.components, f"{component} is not hosted in this process"
        collector = _Collector()
        for registration in registrations:
            registration.add(registration.servicer, collector)
        self._hosted[component] = _resolver(collector.handlers, tuple(interceptors))
        try:
            yield
        finally:
            del self._hosted[component]

    def channel(self, component: str, caller: str) -> LocalChannel:
        """A channel to ``component`` for calls made by ``caller`` (a component name)."""
        return LocalChannel(self, component, caller)

    def handler(self, component: str, method: str, metadata: Metadata) -> Awaitable[Any]:
        """The handler of ``method`` as ``component``'s server would run it (``_resolver``)."""
        resolve = self._hosted.get(component)
        if resolve is None:
            raise _status(grpc.StatusCode.UNAVAILABLE, f"{component} is not serving")
        return resolve(_CallDetails(method, tuple(metadata)))


def _chained(interceptor: grpc.aio.ServerInterceptor, continuation: _Resolve) -> _Resolve:
    async def intercepted(call: _CallDetails) -> grpc.RpcMethodHandler | None:
        handler: grpc.RpcMethodHandler | None = await interceptor.intercept_service(
            continuation, call
        )
        return handler

    return intercepted


class LocalChannel:
    """A grpc.aio channel's unary-unary side, answered by a servicer of this process."""

    def __init__(self, in_process: InProcess, component: str, caller: str) -> None:
        self._in_process = in_process
        self._component = component
        self._caller = caller

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,  # noqa: ARG002 (not encoded)
        response_deserializer: Callable[[bytes], Any] | None = None,
        **_: Any,
    ) -> _UnaryUnary:
        return _UnaryUnary(self, method, response_deserializer)

    def unary_stream(self, method: str, *_: Any, **__: Any) -> _Unsupported:
        return _Unsupported(method)

    def stream_unary(self, method: str, *_: Any, **__: Any) -> _Unsupported:
        return _Unsupported(method)

    def stream_stream(self, method: str, *_: Any, **__: Any) -> _Unsupported:
        return _Unsupported(method)

    async def close(self, grace: float | None = None) -> None:
        pass  # nothing is open

    async def call(
        self,
        method: str,
        request: Any,
        budget: float | None,
        metadata: Metadata,
        deserialize: Callable[[bytes], Any] | None,
    ) -> Any:
        """``method``'s answer to ``request``; ``budget`` is the stub's ``timeout``."""
        context = LocalContext(metadata, self._caller, budget)
        task = asyncio.create_task(
            self._run(method, request, context), context=contextvars.copy_context()
        )
        try:
            async with asyncio.timeout(budget):
                response = await task
        except TimeoutError:
            raise _status(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        if isinstance(response, bytes) and deserialize is not None:
            return deserialize(response)  # a handler that encodes its own answer
        return response

    async def _run(self, method: str, request: Any, context: LocalContext) -> Any:
        handler = await self._in_process.handler(self._component, method, context.metadata)
        if handler is None or handler.unary_unary is None:
            raise _status(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        try:
            # The NUL rule, which over the network reads the encoding, marks the message here.
            return await handler.unary_unary(as_received(request, method), context)
        except grpc.aio.AbortError:
            raise context.error() from None


@dataclass
class _UnaryUnary:
    channel: LocalChannel
    method: str
    deserialize: Callable[[bytes], Any] | None

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        **_: Any,
    ) -> Awaitable[Any]:
        return self.channel.call(self.method, request, timeout, metadata or (), self.deserialize)


@dataclass
class _Unsupported:
    method: str

    def __call__(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError(f"{self.method} streams: in-process calls are unary only")


@dataclass
class LocalContext:
    """The ``grpc.aio.ServicerContext`` a handler reads, for a call from this process."""

    metadata: Metadata
    caller: str
    timeout: float | None
    _code: grpc.StatusCode | None = None
    _details: str = ""
    _trailing: Metadata = ()
    _deadline: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.timeout is not None:
            self._deadline = time.monotonic() + self.timeout

    def invocation_metadata(self) -> Metadata:
        return self.metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        # What mutual TLS would say of the caller: its component's certificate.
        return {tls.SPIFFE_KEY: [pki.spiffe_id(self.caller).encode()]}

    def peer(self) -> str:
        return f"in-process:{self.caller}"

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(self._deadline - time.monotonic(), 0.0)

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> None:
        self._code, self._details, self._trailing = code, details, tuple(trailing_metadata)
        raise grpc.aio.AbortError()

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_details(self, details: str) -> None:
        self._details = details

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, trailing_metadata: Metadata) -> None:
        self._trailing = tuple(trailing_metadata)

    async def send_initial_metadata(self, initial_metadata: Metadata) -> None:
        pass  # a unary answer's initial metadata reaches no in-process caller

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return False

    def error(self) -> grpc.aio.AioRpcError:
        """The failure the caller sees, as a remote call would raise it."""
        return _status(self._code or grpc.StatusCode.UNKNOWN, self._details, self._trailing)


def _status(code: grpc.StatusCode, details: str, trailing: Metadata = ()) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*trailing),
        details=details,
    )
