"""The browser path decided in the process that serves it (the single-process mode).

Per service, a browser's event costs two calls from Envoy: ext_authz to this service, then
the transcoded call to offers, which asks profile. In the single-process mode
(``services.single``) the three services share a process, and the gateway hands the event
here as the browser sent it, over HTTP/1.1 on a Unix socket (``services/auth/browser_socket.py``,
``gateway/public_path.py``): the decision is the one ext_authz makes (``authz.decide`` over
the same in-memory directory: token, Origin, rate limits, write-only key, the body's strict
JSON), and offers' ``PublicPersonalize`` is then called in process with the signed
identity, as Envoy would forward it. The browser sees what it would have seen per service:
the same answer, and for a refusal the same status, JSON body and headers (CORS after a
successful decision, ``Retry-After`` on a rate limit); an error of offers is printed as
Envoy's transcoder prints it, ``{"code", "message", "details"}``.

The gateway sends here only a POST with a JSON content type and a body of at most 64 KiB
announced by Content-Length, on a path of two names and no query string. Everything else,
preflights included, still goes through ext_authz and the transcoder, as per service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from p13n.offers.v1 import personalize_service_pb2 as offers_api

from services.auth import authz
from services.auth.directory import MemoryDirectory
from services.common import identity as identities
from services.common import logs
from services.common.events import MAX_DEPTH
from services.common.interceptor import undecodable
from services.common.rpc_status import DETAILS_KEY, as_transcoder_prints, rpc_code, status_of
from services.common.status_codes import HTTP_STATUS

log = logging.getLogger(__name__)

# The client's address as the gateway derived it (trusted hops applied), set on this route
# only (gateway/public_path.py); a client's own x-p13n- headers are dropped before.
CLIENT_ADDRESS_HEADER = "x-p13n-browser-address"
# What the callee reads of the request besides the identity: its deadline, its id.
_FORWARDED = ("x-envoy-expected-rq-timeout-ms", logs.REQUEST_ID_HEADER)
_JSON = "application/json"


@dataclass(frozen=True)
class BrowserRequest:
    """A browser's event as the gateway handed it on: its path, headers (lower-case names)
    and body as sent."""

    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What the browser is answered: a status, headers and the body's bytes."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class BrowserPath:
    """Decides a browser event and answers it with offers' answer; ``offers`` is an
    ``offers.v1.PersonalizeServiceStub`` (in process in the single-process mode)."""

    def __init__(self, directory: MemoryDirectory, key: bytes, offers: Any) -> None:
        self._directory = directory
        self._key = key
        self._offers = offers

    async def answer(self, request: BrowserRequest) -> Answer:
        names = names_of(request.path)
        if names is None:  # the gateway routes no other path here
            return _status_answer(
                status_pb2.Status(code=code_pb2.NOT_FOUND, message="Unknown path"), {}
            )
        database, table = names
        decision = authz.decide(decision_request(database, table, request), self._directory)
        headers = dict(decision.response_headers)
        if not decision.allowed:
            # ext_authz's refusal as Envoy sends it: a JSON body, if any, and its headers.
            return Answer(decision.status, decision.body.encode(), headers)
        assert decision.identity is not None  # an allowed public decision names its token
        try:
            event = event_of(request.body)
        except (json_format.ParseError, DecodeError):
            # Nested deeper than protobuf decodes (100 messages): what offers answers when
            # the transcoder's event is too deep for it to decode.
            return _status_answer(status_of(undecodable()), headers)
        forwarded = tuple((k, request.headers[k]) for k in _FORWARDED if k in request.headers)
        try:
            answer = await self._offers.PublicPersonalize(
                offers_api.PublicPersonalizeRequest(database=database, table=table, event=event),
                metadata=(
                    (identities.IDENTITY_HEADER, identities.sign(decision.identity, self._key)),
                    *forwarded,
                ),
            )
        except grpc.aio.AioRpcError as error:
            # Offers' refusal or outage, as the browser would have had it from offers, with
            # the CORS headers the decision gave.
            return _status_answer(_status_of_call(error), headers)
        return Answer(200, answer.data, headers | {"content-type": answer.content_type})


def names_of(path: str) -> tuple[str, str] | None:
    """``/public/{database}/{table}``'s two names, percent-decoded as the transcoder reads
    path variables; None for any other path."""
    parts = path.split("/")
    if len(parts) != 4 or parts[:2] != ["", "public"] or not parts[2] or not parts[3]:
        return None
    return urllib.parse.unquote(parts[2]), urllib.parse.unquote(parts[3])


def decision_request(database: str, table: str, request: BrowserRequest) -> authz.Request:
    """The request ext_authz would have been asked about. The path is rebuilt from the
    decoded names, as ext_authz sees the transcoded call's."""
    headers = dict(request.headers)
    headers["content-length"] = str(len(request.body))
    # The whole body is here (the route admits at most 64 KiB): a client's claim that it
    # was cut, which ext_authz would overwrite with its own, must not skip the body check.
    headers.pop(authz.PARTIAL_BODY, None)
    return authz.Request(
        listener="data",
        method="POST",
        path=f"/public/{database}/{table}",
        headers=headers,
        client_ip=request.headers.get(CLIENT_ADDRESS_HEADER, ""),
        body=request.body,
    )


def event_of(body: bytes) -> struct_pb2.Struct:
    """The event as the transcoder would have read it into ``PublicPersonalizeRequest``:
    the decision has checked the body is a JSON object (an empty body is an empty event).

    Raises ``DecodeError`` for an event offers could not have decoded from the wire (over
    100 nested messages: about 49 JSON levels), as it answers such an event from the
    transcoder; a body with at most 32 brackets in all cannot nest that deep, so only
    longer ones are encoded and decoded once more to find out.

    A shallow body is read by orjson into the ``Struct`` (a fifth of ``json_format``'s cost,
    the same message: ``tests/auth/test_public_path.py``); what orjson refuses, such as a
    number beyond a double, is left to ``json_format``.
    """
    event = struct_pb2.Struct()
    if not body:
        return event
    shallow = body.count(b"{") + body.count(b"[") <= MAX_DEPTH
    if shallow:
        with contextlib.suppress(orjson.JSONDecodeError):
            event.update(orjson.loads(body))
            return event
    json_format.Parse(body, event)
    if not shallow:
        struct_pb2.Struct.FromString(event.SerializeToString())
    return event


def _status_of_call(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The ``google.rpc.Status`` a failed call carried, or one of its code and message."""
    for key, value in error.trailing_metadata() or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                log.warning("a call's status details could not be decoded; its code is used")
    return status_pb2.Status(code=rpc_code(error.code()), message=error.details() or "")


def _status_answer(status: status_pb2.Status, headers: dict[str, str]) -> Answer:
    """A failure as Envoy's transcoder answers one: the HTTP status of its code, and the
    status printed as JSON with every field, names as in the proto."""
    body = json.dumps(as_transcoder_prints(status), separators=(",", ":")).encode()
    return Answer(HTTP_STATUS.get(status.code, 500), body, headers | {"content-type": _JSON})
