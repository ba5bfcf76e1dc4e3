"""``ServiceInterceptor`` keeps each method's wrapped handler, and only while it wraps the
handler the server resolves for that method."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import grpc

from services.common.access import Access
from services.common.interceptor import ServiceInterceptor

METHOD = "/p13n.auth.v1.IdentityService/GetMe"


async def _answer(request: Any, _context: Any) -> Any:
    return request


def _handler() -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(_answer)


class _Details(NamedTuple):
    """What grpc.aio hands an interceptor (``grpc.HandlerCallDetails``)."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


def _details(method: str) -> _Details:
    return _Details(method)


async def test_a_methods_wrapped_handler_is_kept_while_its_handler_is_the_same() -> None:
    interceptor = ServiceInterceptor({METHOD: Access.VIEWER}, os.urandom(32))
    first, second = _handler(), _handler()
    resolved = [first]

    async def continuation(_details: Any) -> Any:
        return resolved[0]

    wrapped = await interceptor.intercept_service(continuation, _details(METHOD))
    assert wrapped is not first
    assert wrapped.unary_unary is not None
    assert await interceptor.intercept_service(continuation, _details(METHOD)) is wrapped
    resolved[0] = second  # the server now resolves another handler for the method
    rewrapped = await interceptor.intercept_service(continuation, _details(METHOD))
    assert rewrapped is not wrapped
    assert await interceptor.intercept_service(continuation, _details(METHOD)) is rewrapped


async def test_a_method_without_a_handler_is_not_kept() -> None:
    interceptor = ServiceInterceptor({}, os.urandom(32))

    async def nothing(_details: Any) -> None:
        return None

    for n in range(3):
        assert await interceptor.intercept_service(nothing, _details(f"/x.Y/Z{n}")) is None
    # Method names are the caller's to choose: none without a handler may take memory.
    assert interceptor._wrapped == {}  # noqa: SLF001
