"""Calls to the other services: how long they may take, and what their failures become.

A request's deadline travels with every call it makes: a call gets what remains of the
caller's deadline less a margin, so that this service can still answer 503 itself before
the caller (Envoy, or a direct client) gives up. Through the gateway the deadline is
Envoy's route timeout; a direct caller without a deadline gets ``DEFAULT_BUDGET`` (the
gateway's own route timeout), so no call can hang.

Failures are read by the suite's one translator (``services.common.remote_errors``): an
outage becomes UNAVAILABLE, which the gateway answers as 503 at once; a verdict about the
request itself (bad event, unknown table, refused token, rate limit) is passed on with
the callee's message and reason; anything else is a fault here (INTERNAL, logged).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc

from services.common.remote_errors import translate, unavailable

DEFAULT_BUDGET = 5.0
MARGIN = 0.1


@dataclass(frozen=True)
class Deadline:
    """When the current request must be answered, on the monotonic clock."""

    at: float

    @classmethod
    def of(cls, context: Any) -> Deadline:
        remaining = context.time_remaining()
        if remaining is None:
            remaining = _gateway_timeout(context)
        return cls(time.monotonic() + remaining)

    def timeout(self) -> float:
        """The timeout for a call made now: what remains, less the margin to answer."""
        remaining = max(self.at - time.monotonic(), 0.0)
        return max(remaining - min(MARGIN, remaining / 2), 0.001)


def _gateway_timeout(context: Any) -> float:
    """The gateway's route timeout, which Envoy sends instead of a gRPC deadline.

    Envoy's router does not set ``grpc-timeout`` on transcoded calls but does tell the
    upstream its timeout in ``x-envoy-expected-rq-timeout-ms``; answering within it means
    the client hears this service's 503 rather than Envoy's 504. It is never trusted to
    lengthen the budget.
    """
    for key, value in context.invocation_metadata() or ():
        if key == "x-envoy-expected-rq-timeout-ms" and isinstance(value, str) and value.isdigit():
            return min(int(value) / 1000, DEFAULT_BUDGET)
    return DEFAULT_BUDGET


def failure(error: grpc.aio.AioRpcError, service: str) -> Exception:
    """What a failed call to ``service`` means for the request that made it."""
    outage = unavailable(
        f"The {service} service did not answer in time; retry shortly",
        reason=f"{service.upper()}_UNAVAILABLE",
    )
    return translate(error, outage=outage)
