"""The gateway's strict reading of a JSON body: RFC 8259 only, no unknown fields, no integer
a double cannot hold; each refusal says what and where (services/auth/strict_json.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from envoy.service.auth.v3 import external_auth_pb2
from hypothesis import given
from hypothesis import strategies as st
from p13n.auth.v1 import identity_pb2

from services.auth import authz, bindings, strict_json
from services.auth.authz import Request, decide
from services.auth.ext_authz import AuthorizationServicer
from services.auth.strict_json import BodyError

SERVICES = "/v1/parent_segments/7/services"
IMPORTS = "/v1/parent_segments/7/imports"


def _refusal(listener: str, method: str, path: str, body: bytes) -> BodyError:
    binding = bindings.body_of(listener, method, path)
    assert binding is not None
    with pytest.raises(BodyError) as raised:
        strict_json.check(strict_json.parse(body), binding.message, binding.where)
    return raised.value


def _accepts(listener: str, method: str, path: str, body: bytes) -> None:
    binding = bindings.body_of(listener, method, path)
    assert binding is not None
    strict_json.check(strict_json.parse(body), binding.message, binding.where)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(b"{'td_client_id': 'a'}", "not valid JSON", id="single-quotes"),
        pytest.param(b'{td_client_id: "a"}', "not valid JSON", id="unquoted-key"),
        pytest.param(b'{"td_client_id": "a",}', "not valid JSON", id="trailing-comma"),
        pytest.param(b'{"td_client_id": "a\x01"}', "Invalid control character", id="raw-0x01"),
        pytest.param(b'{"td_client_id": "a"} x', "Extra data", id="trailing-garbage"),
        pytest.param(b'{"n": NaN}', "NaN is not a JSON value", id="nan"),
        pytest.param(b'{"n": -Infinity}', "-Infinity is not a JSON value", id="infinity"),
        pytest.param(b'{"n": 1e400}', "too large for a double", id="overflow"),
        pytest.param(b'{"a": 1, "a": 2}', 'The key "a" appears twice', id="duplicate-key"),
        pytest.param(b'{"a": "\xff"}', "not valid UTF-8 (byte 7)", id="not-utf8"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', "not valid JSON", id="bom"),
        pytest.param(b'{"a": "\\ud800"}', "a: a \\u escape is a lone surrogate", id="surrogate"),
        pytest.param(b"[" * 100_000, "nested deeper", id="deep"),
        pytest.param(b'{"n": 1' + b"0" * 5000 + b"}", "number too long", id="long-number"),
        pytest.param(b"[1]", "event must be a JSON object", id="array-for-an-event"),
    ],
)
def test_an_event_that_is_not_strict_json_is_refused(body: bytes, says: str) -> None:
    for path in ("/public/shop/views", "/shop/views"):
        assert says in str(_refusal("data", "POST", path, body))


@pytest.mark.parametrize(
    ("listener", "path", "body", "field"),
    [
        pytest.param(
            "data",
            "/public/shop/views",
            b'{"td_client_id": "a", "price": 18446744073709551616}',
            "event.price",
            id="public",
        ),
        pytest.param(
            "data",
            "/shop/views",
            b'{"x": {"y": [1, -9007199254740993]}}',
            "event.x.y[1]",
            id="private",
        ),
        pytest.param(
            "data",
            "/records/shop/views",
            b'{"records": [{"n": 1e300}]}',
            "records[0].n",
            id="ingest",
        ),
        pytest.param(
            "admin",
            IMPORTS,
            b'{"key": "k", "records": [{"value": "v", "attributes": {"p": 2e16}}]}',
            "records[0].attributes.p",
            id="admin-import",
        ),
        pytest.param(
            "admin",
            SERVICES,
            b'{"name": "w", "rate_limit": {"burst": 99999999999999999999}}',
            "service.rate_limit.burst",
            id="admin-int32",
        ),
    ],
)
def test_an_integer_beyond_2_53_is_refused_naming_its_field(
    listener: str, path: str, body: bytes, field: str
) -> None:
    refused = _refusal(listener, "POST", path, body)
    assert (refused.field, refused.reason) == (field, "INTEGER_NOT_EXACT")
    assert str(refused).startswith(f"{field}: integers beyond ±2^53")


@given(st.integers(-(2**53), 2**53))
def test_every_integer_a_double_holds_is_accepted(number: int) -> None:
    _accepts("data", "POST", "/shop/views", json.dumps({"n": number, "f": number / 3}).encode())


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param(
            SERVICES,
            b'{"name": "w", "allowed_origin": ["https://a.example"]}',
            "service.allowed_origin",
            id="misspelled-origins",
        ),
        pytest.param(
            SERVICES,
            b'{"name": "w", "rate_limit": {"rps": 1}}',
            "service.rate_limit.rps",
            id="nested",
        ),
        pytest.param(
            IMPORTS,
            b'{"key": "k", "records": [{"value": "v", "attrs": {}}]}',
            "records[0].attrs",
            id="in-a-list",
        ),
        pytest.param(
            "/v1/sessions", b'{"email": "a@b.example", "passwd": "x"}', "passwd", id="sign-in"
        ),
    ],
)
def test_an_unknown_field_is_refused_by_its_path(path: str, body: bytes, field: str) -> None:
    refused = _refusal("admin", "POST", path, body)
    assert (refused.field, refused.reason) == (field, "UNKNOWN_FIELD")
    assert str(refused).startswith(f'Unknown field "{field}"; ')


def test_an_ingest_request_names_its_known_fields() -> None:
    refused = _refusal("data", "POST", "/records/shop/views", b'{"records": [], "recs": 1}')
    assert (
        str(refused) == 'Unknown field "recs"; IngestRecordsRequest has: database, records, table'
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name": "w", "allowedOrigins": ["https://a.example"]}', id="json-name"),
        pytest.param(b'{"name": "w", "allowed_origins": null, "rate_limit": null}', id="nulls"),
        pytest.param(b' {"name": "w", "type": "PUBLIC"}\n', id="whitespace"),
        pytest.param('{"name": "caf\u00e9 \\u00e9"}'.encode(), id="unicode"),
    ],
)
def test_what_protobuf_json_allows_is_accepted(body: bytes) -> None:
    _accepts("admin", "POST", SERVICES, body)


def test_each_listener_reads_only_its_own_services() -> None:
    """/v1/users has the shape of the data plane's /{database}/{table}."""
    user = bindings.body_of("admin", "POST", "/v1/users")
    assert user is not None
    assert (user.message.full_name, user.where) == ("p13n.auth.v1.User", "user")
    event = bindings.body_of("data", "POST", "/v1/users")
    assert event is not None
    assert event.message.full_name == "google.protobuf.Struct"
    assert bindings.body_of("admin", "GET", "/v1/parent_segments/7") is None
    reveal = bindings.body_of("admin", "POST", "/v1/parent_segments/1/services/2/tokens/3:reveal")
    assert reveal is not None
    assert reveal.message.name == "RevealTokenRequest"


MASTER = identity_pb2.Identity(account_id="1", api_key_type=identity_pb2.MASTER)
PUBLIC = identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PUBLIC)


class _Directory:
    """Every credential is right: the body alone decides."""

    def identify_token(self, _token: str) -> identity_pb2.Identity:
        return PUBLIC

    def token_allows_origin(self, _identity: identity_pb2.Identity, _origin: str) -> bool:
        return True

    def token_allows_ip(self, _identity: identity_pb2.Identity, _ip: str) -> bool:
        return True

    def identify_credentials(self, _authorization: str) -> identity_pb2.Identity:
        return MASTER

    def preflight_allows(self, _origin: str, _database: str, _table: str) -> bool:
        return True

    def rate_limited(self, _identity: identity_pb2.Identity | None, _ip: str) -> float:
        return 0.0

    def data_credential_failed(self, _ip: str) -> float:
        return 0.0

    def admin_failures_wait(self, _ip: str) -> float:
        return 0.0

    def admin_credential_failed(self, _ip: str) -> None:
        return None


def _public(body: bytes, content_type: str = "application/json") -> Request:
    headers = {"wp13n-token": "t", "origin": "https://shop.example", "content-type": content_type}
    return Request("data", "POST", "/public/shop/views", headers, "192.0.2.1", body)


def test_a_refused_body_is_a_400_status_with_details_and_keeps_cors() -> None:
    decision = decide(_public(b'{"a": 1,}'), _Directory())
    assert decision.status == 400
    assert decision.response_headers["access-control-allow-origin"] == "https://shop.example"
    body = json.loads(decision.body)
    assert body["code"] == 3
    assert body["message"].startswith("The body is not valid JSON (RFC 8259)")
    [info] = body["details"]
    assert (info["reason"], info["domain"]) == ("INVALID_JSON", "p13n.dev")
    assert decision.message == body["message"]


def test_a_refused_field_is_named_in_a_field_violation() -> None:
    body = b'{"name": "w", "allowed_origin": []}'
    decision = decide(
        Request("admin", "POST", SERVICES, {"authorization": "TD1 k"}, "192.0.2.1", body),
        _Directory(),
    )
    details = json.loads(decision.body)["details"]
    assert details[1]["field_violations"][0]["field"] == "service.allowed_origin"
    assert details[0]["reason"] == "UNKNOWN_FIELD"


def test_credentials_are_checked_before_the_body() -> None:
    request = Request("admin", "POST", SERVICES, {}, "192.0.2.1", b"{bad")
    assert decide(request, _Directory()).status == 401


@pytest.mark.parametrize(
    ("request_", "refused"),
    [
        pytest.param(_public(b'{"td_client_id": "a"}'), None, id="good-json"),
        pytest.param(_public(b""), None, id="empty-body-left-to-the-service"),
        pytest.param(
            Request(
                "data",
                "POST",
                "/p13n.offers.v1.PersonalizeService/PrivatePersonalize",
                {"wp13n-token": "t", "content-type": "application/grpc"},
                "192.0.2.1",
                b"\x0a\x03{x,",
            ),
            None,
            id="native-grpc",
        ),
        pytest.param(_public(b"{x", "text/plain"), 415, id="415-before-the-body"),
        pytest.param(
            dataclasses.replace(
                _public(b'{"a": "cut at the lim'),
                headers=_public(b"").headers | {"x-envoy-auth-partial-body": "true"},
            ),
            413,
            id="cut-at-the-limit-refused-unread",
        ),
        pytest.param(
            dataclasses.replace(
                _public(b'{"a": "cut at the end of a read"'),
                headers=_public(b"").headers | {"content-length": "70000"},
            ),
            413,
            id="cut-where-envoy-says-it-was-not",
        ),
    ],
)
def test_what_is_not_read(request_: Request, refused: int | None) -> None:
    decision = decide(request_, _Directory())
    assert decision.allowed is (refused is None)
    assert decision.status == (refused or decision.status)
    if refused == 413:  # the page may read it: the credential was good
        assert decision.response_headers["access-control-allow-origin"]


@pytest.mark.parametrize("suffix", ["/", "//"])
def test_a_trailing_slash_is_read_as_the_path_without_it(suffix: str) -> None:
    """The transcoder maps ``.../services/`` to CreateService: the check must too."""
    body = b'{"name": "w", "allowed_origin": []}'
    decision = decide(
        Request("admin", "POST", SERVICES + suffix, {"authorization": "TD1 k"}, "192.0.2.1", body),
        _Directory(),
    )
    assert decision.status == 400
    assert json.loads(decision.body)["details"][0]["reason"] == "UNKNOWN_FIELD"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/no_such_thing"), ("GET", "/v1/parent_segments/3"), ("DELETE", SERVICES + "/2")],
)
def test_a_body_no_contract_reads_is_refused(method: str, path: str) -> None:
    """The transcoder would read a GET's or DELETE's body into the request (even over the
    id in its path): a body is checked or refused, never passed unread."""
    body = b'{"parent_segment_id": "4"}'
    request = Request("admin", method, path, {"authorization": "TD1 k"}, "192.0.2.1", body)
    decision = decide(request, _Directory())
    assert decision.status == 404
    assert json.loads(decision.body)["message"] == authz.UNBOUND_BODY


class _NoDirectory:
    """The body phase asks nothing: any question would fail the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the body phase asked the directory for {name}")


def test_the_body_phase_refuses_a_bad_body_and_keeps_cors_without_rechecking() -> None:
    """Envoy's second ext_authz (check: body) runs only after the first allowed: it checks
    the body alone, with the Origin's CORS headers on its refusal."""
    decision = authz.decide_body(_public(b'{"a": 1,}'))
    assert decision.status == 400
    assert decision.response_headers == authz.cors_headers("https://shop.example")
    assert json.loads(decision.body)["message"].startswith("The body is not valid JSON")


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        pytest.param(_public(b'{"td_client_id": "a"}'), 200, id="good-json"),
        pytest.param(_public(b""), 200, id="no-body"),
        pytest.param(
            Request("admin", "POST", SERVICES, {}, "192.0.2.1", b'{"name": "w", "x": 1}'),
            400,
            id="admin-unknown-field-no-credential-asked",
        ),
        pytest.param(
            Request("admin", "POST", "/v1/nothing_here", {}, "192.0.2.1", b"{}"),
            404,
            id="unbound-write",
        ),
    ],
)
def test_the_body_phase_reads_only_the_body(request_: Request, status: int) -> None:
    decision = authz.decide_body(request_)
    assert decision.status == status
    if request_.listener == "admin":
        assert not decision.response_headers  # CORS is for the public path only
    # Allowed, it adds nothing: the identity came from the first phase.
    if decision.allowed:
        assert decision.identity is None
        assert not decision.response_headers


def test_the_body_phase_is_chosen_by_the_context_extension() -> None:
    """A Check with ``check: body`` never reaches the credential decision."""
    check = external_auth_pb2.CheckRequest()
    check.attributes.context_extensions["listener"] = "admin"
    check.attributes.context_extensions["check"] = "body"
    http = check.attributes.request.http
    http.method, http.path = "POST", SERVICES
    http.headers["content-type"] = "application/json"
    http.headers["authorization"] = "TD1 k"
    http.raw_body = b'{"name": "w",}'
    servicer = AuthorizationServicer(_NoDirectory(), b"k" * 32)  # type: ignore[arg-type]
    answer = asyncio.run(servicer.Check(check, None))
    assert answer.denied_response.status.code == 400
    del check.attributes.context_extensions["check"]
    with pytest.raises(AssertionError, match="asked the directory"):
        asyncio.run(servicer.Check(check, None))
