"""The gateway's own promises, through the real Envoy: refusals, JSON errors, no bypass."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.http import request
from support.suite import Suite

from services.common import identity

NO_CORS: dict[str, str] = {}
# Calls the services make to each other on their own, whatever the test does.
BACKGROUND_CALLS = {"/p13n.profile.v1.InternalProfileService/ListEventTables"}


def test_public_without_token_is_401_json_without_cors(suite: Suite) -> None:
    reply = request(
        "POST",
        suite.data_port,
        "/public/abc_db/abc_tbl",
        headers={"origin": "https://shop.example"},
        body={"td_client_id": "a"},
    )
    assert reply.status == 401
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 16
    assert "WP13n-Token" in reply.json()["message"]
    assert reply.cors_headers() == NO_CORS


@pytest.mark.parametrize(
    ("port_name", "path"),
    [
        pytest.param("data", "/no/such/deep/path", id="data-deep"),
        pytest.param("data", "/public/AB/x", id="data-bad-names"),
        pytest.param("data", "/public/v1/abc_tbl", id="data-reserved-db"),
        pytest.param("admin", "/v2/things", id="admin-not-v1"),
    ],
)
def test_unknown_path_is_404_json(suite: Suite, port_name: str, path: str) -> None:
    port = suite.data_port if port_name == "data" else suite.admin_port
    reply = request("POST", port, path, body={})
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 5
    assert reply.cors_headers() == NO_CORS


def test_preflight_from_unknown_origin_is_403_without_cors(suite: Suite) -> None:
    reply = request(
        "OPTIONS",
        suite.data_port,
        "/public/abc_db/abc_tbl",
        headers={
            "origin": "https://unknown.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, wp13n-token",
        },
    )
    assert reply.status == 403
    assert reply.cors_headers() == NO_CORS


def test_client_trust_headers_never_reach_a_service(suite: Suite) -> None:
    # Signing in is open, so this request passes ext_authz and reaches the auth service.
    calls = suite.recorders["auth"].calls
    before = len(calls)
    reply = request(
        "POST",
        suite.admin_port,
        "/v1/sessions",
        headers={"x-p13n-identity": "forged.forged", "x-p13n-token-type": "PRIVATE"},
        body={"email": "a@example.com", "password": "x"},
    )
    assert reply.status != 404
    reached = [c for c in calls[before:] if c.method.endswith("/CreateSession")]
    assert reached, "the request should have reached the auth service"
    # The only trust header is the gateway's own: the identity ext_authz signed (it carries
    # the client's address to the sign-in failure budgets), never the client's.
    trust = {k: v for k, v in reached[0].metadata.items() if k.startswith("x-p13n-")}
    assert set(trust) == {identity.IDENTITY_HEADER}
    signed = identity.verify(trust[identity.IDENTITY_HEADER], suite.settings.internal_key)
    assert (signed.client_ip, signed.token_type, signed.role) == ("127.0.0.1", 0, 0)


@pytest.mark.parametrize(
    ("port_name", "path", "content_type"),
    [
        pytest.param(
            "data",
            "/p13n.offers.v1.PersonalizeService/PrivatePersonalize",
            "application/json",
            id="data-json-to-grpc-path",
        ),
        pytest.param(
            "data",
            "/p13n.offers.v1.PersonalizeService/PrivatePersonalizeHttp",
            "application/json",
            id="data-json-to-grpc-path-http-body",
        ),
        pytest.param(
            "data",
            "/p13n.offers.v1.PersonalizeService/PublicPersonalize",
            "application/grpc",
            id="data-native-grpc",
        ),
        pytest.param(
            "admin",
            "/p13n.profile.v1.InternalProfileService/Track",
            "application/grpc",
            id="admin-internal-rpc",
        ),
        pytest.param(
            "admin",
            "/p13n.profile.v1.ProfileService/Track",
            "application/grpc",
            id="admin-internal-rpc-old-name",
        ),
        pytest.param(
            "admin",
            "/p13n.auth.v1.RegistryService/ListServices",
            "application/json",
            id="admin-json-to-grpc-path",
        ),
    ],
)
def test_paths_without_a_binding_still_pass_ext_authz(
    suite: Suite, port_name: str, path: str, content_type: str
) -> None:
    """The bypass trap: a path no transcoder binding matches must not skip ext_authz."""
    port = suite.data_port if port_name == "data" else suite.admin_port
    before = {name: len(r.calls) for name, r in suite.recorders.items()}
    reply = request("POST", port, path, headers={"content-type": content_type}, body=b"{}")
    # A refused gRPC request is answered in gRPC's way (HTTP 200, status in headers the
    # gateway strips), so the proof is that no service saw it and nothing came back.
    assert 400 <= reply.status < 500 or (content_type == "application/grpc" and not reply.body)
    assert _business_calls_since(suite, before) == []


def _business_calls_since(suite: Suite, before: dict[str, int]) -> list[str]:
    """The methods any service saw since ``before``, leaving out ext_authz and the calls the
    services make to each other on their own."""
    return [
        c.method
        for name, recorder in suite.recorders.items()
        for c in recorder.calls[before[name] :]
        if c.method not in BACKGROUND_CALLS
        and not c.method.startswith("/envoy.service.auth.v3.Authorization/")
    ]


@pytest.mark.parametrize("service", ["auth", "profile", "offers"])
def test_each_service_reports_serving(suite: Suite, service: str) -> None:
    names = {
        "auth": [
            "",
            "p13n.auth",
            "p13n.auth.v1.IdentityService",
            "p13n.auth.v1.RegistryService",
            "p13n.auth.v1.InternalAuthService",
            "envoy.service.auth.v3.Authorization",
        ],
        "profile": [
            "",
            "p13n.profile",
            "p13n.profile.v1.ConfigService",
            "p13n.profile.v1.ProfileService",
            "p13n.profile.v1.IngestService",
            "p13n.profile.v1.InternalProfileService",
        ],
        "offers": [
            "",
            "p13n.offers",
            "p13n.offers.v1.PersonalizeService",
            "p13n.offers.v1.PersonalizationConfigService",
            "p13n.offers.v1.InternalOffersService",
        ],
    }[service]
    with suite.channel(service, caller="cli") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in names:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def test_grpc_internals_do_not_reach_clients(suite: Suite) -> None:
    reply = request("POST", suite.admin_port, "/v1/sessions", body={"email": "a@example.com"})
    leaked = [h for h in reply.headers if h.startswith("grpc-") or h.startswith("x-envoy-")]
    assert leaked == []
    assert reply.headers["content-type"].startswith("application/json")


def test_malformed_json_is_a_json_400(suite: Suite) -> None:
    reply = request("POST", suite.admin_port, "/v1/sessions", body=b'{"email": ')
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3


def test_header_with_underscore_is_rejected(suite: Suite) -> None:
    reply = request(
        "POST",
        suite.data_port,
        "/public/abc_db/abc_tbl",
        headers={"wp13n_token": "1/1/x", "origin": "https://shop.example"},
        body={},
    )
    assert reply.status == 400


INTERNAL_RPCS = [
    "/p13n.profile.v1.InternalProfileService/Track",
    "/p13n.profile.v1.InternalProfileService/GetRealtimeConfig",
    "/p13n.profile.v1.InternalProfileService/ListEventTables",
    "/p13n.offers.v1.InternalOffersService/ListReferences",
    "/p13n.auth.v1.InternalAuthService/AuthenticateCall",
    # Where they lived before the contract pass: no client may find them there either.
    "/p13n.profile.v1.ProfileService/Track",
    "/p13n.profile.v1.ProfileService/GetRealtimeConfig",
    "/p13n.profile.v1.ProfileService/ListEventTables",
    "/p13n.offers.v1.PersonalizationConfigService/ListReferences",
]


@pytest.mark.parametrize("port_name", ["data", "admin"])
@pytest.mark.parametrize("path", INTERNAL_RPCS)
def test_internal_rpcs_are_not_found_through_the_gateway(
    suite: Suite, port_name: str, path: str
) -> None:
    """Each internal RPC, at its name and at the name it had before the contract pass."""
    port = suite.data_port if port_name == "data" else suite.admin_port
    before = {name: len(r.calls) for name, r in suite.recorders.items()}
    reply = request("POST", port, path, headers={"content-type": "application/json"}, body={})
    assert reply.status == 404
    assert reply.json()["code"] == 5
    assert _business_calls_since(suite, before) == []
