"""The browser path decided in the process that serves it (the single-process mode).

Per service, a browser's event costs two calls from Envoy: ext_authz to this service, then
the transcoded call to offers, which asks profile. In the single-process mode
(``services.single``) the three services share a process, and the gateway sends the event
here instead, as ``PublicPathService/Personalize`` with the body as the browser sent it
(``gateway/public_path.py``): the decision is the one ext_authz makes (``authz.decide``
over the same in-memory directory: token, Origin, rate limits, write-only key, the body's
strict JSON), and offers' ``PublicPersonalize`` is then called in process with the signed
identity, as Envoy would forward it. The browser sees what it would have seen: the same
answer, and for a refusal the same status, JSON body and headers (CORS after a successful
decision, ``Retry-After`` on a rate limit), since the transcoder prints a gRPC error's
``google.rpc.Status`` in the shape ext_authz's refusals are written in.

The gateway sends here only what the transcoder can carry exactly: a POST with a JSON
content type (a 415 has no gRPC code) and a body of at most 64 KiB announced by
Content-Length (a longer one is refused by the buffer after ext_authz's CORS headers).
Everything else, preflights included, still goes through ext_authz.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from p13n.auth.v1 import public_path_service_pb2 as api
from p13n.auth.v1 import public_path_service_pb2_grpc
from p13n.offers.v1 import personalize_service_pb2 as offers_api
from typing_extensions import override

from services.auth import authz
from services.auth.directory import MemoryDirectory
from services.common import access, logs
from services.common import identity as identities
from services.common.events import MAX_DEPTH
from services.common.interceptor import undecodable
from services.common.rpc_status import DETAILS_KEY, status_details
from services.common.status_codes import HTTP_STATUS, code_for_http_status

# The client's address as the gateway derived it (trusted hops applied), set on this route
# only (gateway/public_path.py); a client's own x-p13n- headers are dropped before.
CLIENT_ADDRESS_HEADER = "x-p13n-browser-address"
# What the callee reads of the request besides the identity: its deadline, its id.
_FORWARDED = ("x-envoy-expected-rq-timeout-ms", logs.REQUEST_ID_HEADER)


class PublicPathServicer(public_path_service_pb2_grpc.PublicPathServiceServicer):
    """Decides a browser event and answers it with offers' answer; ``offers`` is an
    ``offers.v1.PersonalizeServiceStub`` (in process in the single-process mode)."""

    def __init__(self, directory: MemoryDirectory, key: bytes, offers: Any) -> None:
        self._directory = directory
        self._key = key
        self._offers = offers

    @override
    async def Personalize(
        self, request: api.PersonalizeRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        metadata = access.metadata_dict(context)
        decision = authz.decide(decision_request(request, metadata), self._directory)
        headers = tuple(decision.response_headers.items())
        if not decision.allowed:
            await _refuse(context, decision, headers)
        assert decision.identity is not None  # an allowed public decision names its token
        try:
            event = event_of(request.body.data)
        except (json_format.ParseError, DecodeError):
            # Nested deeper than protobuf decodes (100 messages): what offers answers when
            # the transcoder's event is too deep for it to decode.
            error = undecodable()
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                error.message,
                (*headers, (DETAILS_KEY, status_details(error))),
            )
        forwarded = tuple((k, metadata[k]) for k in _FORWARDED if k in metadata)
        try:
            answer = await self._offers.PublicPersonalize(
                offers_api.PublicPersonalizeRequest(
                    database=request.database, table=request.table, event=event
                ),
                metadata=(
                    (identities.IDENTITY_HEADER, identities.sign(decision.identity, self._key)),
                    *forwarded,
                ),
            )
        except grpc.aio.AioRpcError as error:
            # Offers' refusal or outage, passed on as the browser would have had it from
            # offers, with the CORS headers the decision gave.
            details = tuple(
                (k, v) for k, v in (error.trailing_metadata() or ()) if k == DETAILS_KEY
            )
            await context.abort(error.code(), error.details() or "", headers + details)
        await context.send_initial_metadata(headers)
        return answer


def decision_request(request: api.PersonalizeRequest, metadata: dict[str, str]) -> authz.Request:
    """The request ext_authz would have been asked about. The path is rebuilt from the
    names the transcoder read out of it (``/public/{database}/{table}``, its only binding
    here), never from a header a client could have sent."""
    body = request.body
    headers = metadata | {"content-type": body.content_type, "content-length": str(len(body.data))}
    # The whole body is here (the route admits at most 64 KiB): a client's claim that it
    # was cut, which ext_authz would overwrite with its own, must not skip the body check.
    headers.pop(authz.PARTIAL_BODY, None)
    return authz.Request(
        listener="data",
        method="POST",
        path=f"/public/{request.database}/{request.table}",
        headers=headers,
        client_ip=metadata.get(CLIENT_ADDRESS_HEADER, ""),
        body=body.data,
    )


def event_of(body: bytes) -> struct_pb2.Struct:
    """The event as the transcoder would have read it into ``PublicPersonalizeRequest``:
    the decision has checked the body is a JSON object (an empty body is an empty event).

    Raises ``DecodeError`` for an event offers could not have decoded from the wire (over
    100 nested messages: about 49 JSON levels), as it answers such an event from the
    transcoder; a body with at most 32 brackets in all cannot nest that deep, so only
    longer ones are encoded and decoded once more to find out.
    """
    event = struct_pb2.Struct()
    if body:
        json_format.Parse(body, event)
        if body.count(b"{") + body.count(b"[") > MAX_DEPTH:
            struct_pb2.Struct.FromString(event.SerializeToString())
    return event


async def _refuse(
    context: grpc.aio.ServicerContext,
    decision: authz.Decision,
    headers: tuple[tuple[str, str], ...],
) -> None:
    """Aborts with the refusal ext_authz would have answered: the transcoder prints the
    status as ``{"code", "message", "details"}`` and answers the HTTP status of its code."""
    code = code_for_http_status(decision.status)
    if HTTP_STATUS.get(code) != decision.status:
        # No gRPC code carries this status: the gateway must not send such a request here.
        raise RuntimeError(f"a {decision.status} refusal cannot be answered on this path")
    status = json_format.Parse(decision.body, status_pb2.Status()) if decision.body else None
    if status is None:
        status = status_pb2.Status(code=code, message=decision.message)
    await context.abort(
        _GRPC_CODES[code],
        decision.message,
        (*headers, (DETAILS_KEY, status.SerializeToString())),
    )


# google.rpc.Code's numbers as grpc's status codes (the same numbers, another type).
_GRPC_CODES: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
