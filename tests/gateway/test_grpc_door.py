"""The gRPC door's decisions and their form, without Envoy (tests/e2e/test_grpc_gateway.py
runs them through it).

A native gRPC call gets its HTTP path's decision on the two admitted data-plane methods
(and the streamed import on the admin listener); everything else a gRPC client tries is
refused before any credential is read; a refusal leaves ext_authz as ``grpc-status`` from
the one table plus the bare message, which Envoy sends as ``grpc-message``.
"""

from __future__ import annotations

import itertools
import os

import pytest
from p13n.auth.v1 import identity_pb2

from gateway.render import LOCAL_REPLY_MESSAGES, GatewayConfig, build
from services.auth import grpc_door
from services.auth.authz import Decision, Request, decide
from services.auth.ext_authz import to_check_response
from services.common import identity as identities
from services.common.status_codes import code_for_http_status

OFFICE = "198.51.100.7"
PRIVATE = identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PRIVATE)
PUBLIC = identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PUBLIC)
KEY = identity_pb2.Identity(account_id="1", api_key_type=identity_pb2.WRITE_ONLY)
EDITOR = identity_pb2.Identity(
    account_id="1", api_key_type=identity_pb2.MASTER, role=identity_pb2.EDITOR
)
GRPC = "application/grpc"


class _Directory:
    """A private token usable from OFFICE only, a public token, a write-only key, an editor;
    ``limited`` rate-limits every caller; every lookup is recorded."""

    def __init__(self, *, limited: bool = False) -> None:
        self.limited = limited
        self.looked_up: list[str] = []

    def identify_token(self, token: str) -> identity_pb2.Identity | None:
        self.looked_up.append(token)
        return {"private": PRIVATE, "public": PUBLIC}.get(token)

    def token_allows_origin(self, _identity: identity_pb2.Identity, _origin: str) -> bool:
        return False

    def token_allows_ip(self, identity: identity_pb2.Identity, ip: str) -> bool:
        return identity != PRIVATE or ip == OFFICE

    def identify_credentials(self, authorization: str) -> identity_pb2.Identity | None:
        self.looked_up.append(authorization)
        return {"TD1 write": KEY, "TD1 editor": EDITOR}.get(authorization)

    def preflight_allows(self, _origin: str, _database: str, _table: str) -> bool:
        return False

    def rate_limited(self, _identity: identity_pb2.Identity | None, _ip: str) -> float:
        return 1.0 if self.limited else 0.0

    def data_credential_failed(self, _ip: str) -> float:
        return 1.0 if self.limited else 0.0

    def admin_failures_wait(self, _ip: str) -> float:
        return 1.0 if self.limited else 0.0

    def admin_credential_failed(self, _ip: str) -> None:
        pass


def _seen_from(identity: identity_pb2.Identity, ip: str) -> identity_pb2.Identity:
    """``identity`` as the admin listener forwards it: naming the client's address."""
    seen = identity_pb2.Identity()
    seen.CopyFrom(identity)
    seen.client_ip = ip
    return seen


def _grpc(
    path: str, listener: str = "data", ip: str = OFFICE, content_type: str = GRPC, **headers: str
) -> Request:
    return Request(listener, "POST", path, {"content-type": content_type, **headers}, ip)


def _token(value: str) -> dict[str, str]:
    return {"wp13n-token": value}


@pytest.mark.parametrize(
    ("request_", "identity"),
    [
        pytest.param(
            _grpc(grpc_door.PRIVATE_PERSONALIZE, **_token("private")), PRIVATE, id="private-token"
        ),
        # A public token on the private path gets the public (redacted) answer, as on HTTP.
        pytest.param(
            _grpc(grpc_door.PRIVATE_PERSONALIZE, ip="192.0.2.1", **_token("public")),
            PUBLIC,
            id="public-token",
        ),
        pytest.param(_grpc(grpc_door.INGEST_RECORDS, authorization="TD1 write"), KEY, id="ingest"),
        pytest.param(
            _grpc(
                grpc_door.PRIVATE_PERSONALIZE,
                content_type="application/grpc+proto",
                **_token("private"),
            ),
            PRIVATE,
            id="grpc+proto",
        ),
        pytest.param(
            _grpc(grpc_door.STREAM_IMPORT, "admin", authorization="TD1 editor"),
            _seen_from(EDITOR, OFFICE),
            id="import-on-admin",
        ),
    ],
)
def test_an_admitted_call_gets_its_http_paths_identity(
    request_: Request, identity: identity_pb2.Identity
) -> None:
    decision = decide(request_, _Directory())
    assert decision.allowed, decision.body
    assert decision.identity == identity


_HTTP_TWIN = {
    grpc_door.PRIVATE_PERSONALIZE: "/shop_db/page_views",
    grpc_door.INGEST_RECORDS: "/records/shop_db/page_views",
}
_ELSEWHERE = "192.0.2.1"


@pytest.mark.parametrize(
    ("method", "headers", "ip", "limited"),
    [
        pytest.param(grpc_door.PRIVATE_PERSONALIZE, {}, OFFICE, False, id="no-token"),
        pytest.param(grpc_door.PRIVATE_PERSONALIZE, _token("x"), OFFICE, False, id="bad-token"),
        pytest.param(grpc_door.PRIVATE_PERSONALIZE, _token("private"), _ELSEWHERE, False, id="ip"),
        pytest.param(grpc_door.PRIVATE_PERSONALIZE, _token("private"), OFFICE, True, id="rate"),
        pytest.param(grpc_door.INGEST_RECORDS, {}, OFFICE, False, id="no-key"),
        pytest.param(grpc_door.INGEST_RECORDS, {"authorization": "TD1 x"}, OFFICE, False, id="key"),
        pytest.param(
            grpc_door.INGEST_RECORDS, {"authorization": "TD1 write"}, OFFICE, True, id="r"
        ),
    ],
)
def test_an_admitted_call_is_refused_as_its_http_path_is(
    method: str, headers: dict[str, str], ip: str, *, limited: bool
) -> None:
    called = decide(_grpc(method, ip=ip, **headers), _Directory(limited=limited))
    http = Request(
        "data", "POST", _HTTP_TWIN[method], {"content-type": "application/json", **headers}, ip
    )
    posted = decide(http, _Directory(limited=limited))
    assert not posted.allowed
    assert (called.status, called.message) == (posted.status, posted.message)


# Every credential a caller could send, so that a refusal is seen to read none of them.
_ALL_CREDENTIALS = {"wp13n-token": "private", "authorization": "TD1 editor"}
_OTHER_CALLS = [
    # (listener, path, status, message, id)
    ("data", grpc_door.PUBLIC_PERSONALIZE, 403, grpc_door.PUBLIC_PATH_REFUSED, "public-rpc"),
    ("data", "/public/shop_db/page_views", 403, grpc_door.PUBLIC_PATH_REFUSED, "public-path"),
    (
        "data",
        "/p13n.offers.v1.PersonalizeService/PrivatePersonalizeHttp",
        404,
        grpc_door.UNKNOWN_DATA_METHOD,
        "http-paths-rpc",
    ),
    ("data", grpc_door.STREAM_IMPORT, 404, grpc_door.UNKNOWN_DATA_METHOD, "import-on-data"),
    ("data", "/nowhere", 404, grpc_door.UNKNOWN_DATA_METHOD, "nowhere"),
    ("data", "/shop_db/page_views", 415, grpc_door.HTTP_PATH_REFUSED, "http-path"),
    ("data", "/records/shop_db/page_views", 415, grpc_door.HTTP_PATH_REFUSED, "ingest-path"),
    ("admin", grpc_door.PRIVATE_PERSONALIZE, 403, grpc_door.ADMIN_METHOD_REFUSED, "admin-rpc"),
    ("admin", "/v1/me", 403, grpc_door.ADMIN_METHOD_REFUSED, "admin-http-path"),
]


@pytest.mark.parametrize(
    ("request_", "status", "message"),
    [
        pytest.param(_grpc(path, listener, **_ALL_CREDENTIALS), status, message, id=id_)
        for listener, path, status, message, id_ in _OTHER_CALLS
    ],
)
def test_any_other_grpc_call_is_refused_before_credentials_are_read(
    request_: Request, status: int, message: str
) -> None:
    directory = _Directory()
    decision = decide(request_, directory)
    assert (decision.status, decision.message) == (status, message)
    assert directory.looked_up == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/grpc",
        "application/grpc+proto",
        "application/grpc; charset=x",
        "Application/GRPC",
    ],
)
def test_grpc_content_types(content_type: str) -> None:
    assert grpc_door.is_grpc(content_type)


@pytest.mark.parametrize(
    "content_type", ["application/grpc-web", "application/json", "", "application/grpcx"]
)
def test_not_grpc_content_types(content_type: str) -> None:
    assert not grpc_door.is_grpc(content_type)


@pytest.mark.parametrize("status", [401, 403, 404, 415, 429])
def test_a_grpc_refusal_carries_the_tables_code_and_the_bare_message(status: int) -> None:
    refusal = Decision(status=status, body='{"code": 0}', message="Why, in words")
    response = to_check_response(refusal, os.urandom(32), grpc_client=True)
    headers = {h.header.key: h.header.value for h in response.denied_response.headers}
    assert headers == {"grpc-status": str(code_for_http_status(status))}
    assert response.denied_response.body == "Why, in words"
    assert response.denied_response.status.code == status


def test_an_http_refusal_stays_json() -> None:
    refusal = Decision(status=403, body='{"code": 7}', message="No")
    response = to_check_response(refusal, os.urandom(32))
    headers = {h.header.key: h.header.value for h in response.denied_response.headers}
    assert headers == {"content-type": "application/json"}
    assert response.denied_response.body == '{"code": 7}'


def test_an_admitted_grpc_call_goes_upstream_with_the_signed_identity_only() -> None:
    key = os.urandom(32)
    response = to_check_response(Decision(identity=PRIVATE), key, grpc_client=True)
    upstream = {h.header.key: h.header.value for h in response.ok_response.headers}
    signed = identities.verify(upstream[identities.IDENTITY_HEADER], key)
    assert (signed.account_id, signed.token_type) == (PRIVATE.account_id, PRIVATE.token_type)
    assert set(response.ok_response.headers_to_remove) == {"wp13n-token", "authorization"}


def test_each_json_local_reply_has_a_grpc_twin_before_it() -> None:
    config = build(GatewayConfig.on_kubernetes())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    mappers = manager["typed_config"]["local_reply_config"]["mappers"]
    twins = 0
    for before, mapper in itertools.pairwise(mappers):
        if "body_format_override" not in mapper:
            continue
        twins += 1
        [added] = before["headers_to_add"]
        code = mapper["body_format_override"]["json_format"]["code"]
        assert added["header"] == {"key": "grpc-status", "value": str(code)}
        assert before["filter"]["and_filter"]["filters"][1] == mapper["filter"]
        assert before.get("body") == mapper.get("body")
    # The template's auth outage and its three of Envoy's 400s, then one a status.
    assert twins == 4 + len(LOCAL_REPLY_MESSAGES)
