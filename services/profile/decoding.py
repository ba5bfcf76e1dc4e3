"""Requests too deeply nested to decode are the client's mistake (400), not INTERNAL (500).

The protobuf runtime refuses to decode messages nested more than 100 levels deep, and each
JSON level of an event costs about three message levels inside a ``Struct`` (Struct, map
entry, Value). An event nested some 33 levels deep therefore cannot even be decoded, and
gRPC would answer INTERNAL, which the gateway turns into a 500.

``register`` adds a servicer with the generated ``add_…_to_server`` function but wraps each
method's deserializer: bytes that fail to decode become ``UNDECODABLE``, which the handler
(running after the access check, like any other request) refuses with ``refuse_undecodable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from services.common.errors import InvalidArgument


class _Undecodable:
    def __repr__(self) -> str:
        return "UNDECODABLE"


UNDECODABLE: Any = _Undecodable()


def refuse_undecodable(request: object) -> None:
    if request is UNDECODABLE:
        raise InvalidArgument(
            "The request could not be decoded: events may be nested at most 32 levels deep",
            reason="UNDECODABLE_REQUEST",
        )


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def tolerant(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            return UNDECODABLE

    return tolerant


class _TolerantServer:
    """Stands in for the server while the generated function registers its handlers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.registered = False

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        # Ignored: the same handlers arrive as a dict in add_registered_method_handlers.
        return None

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        tolerant = {
            name: handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
            for name, handler in handlers.items()
        }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, tolerant),)
        )
        self._server.add_registered_method_handlers(service, tolerant)
        self.registered = True


def register(add: Callable[[Any, Any], None]) -> Callable[[Any, grpc.aio.Server], None]:
    """A ``Registration.add`` that registers the servicer with tolerant deserializers."""

    def add_tolerant(servicer: Any, server: grpc.aio.Server) -> None:
        proxy = _TolerantServer(server)
        add(servicer, proxy)
        if not proxy.registered:  # a grpcio that registers differently: fail loudly
            raise RuntimeError(f"{add.__name__} did not register any method handlers")

    return add_tolerant
