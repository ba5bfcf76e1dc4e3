"""What a failed call to another service means for the request that made it.

One translator, so every service reads another's failure alike. Three kinds:

- an outage (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED): the callee could not answer
  now; the caller's ``outage`` rule says it, as UNAVAILABLE (the gateway's 503);
- a verdict about the request itself (bad event, unknown table, refused key, a limit):
  passed on with the callee's message, ``ErrorInfo`` reason, field and metadata, since
  it is written for the same developer (``PASSED_ON``); a caller may word some itself;
- anything else is a fault here: by default the ``AioRpcError`` itself is returned, and
  raising it makes the interceptor answer INTERNAL and log it.

Each rule takes the ``Received`` failure and returns the exception to raise, so a call
site states only what differs, e.g. auth's lookup of a parent segment::

    translate(error, outage=unavailable(PROFILE_DOWN),
              verdicts={code_pb2.NOT_FOUND: lambda _: NotFound(f"Parent segment ...")},
              otherwise=unavailable(PROFILE_DOWN))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
from google.rpc import code_pb2

from services.common import errors
from services.common.rpc_status import details_of, rpc_code


@dataclass(frozen=True)
class Received:
    """A failed call as the callee answered it."""

    error: Exception  # the grpc.aio.AioRpcError itself, raised as is for a fault here
    code: int  # a google.rpc.Code number
    message: str
    reason: str
    field: str
    metadata: Mapping[str, str]

    @classmethod
    def of(cls, error: grpc.aio.AioRpcError) -> Received:
        details = details_of(error.trailing_metadata())
        return cls(
            error,
            rpc_code(error.code()),
            error.details() or "",
            details.reason,
            details.field,
            details.metadata,
        )


Rule = Callable[[Received], Exception]

OUTAGES = frozenset({code_pb2.UNAVAILABLE, code_pb2.DEADLINE_EXCEEDED, code_pb2.CANCELLED})

_VERDICTS: Mapping[int, type[errors.P13nError]] = {
    code_pb2.INVALID_ARGUMENT: errors.InvalidArgument,
    code_pb2.NOT_FOUND: errors.NotFound,
    code_pb2.FAILED_PRECONDITION: errors.FailedPrecondition,
    code_pb2.PERMISSION_DENIED: errors.PermissionDenied,
    code_pb2.UNAUTHENTICATED: errors.Unauthenticated,
    code_pb2.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


def passed_on(received: Received) -> Exception:
    """The callee's verdict as this service's own error, in the callee's words."""
    kind = _VERDICTS.get(received.code)
    if kind is None:
        return received.error
    return kind(
        received.message or code_pb2.Code.Name(received.code),
        field=received.field,
        reason=received.reason or None,
        metadata=received.metadata,
    )


PASSED_ON: Mapping[int, Rule] = {code: passed_on for code in _VERDICTS}


def internal(received: Received) -> Exception:
    """A fault here: the error itself, which the interceptor answers INTERNAL and logs."""
    return received.error


def unavailable(message: str, reason: str | None = None) -> Rule:
    """A rule answering UNAVAILABLE with ``message``: a fresh error per failure."""

    def rule(_: Received) -> Exception:
        return errors.Unavailable(message, reason=reason)

    return rule


def translate(
    error: grpc.aio.AioRpcError,
    *,
    outage: Rule,
    verdicts: Mapping[int, Rule] = PASSED_ON,
    otherwise: Rule = internal,
) -> Exception:
    """The exception to raise for ``error``: the rule for its code, else outage or fault.

    ``verdicts`` (keyed by ``google.rpc.Code`` number) are looked up first, so a caller
    can word any code itself, even an outage's.
    """
    received = Received.of(error)
    rule = verdicts.get(received.code)
    if rule is None:
        rule = outage if received.code in OUTAGES else otherwise
    return rule(received)
