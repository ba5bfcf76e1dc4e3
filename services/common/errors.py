"""Domain errors every service raises, and the google.rpc code each one stands for.

The hierarchy (a client's mistake is never INTERNAL)::

    P13nError
    ├── InvalidArgument      INVALID_ARGUMENT   the request itself is wrong
    ├── NotFound             NOT_FOUND          it names something that does not exist
    ├── AlreadyExists        ALREADY_EXISTS     it would create a duplicate
    ├── FailedPrecondition   FAILED_PRECONDITION the system is not in a state that allows it
    ├── PermissionDenied     PERMISSION_DENIED  the caller may not do this
    ├── Unauthenticated      UNAUTHENTICATED    the caller is not known
    ├── ResourceExhausted    RESOURCE_EXHAUSTED a limit was hit
    └── Unavailable          UNAVAILABLE        a dependency cannot answer now; retry

Each error carries an AIP-193 ``reason`` (UPPER_SNAKE_CASE) that clients can switch on,
``metadata`` for its ``google.rpc.ErrorInfo``, the request ``field`` at fault when there
is one, and a message written for the developer who will read it.

The codes are ``google.rpc.code_pb2`` numbers, not ``grpc.StatusCode``: the domain
modules that raise these stay free of grpc, and the one place that speaks gRPC
(``services.common.rpc_status``, used by the interceptor) maps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from google.rpc import code_pb2

PERMISSION_DENIED_MESSAGE = "You do not have permission to perform this action."


class P13nError(Exception):
    """A failure whose cause is known and whose message is safe to show the caller."""

    code: ClassVar[int] = code_pb2.UNKNOWN
    default_reason: ClassVar[str] = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason or self.default_reason
        self.metadata: Mapping[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        # Logs and test failures show which field and reason, not only the message.
        name = type(self).__name__
        return f"{name}({self.message!r}, field={self.field!r}, reason={self.reason!r})"


class InvalidArgument(P13nError):
    code = code_pb2.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(P13nError):
    code = code_pb2.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(P13nError):
    code = code_pb2.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(P13nError):
    code = code_pb2.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class PermissionDenied(P13nError):
    code = code_pb2.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"

    def __init__(
        self,
        message: str = PERMISSION_DENIED_MESSAGE,
        *,
        field: str = "",
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, field=field, reason=reason, metadata=metadata)


class Unauthenticated(P13nError):
    code = code_pb2.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(P13nError):
    code = code_pb2.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(P13nError):
    code = code_pb2.UNAVAILABLE
    default_reason = "UNAVAILABLE"


def parent_segment_not_found(parent_segment_id: str) -> NotFound:
    """A parent segment the caller cannot see, in the one wording every service and store uses.

    Another account's segment reads the same as a missing one, so ids reveal nothing.
    """
    return NotFound(f"Parent segment {parent_segment_id!r} not found")
