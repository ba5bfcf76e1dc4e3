"""The internal plane: only p13n's own components reach a service port, each for its methods.

Every service port speaks mutual TLS with p13n's CA; a caller without a certificate from
that CA never completes a handshake, and one with a certificate is held to the methods its
name (the URI SAN ``spiffe://p13n/<component>``) is listed for. The gateway itself reaches
the services over the same mutual TLS (every other e2e test goes through it).
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from p13n.offers.v1 import internal_service_pb2 as offers_internal
from p13n.offers.v1 import internal_service_pb2_grpc as offers_internal_grpc
from p13n.offers.v1 import personalize_service_pb2, personalize_service_pb2_grpc
from p13n.profile.v1 import internal_service_pb2 as profile_internal
from p13n.profile.v1 import internal_service_pb2_grpc as profile_internal_grpc
from support.admin import Account
from support.auth import personalize
from support.http import request
from support.suite import Suite
from support.tls import component_channel

from bench.procs import thread_totals
from services.common import pki, tls

PRIVATE_PATH = "/shop_db/page_views"
SERVICES = ("auth", "profile", "offers")


def _health(channel: grpc.Channel) -> Any:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


def _refused_at_the_handshake(suite: Suite, service: str, channel: grpc.Channel) -> None:
    """The call fails as a connection failure, and nothing reached the service.

    First the control: the same port answers a component with its certificate, so the
    refusal below is the handshake's, not a dead service's or a wrong port's.
    """
    port = suite.port_of(service)
    with component_channel(suite.settings, "gateway", port, service) as control:
        assert _health(control).status == health_pb2.HealthCheckResponse.SERVING
    before = len(suite.recorders[service].calls)
    with channel, pytest.raises(grpc.RpcError) as caught:
        _health(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(suite.recorders[service].calls) == before


@pytest.mark.parametrize("service", SERVICES)
def test_a_client_without_a_certificate_fails_at_the_handshake(suite: Suite, service: str) -> None:
    port = suite.port_of(service)
    _refused_at_the_handshake(suite, service, grpc.insecure_channel(f"127.0.0.1:{port}"))
    # TLS that trusts p13n's CA, but presents no certificate of its own.
    ca = (suite.settings.tls_dir("gateway") / pki.CA_FILE).read_bytes()
    anonymous = grpc.secure_channel(
        f"127.0.0.1:{port}",
        grpc.ssl_channel_credentials(root_certificates=ca),
        options=tls.target_options(service),
    )
    _refused_at_the_handshake(suite, service, anonymous)


@pytest.mark.parametrize("service", SERVICES)
def test_a_certificate_from_another_ca_fails_at_the_handshake(
    suite: Suite, service: str, tmp_path: Path
) -> None:
    """A certificate naming itself ``gateway``, issued by a CA that is not the suite's."""
    pki.ensure(tmp_path, ["gateway"])
    ca = (suite.settings.tls_dir("gateway") / pki.CA_FILE).read_bytes()
    impostor = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=(tmp_path / "gateway" / pki.KEY_FILE).read_bytes(),
        certificate_chain=(tmp_path / "gateway" / pki.CERT_FILE).read_bytes(),
    )
    channel = grpc.secure_channel(
        f"127.0.0.1:{suite.port_of(service)}", impostor, options=tls.target_options(service)
    )
    _refused_at_the_handshake(suite, service, channel)


def _check_request(source: str) -> external_auth_pb2.CheckRequest:
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["listener"] = "data"
    request.attributes.source.address.socket_address.address = source
    http = request.attributes.request.http
    http.method = "POST"
    http.path = PRIVATE_PATH
    http.headers["content-type"] = "application/json"
    return request


def _check(channel: grpc.Channel) -> Any:
    return external_auth_pb2_grpc.AuthorizationStub(channel).Check(
        _check_request("203.0.113.7"), timeout=5
    )


def _track(channel: grpc.Channel) -> Any:
    return profile_internal_grpc.InternalProfileServiceStub(channel).Track(
        profile_internal.TrackRequest(), timeout=5
    )


def _private_http(channel: grpc.Channel) -> Any:
    return personalize_service_pb2_grpc.PersonalizeServiceStub(channel).PrivatePersonalizeHttp(
        personalize_service_pb2.PrivatePersonalizeHttpRequest(), timeout=5
    )


def _references(channel: grpc.Channel) -> Any:
    stub = offers_internal_grpc.InternalOffersServiceStub(channel)
    return stub.ListReferences(offers_internal.ListReferencesRequest(), timeout=5)


def _account_flags(channel: grpc.Channel) -> Any:
    return internal_service_pb2_grpc.InternalAuthServiceStub(channel).GetAccountFlags(
        internal_service_pb2.GetAccountFlagsRequest(), timeout=5
    )


def _identity_secrets(channel: grpc.Channel) -> Any:
    return internal_service_pb2_grpc.InternalAuthServiceStub(channel).GetIdentitySecrets(
        internal_service_pb2.GetIdentitySecretsRequest(service_id="1"), timeout=5
    )


@pytest.mark.parametrize(
    ("caller", "service", "call", "method"),
    [
        # A service's identity secrets go to the profile service alone: not to offers, nor
        # to the gateway's certificate (issue 13, verified identifiers).
        *(
            pytest.param(
                caller,
                "auth",
                _identity_secrets,
                "/p13n.auth.v1.InternalAuthService/GetIdentitySecrets",
                id=f"identity-secrets-{caller}",
            )
            for caller in ("offers", "gateway", "cli")
        ),
        pytest.param(
            "offers", "auth", _check, "/envoy.service.auth.v3.Authorization/Check", id="check"
        ),
        pytest.param(
            "profile", "auth", _check, "/envoy.service.auth.v3.Authorization/Check", id="check-2"
        ),
        pytest.param(
            "offers",
            "auth",
            _account_flags,
            "/p13n.auth.v1.InternalAuthService/GetAccountFlags",
            id="account-flags",
        ),
        pytest.param(
            "gateway",
            "profile",
            _track,
            "/p13n.profile.v1.InternalProfileService/Track",
            id="track",
        ),
        pytest.param(
            "cli", "profile", _track, "/p13n.profile.v1.InternalProfileService/Track", id="cli"
        ),
        pytest.param(
            "profile",
            "offers",
            _private_http,
            "/p13n.offers.v1.PersonalizeService/PrivatePersonalizeHttp",
            id="private-personalize",
        ),
        pytest.param(
            "auth",
            "offers",
            _references,
            "/p13n.offers.v1.InternalOffersService/ListReferences",
            id="references",
        ),
    ],
)
def test_a_component_outside_a_methods_list_is_permission_denied(
    suite: Suite, caller: str, service: str, call: Callable[[grpc.Channel], Any], method: str
) -> None:
    with suite.channel(service, caller=caller) as channel:
        assert _health(channel).status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as caught:
            call(channel)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == f"{method} may not be called by {caller}"


def test_the_check_attack_fails_at_its_first_step(suite: Suite, account: Account) -> None:
    """Issue 12: a ``Check`` claiming the one source address a private token is allowed
    from returned a signed identity that offers then honoured. Now no process but the
    gateway gets a decision out of ``Check``, so there is no identity to send on."""
    ps = account.parent_segment("Attack")
    account.event(ps, "page_view", "shop_db", "page_views")
    service = account.service(ps, "Backend", "PRIVATE")
    token = account.token(ps, service, "office", allowed_ips=["203.0.113.7/32"])
    request = _check_request("203.0.113.7")
    request.attributes.request.http.headers["wp13n-token"] = token
    port = suite.port_of("auth")
    stub = external_auth_pb2_grpc.AuthorizationStub
    # Without a certificate: no connection at all.
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as no:
        stub(channel).Check(request, timeout=5)
    assert no.value.code() == grpc.StatusCode.UNAVAILABLE
    # With any other component's certificate: refused before the decision is made.
    for caller in ("offers", "profile", "cli"):
        with suite.channel("auth", caller=caller) as channel, pytest.raises(grpc.RpcError) as as_:
            stub(channel).Check(request, timeout=5)
        assert as_.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The gateway asks with the real peer address, and the token is refused there.
    reply = personalize(suite, PRIVATE_PATH, token=token)
    assert reply.status == 403
    assert reply.json()["message"] == "This token may not be used from this address"


def test_a_renewed_certificate_is_served_without_a_restart(suite: Suite) -> None:
    """The auth service's certificate is re-issued on disk; the next connection gets it.

    The suite's auth service reads its directory through dynamic credentials: a fresh
    handshake sees the new serial, and calls on it work as before.
    """
    directory = suite.settings.tls_dir("auth")
    authority = pki.Authority.load(suite.settings.pki_dir / "ca")

    def served_serial() -> int:
        with suite.channel("auth", caller="cli") as channel:
            assert _health(channel).status == health_pb2.HealthCheckResponse.SERVING
        return _peer_serial(suite, suite.port_of("auth"))

    before = served_serial()
    assert before == _serial(directory / pki.CERT_FILE)
    authority.issue("auth", directory, datetime.datetime.now(datetime.UTC))
    after = served_serial()
    assert after != before
    assert after == _serial(directory / pki.CERT_FILE)


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def _handshake(suite: Suite, port: int, server: str = "auth") -> tuple[bytes, str | None]:
    """A fresh TLS handshake on ``port`` as the cli: the certificate shown, and the version."""
    directory = suite.settings.tls_dir("cli")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(directory / pki.CA_FILE)
    context.load_cert_chain(directory / pki.CERT_FILE, directory / pki.KEY_FILE)
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=pki.server_name(server)) as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
        version = wrapped.version()
    assert der is not None
    return der, version


def _peer_serial(suite: Suite, port: int) -> int:
    """The serial of the certificate a fresh TLS handshake on ``port`` is shown."""
    return x509.load_der_x509_certificate(_handshake(suite, port)[0]).serial_number


def _envoy_serials(suite: Suite) -> set[str]:
    """The serial numbers of the certificates Envoy holds (its admin ``/certs``), in hex."""
    found = request("GET", suite.settings.envoy_admin_port, "/certs").json()
    return {
        detail["serial_number"].lower().lstrip("0")
        for entry in found["certificates"]
        for detail in entry.get("cert_chain", [])
    }


def test_envoy_picks_up_a_renewed_gateway_certificate_without_a_restart(suite: Suite) -> None:
    """The gateway's certificate is re-issued on disk; Envoy's SDS watch loads it."""
    directory = suite.settings.tls_dir("gateway")
    old = f"{_serial(directory / pki.CERT_FILE):x}"
    assert old in _envoy_serials(suite)
    authority = pki.Authority.load(suite.settings.pki_dir / "ca")
    authority.issue("gateway", directory, datetime.datetime.now(datetime.UTC))
    new = f"{_serial(directory / pki.CERT_FILE):x}"
    deadline = time.monotonic() + 10
    while new not in _envoy_serials(suite) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert new in _envoy_serials(suite)
    # And the gateway still reaches the services with it.
    assert Account.create(suite).account_id


def _main_thread_switches(pid: int) -> int:
    """How often the main thread of ``pid`` has left the CPU so far (each sleep it is woken
    from is one), as the bench counts them."""
    _, _, switches = thread_totals(pid)[pid]
    return switches


def test_writes_in_the_data_directory_do_not_wake_the_gateway(suite: Suite) -> None:
    """Envoy watches the directory of its SDS files (inotify) and wakes its main thread for
    every write to any file there. The databases write to the data directory on every
    event, so with the SDS files beside them the gateway was woken about twice per event."""
    writes = 400
    scratch = suite.settings.data_dir / "scratch-writes"
    before = _main_thread_switches(suite.envoy_pid)
    with scratch.open("ab", buffering=0) as file:
        for _ in range(writes):
            file.write(b"x")
            time.sleep(0.002)  # each write its own event: inotify merges unread repeats
    woken = _main_thread_switches(suite.envoy_pid) - before
    scratch.unlink()
    # Its own timers wake it a few times a second; a wake-up per write would be 400.
    assert woken < writes / 4, woken


def _handshakes_by_version(suite: Suite) -> dict[str, dict[str, int]]:
    """Envoy's upstream TLS handshakes, by cluster and protocol version (its admin stats)."""
    reply = request("GET", suite.settings.envoy_admin_port, "/stats?filter=%5C.ssl%5C.versions%5C.")
    found: dict[str, dict[str, int]] = {}
    for line in reply.body.decode().splitlines():
        name, _, count = line.partition(": ")
        cluster, _, version = name.removeprefix("cluster.").partition(".ssl.versions.")
        if version and int(count):
            found.setdefault(cluster, {})[version] = int(count)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_negotiates_tls_1_3(suite: Suite, service: str) -> None:
    """Each service port speaks TLS 1.3 to a client that offers it (Python's ssl here)."""
    assert _handshake(suite, suite.port_of(service), service)[1] == "TLSv1.3"


def test_envoy_reaches_every_service_over_tls_1_3_only(suite: Suite, account: Account) -> None:
    """The gateway's hops to the services negotiate TLS 1.3, never an older version."""
    ps = account.parent_segment("Versions")
    account.event(ps, "page_view", "shop_db", "page_views")
    token = account.token(ps, account.service(ps, "Backend", "PRIVATE"), "server")
    assert personalize(suite, PRIVATE_PATH, token=token).status == 200
    found = _handshakes_by_version(suite)
    assert set(found) >= set(SERVICES), found  # each service reached through Envoy
    assert all(versions.keys() == {"TLSv1.3"} for versions in found.values()), found
