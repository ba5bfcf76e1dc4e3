"""Envoy's ``envoy.service.auth.v3.Authorization`` on top of the decision in ``authz``.

A refusal is written for the client that asked: JSON in a ``google.rpc.Status`` shape for
HTTP, a status in ``grpc-status``/``grpc-message`` for a native gRPC client (Envoy answers
a gRPC request's local reply as trailers-only, keeps the ``grpc-status`` given here and
turns the body into ``grpc-message``; left to itself it would guess the code from the HTTP
status, answering a rate limit UNAVAILABLE and an unknown method UNIMPLEMENTED).
"""

from __future__ import annotations

import contextlib

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2
from typing_extensions import override

from services.auth import authz
from services.auth.body_checks import BodyChecks
from services.auth.directory import MemoryDirectory, address_key
from services.common import identity as identities
from services.common.errors import P13nError
from services.common.status_codes import code_for_http_status

# Credentials stop at the gateway: services receive the signed identity instead.
_STRIPPED_UPSTREAM = ["wp13n-token", "authorization"]
# The client's address as the gateway's connection manager derived it, X-Forwarded-For's
# trusted hops applied (gateway/envoy.yaml.tmpl sets it after dropping any a client sent).
# Envoy's source address is the connection's peer: behind a load balancer, the balancer.
CLIENT_ADDRESS_HEADER = "x-p13n-client-address"


def _header(name: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, value=value),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def to_check_response(
    decision: authz.Decision, key: bytes, *, grpc_client: bool = False
) -> external_auth_pb2.CheckResponse:
    """Envoy's form of a decision; the identity is signed on its way upstream."""
    response_headers = [_header(k, v) for k, v in decision.response_headers.items()]
    if decision.allowed:
        upstream = []
        if decision.identity is not None:
            upstream.append(
                _header(identities.IDENTITY_HEADER, identities.sign(decision.identity, key))
            )
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(
                headers=upstream,
                headers_to_remove=_STRIPPED_UPSTREAM,
                response_headers_to_add=response_headers,
            ),
        )
    body = decision.body
    if grpc_client:
        code = code_for_http_status(decision.status)
        response_headers.append(_header("grpc-status", str(code)))
        body = decision.message
    elif body:
        response_headers.append(_header("content-type", "application/json"))
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=decision.status),
            headers=response_headers,
            body=body,
        ),
    )


def to_request(check: external_auth_pb2.CheckRequest) -> authz.Request:
    """The parts of Envoy's request that a decision reads."""
    http = check.attributes.request.http
    return authz.Request(
        listener=check.attributes.context_extensions.get("listener", ""),
        method=http.method,
        path=http.path,
        headers=dict(http.headers),
        client_ip=http.headers.get(CLIENT_ADDRESS_HEADER)
        or check.attributes.source.address.socket_address.address,
        # pack_as_bytes: the bytes as sent, so a body that is not UTF-8 can be refused.
        body=http.raw_body or http.body.encode(),
    )


class AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    """Answers Envoy's Check from the in-memory directory."""

    def __init__(
        self, directory: MemoryDirectory, key: bytes, body_checks: BodyChecks | None = None
    ) -> None:
        self._directory = directory
        self._key = key
        self._body_checks = body_checks or BodyChecks(None)

    @override
    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> external_auth_pb2.CheckResponse:
        decision_request = to_request(request)
        if request.attributes.context_extensions.get("check") == "body":
            # The second phase: Envoy asks only once the first allowed this request.
            share = self._share(decision_request)
            body_decision = await self._body_checks.decide(decision_request, share)
            return to_check_response(body_decision, self._key, grpc_client=decision_request.grpc)
        authorization = decision_request.headers.get("authorization", "")
        if authorization and decision_request.listener == "admin":
            # A session or API key made by another auth process moments ago may not be in
            # memory yet. Admin listener only: the data plane decides from memory alone.
            await self._directory.ensure_credentials(authorization, decision_request.client_ip)
        decision = authz.decide(decision_request, self._directory)
        if decision_request.method == "OPTIONS" and not decision.response_headers:
            # The table may have been defined since the list was fetched: look once more.
            await self._directory.refresh_event_tables_for_preflight()
            decision = authz.decide(decision_request, self._directory)
        return to_check_response(decision, self._key, grpc_client=decision_request.grpc)

    def _share(self, request: authz.Request) -> str:
        """Whose turn a big body takes: the account the first phase signed, else the client
        address (sign-in has no account yet)."""
        signed = request.headers.get(identities.IDENTITY_HEADER, "")
        if signed:
            with contextlib.suppress(P13nError):
                return "account:" + identities.verify(signed, self._key).account_id
        return "address:" + address_key(request.client_ip)
