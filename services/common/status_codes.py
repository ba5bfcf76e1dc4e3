"""The one table between HTTP statuses and ``google.rpc.Code``, both ways.

gRPC → HTTP is the mapping of ``google/rpc/code.proto``, which Envoy's JSON transcoder
also applies to the answers of the services. HTTP → gRPC names the code a JSON error
body carries when the answer did not come from a service: the ext_authz refusals
(``services/auth/authz.py``) and Envoy's own local replies (``gateway/render.py``). It is
the inverse of the first table, where several codes share a status the most general of
them, plus the statuses only Envoy answers (405, 408, 413, 415, 431, 502).

Imports protobuf only, so the gateway renderer can use it without grpc.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.rpc import code_pb2

HTTP_STATUS: Mapping[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}

# Codes that share their HTTP status with a more general one (400 is INVALID_ARGUMENT,
# 409 ALREADY_EXISTS, 500 INTERNAL): a bare status cannot mean them.
_NARROWER = frozenset(
    {
        code_pb2.FAILED_PRECONDITION,
        code_pb2.OUT_OF_RANGE,
        code_pb2.ABORTED,
        code_pb2.UNKNOWN,
        code_pb2.DATA_LOSS,
    }
)

# Statuses no service answers but Envoy does, locally.
_LOCAL_ONLY: Mapping[int, int] = {
    405: code_pb2.UNIMPLEMENTED,  # a method the route does not serve
    408: code_pb2.DEADLINE_EXCEEDED,  # the request took too long to arrive
    413: code_pb2.INVALID_ARGUMENT,  # body over the limit: the request is what is wrong
    415: code_pb2.INVALID_ARGUMENT,
    431: code_pb2.INVALID_ARGUMENT,
    502: code_pb2.UNAVAILABLE,  # the upstream connection failed: an outage, retry
}

CODE_FOR_HTTP_STATUS: Mapping[int, int] = {
    **{status: code for code, status in HTTP_STATUS.items() if code not in _NARROWER},
    **_LOCAL_ONLY,
}


def code_for_http_status(status: int) -> int:
    """The ``google.rpc.Code`` a JSON error body with HTTP ``status`` carries."""
    return CODE_FOR_HTTP_STATUS.get(status, code_pb2.UNKNOWN)
