"""The one server interceptor: access rules first, then domain errors mapped to statuses.

A ``P13nError`` becomes its status code and message, with the ``google.rpc.ErrorInfo`` and
(for a field error) ``google.rpc.BadRequest`` details that ``services.common.rpc_status``
builds (AIP-193), so the gateway prints ``{"code", "message", "details"}`` JSON. Anything
unexpected becomes INTERNAL with a generic message and a logged traceback: the caller
learns nothing internal. So that a client's mistake never gets that far, every request's
ids (``services.common.ids``) and, for admin requests, every field's size
(``services.common.limits``) are checked here, after the access rules and before the
handler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import grpc
from google.protobuf.message import DecodeError

from services.common import access, callers, identity, ids, limits, logs, nul, tls
from services.common.callers import Callers
from services.common.errors import InvalidArgument, P13nError
from services.common.rpc_status import DETAILS_KEY, grpc_code, status_details

log = logging.getLogger(__name__)


async def _abort(context: grpc.aio.ServicerContext, error: P13nError) -> None:
    await context.abort(
        grpc_code(error.code),
        error.message,
        trailing_metadata=((DETAILS_KEY, status_details(error)),),
    )


class ServiceInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authorizes every call by the service's rules and maps its errors."""

    def __init__(
        self,
        rules: Mapping[str, access.Access],
        key: bytes,
        callers: Callers | None = None,
    ) -> None:
        self._rules = rules
        self._key = key
        # None: no certificates (the benchmark's loopback comparison), nothing to check.
        self._callers = callers
        # The wrapped handler of each method, built on its first call: what it wraps
        # depends on the method alone, and building it anew cost every call its closures.
        # A method with no handler is never kept, so the map holds the services' own.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        kept = self._wrapped.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        rule = access.rule_for(method, self._rules)

        allowed = self._callers

        async def prepare(context: grpc.aio.ServicerContext) -> None:
            metadata = access.metadata_dict(context)
            logs.request_id.set(metadata.get(logs.REQUEST_ID_HEADER) or uuid.uuid4().hex)
            # The component first: a caller outside the list learns nothing of the rest.
            if allowed is not None:
                callers.check(method, allowed, tls.caller_name(context))
            caller = access.authorize(rule, metadata, self._key)
            identity.current.set(caller)
            identity.current_header.set(metadata.get(identity.IDENTITY_HEADER, ""))

        return _wrap(handler, prepare, method)


async def _handle_failure(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, P13nError):
        await _abort(context, exc)
    if _text_the_database_refused(exc):
        # Requests are refused before this (``services.common.nul``); text from elsewhere
        # (an import's file) that PostgreSQL cannot store is still the client's, not ours.
        log.warning("PostgreSQL refused a character of the request's text: %s", type(exc).__name__)
        await _abort(context, nul.refusal("Text"))
    # The generated base servicer marks RPCs a later issue implements as UNIMPLEMENTED
    # before raising; keep that status honest instead of calling it an internal error.
    if context.code() == grpc.StatusCode.UNIMPLEMENTED:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "This method is not implemented yet")
    log.exception("unexpected error")
    await context.abort(grpc.StatusCode.INTERNAL, "Internal error; it has been logged")


def _text_the_database_refused(exc: BaseException) -> bool:
    """PostgreSQL's "invalid byte sequence" (22021) or "unsupported Unicode escape
    sequence" (22P05), however wrapped: its answer to a NUL in text or JSONB."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(
            seen, asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# Runs before the handler (authentication, request id); raising refuses the call.
_Prepare = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


def _wrap(
    handler: grpc.RpcMethodHandler,
    prepare: _Prepare,
    method: str,
) -> grpc.RpcMethodHandler:
    """The same handler, with ``prepare`` run first and failures mapped."""
    codec = {
        "request_deserializer": _tolerant(
            handler.request_deserializer, refuse_nul=method.startswith("/p13n.")
        ),
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, prepare, method), **codec
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _unary(handler.stream_unary, prepare, method), **codec
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, prepare, method), **codec
        )
    return grpc.stream_stream_rpc_method_handler(
        _streaming(handler.stream_stream, prepare, method), **codec
    )


def _unary(
    behavior: Callable[..., Awaitable[Any]],
    prepare: _Prepare,
    method: str,
) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            await prepare(context)
            return await behavior(_decoded(request, method), context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _handle_failure(context, exc)

    return wrapped


def _streaming(
    behavior: Callable[..., Any],
    prepare: _Prepare,
    method: str,
) -> Callable[..., Awaitable[None]]:
    # A streaming handler is an async generator or a coroutine that calls
    # context.write() itself (the stock Health/Watch); serve both as the latter.
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> None:
        try:
            await prepare(context)
            responses = behavior(_decoded(request, method), context)
            if hasattr(responses, "__aiter__"):
                async for response in responses:
                    await context.write(response)
            else:
                await responses
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _handle_failure(context, exc)

    return wrapped


class _Undecodable:
    """Stands for a request message the protobuf runtime refused to decode."""

    def __repr__(self) -> str:
        return "UNDECODABLE"


_UNDECODABLE: Any = _Undecodable()


class _HoldsNul:
    """Stands for a request with U+0000 in a string (``services.common.nul``)."""

    def __init__(self, path: str, message: Any) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"HOLDS_NUL({self.path})"


def _tolerant(
    deserialize: Callable[[bytes], Any] | None, *, refuse_nul: bool
) -> Callable[[bytes], Any] | None:
    """A deserializer that hands undecodable bytes on instead of failing the call.

    The protobuf runtime refuses messages nested more than 100 levels, and a JSON level of
    an event costs about three inside a ``google.protobuf.Struct``: an event nested some 34
    levels cannot even be decoded. gRPC would answer INTERNAL (a 500 at the gateway);
    deciding after the access check lets it be the client's mistake it is.
    """
    if deserialize is None:
        return None

    def tolerant(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except DecodeError:
            return _UNDECODABLE
        # Found here, where the encoding is at hand (a zero byte in it is rare, and a NUL
        # always makes one), refused in ``_refuse``, after the access check. Only p13n's
        # own APIs: Envoy's ext_authz Check carries a client's raw request (a gRPC frame
        # is full of zero bytes), which the auth service judges itself; what it lets
        # through reaches a p13n API, and this rule, after transcoding.
        if refuse_nul and nul.may_hold_nul(data):
            path = nul.first_nul(message)
            if path is not None:
                return _HoldsNul(path, message)
        return message

    return tolerant


def undecodable() -> InvalidArgument:
    """The refusal of a request the protobuf runtime cannot decode (nested too deep)."""
    return InvalidArgument(
        "The request could not be decoded: events may be nested at most 32 levels deep",
        reason="UNDECODABLE_REQUEST",
    )


def as_received(request: Any, method: str) -> Any:
    """``request`` as ``_tolerant`` would hand it on had it arrived encoded: one with U+0000
    in a string marked for the NUL rule. For a call made in this process
    (``services.common.in_process``), whose message no deserializer sees; without it a
    browser's event with a NUL that the network path refuses would be stored."""
    # As on the network, only a message whose encoding holds a zero byte is walked: every
    # NUL in a string is encoded as one, and encoding costs far less than the walk.
    if method.startswith("/p13n.") and nul.may_hold_nul(request.SerializeToString()):
        path = nul.first_nul(request)
        if path is not None:
            return _HoldsNul(path, request)
    return request


def _refuse(request: Any, method: str) -> Any:
    if request is _UNDECODABLE:
        raise undecodable()
    # Ids and limits are checked here, once for every route of every service, not in
    # each handler. They come before the NUL rule, whose message is the general one: a
    # name field with a NUL keeps its own ("… must not contain control characters …").
    decoded = request.message if isinstance(request, _HoldsNul) else request
    ids.check_request_ids(decoded)
    limits.check_request(method, decoded)
    if isinstance(request, _HoldsNul):
        raise nul.refusal(request.path)
    return request


def _decoded(request: Any, method: str) -> Any:
    """The request, refusing an undecodable one; a request stream is checked per message."""
    if hasattr(request, "__aiter__"):

        async def checked() -> AsyncIterator[Any]:
            async for message in request:
                yield _refuse(message, method)

        return checked()
    return _refuse(request, method)
