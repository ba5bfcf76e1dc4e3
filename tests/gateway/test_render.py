"""Every rendered gateway configuration is one the real Envoy accepts."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import descriptor_pb2

from gateway import console, probes, public_path, timing_log
from gateway.descriptor import without_source_info
from gateway.render import (
    DESCRIPTOR,
    DESCRIPTOR_FILE,
    OPENAPI,
    SDS_CA_FILE,
    SDS_CERT_FILE,
    SDS_DIR_NAME,
    GatewayConfig,
    GatewayTls,
    Upstream,
    build,
    sds_files,
    write,
)
from services import cli
from services.auth import bindings
from services.common import pki
from services.common.config import Settings
from services.common.server import MAX_METADATA_BYTES
from services.supervisor import CHILD_KEYS

LOCAL = GatewayConfig(
    bind_host="127.0.0.1",
    data_port=8080,
    admin_port=8081,
    envoy_admin_port=9901,
    auth=(Upstream("127.0.0.1", 50051),),
    profile=(Upstream("127.0.0.1", 50052),),
    offers=(Upstream("127.0.0.1", 50053),),
    tls=GatewayTls(Path("/var/lib/p13n/pki/gateway"), Path("/var/lib/p13n") / SDS_DIR_NAME),
)
# The descriptor set, the API reference and the console at their paths on this machine: the image's paths
# exist only in the image.
KUBERNETES = dataclasses.replace(
    GatewayConfig.on_kubernetes(), descriptor=DESCRIPTOR, openapi=OPENAPI, console=console.DIST
)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(LOCAL, id="local"),
        pytest.param(KUBERNETES, id="kubernetes"),
        # The benchmark's comparison run: no internal TLS (loopback only).
        pytest.param(dataclasses.replace(LOCAL, tls=None), id="plain"),
        pytest.param(
            dataclasses.replace(LOCAL, timing_log=Path("/tmp/p13n-timing.jsonl")), id="timing-log"
        ),
        pytest.param(
            dataclasses.replace(LOCAL, browser_socket=Path("/var/lib/p13n/browser.sock")),
            id="single-process",
        ),
    ],
)
def test_envoy_validates_rendered_config(tmp_path: Path, config: GatewayConfig) -> None:
    if config.tls is not None:
        # The certificate and the SDS files on this machine, at the paths Envoy checks.
        pki.ensure(tmp_path / "pki", ["gateway"])
        config = dataclasses.replace(config, tls=GatewayTls(tmp_path / "pki" / "gateway", tmp_path))
    path = tmp_path / "envoy.json"
    write(config, path)
    envoy = str(Path(sys.executable).with_name("envoy"))
    result = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_envoy_admin_listens_on_loopback_only() -> None:
    address = build(KUBERNETES)["admin"]["address"]["socket_address"]["address"]
    assert address == "127.0.0.1"


def test_every_listener_runs_ext_authz_before_the_transcoder() -> None:
    for listener in build(LOCAL)["static_resources"]["listeners"]:
        manager = listener["filter_chains"][0]["filters"][-1]["typed_config"]
        names = [f["name"] for f in manager["http_filters"]]
        assert (
            names.index("envoy.filters.http.header_mutation")
            < names.index("envoy.filters.http.ext_authz")
            < names.index(BODY_PHASE)
            < names.index("envoy.filters.http.buffer")
            < names.index("envoy.filters.http.grpc_json_transcoder")
        )
        # The first phase decides on the headers: no body is buffered before a credential,
        # but an event's (at most 64 KiB: one call on the hot path).
        assert "with_request_body" not in _filter(manager, "envoy.filters.http.ext_authz")
        for host in manager["route_config"]["virtual_hosts"]:
            for scope in [host, *host["routes"]]:
                first = scope.get("typed_per_filter_config", {}).get("envoy.filters.http.ext_authz")
                read = (first or {}).get("check_settings", {}).get("with_request_body")
                assert read is None or read["max_request_bytes"] <= 65536, scope.get("match")
        assert manager["use_remote_address"] is True
        routes = manager["route_config"]["virtual_hosts"][0]["routes"]
        assert routes[-1]["match"] == {"prefix": "/"}, "a catch-all route keeps ext_authz on"


def test_every_upstream_is_mutual_tls_verifying_its_service() -> None:
    clusters = {c["name"]: c for c in build(KUBERNETES)["static_resources"]["clusters"]}
    # The one plaintext cluster: Envoy's own admin on loopback, for the probe listener.
    admin = clusters.pop(probes.ADMIN_CLUSTER)
    [[endpoint]] = [e["lb_endpoints"] for e in admin["load_assignment"]["endpoints"]]
    assert endpoint["endpoint"]["address"]["socket_address"]["address"] == "127.0.0.1"
    assert set(clusters) == {"auth", "profile", "offers"}
    for cluster in clusters.values():
        context = cluster["transport_socket"]["typed_config"]
        assert context["@type"].endswith("UpstreamTlsContext")
        assert context["sni"] == f"p13n-{cluster['name']}"
        common = context["common_tls_context"]
        assert common["alpn_protocols"] == ["h2"]
        assert common["tls_params"] == {
            "tls_minimum_protocol_version": "TLSv1_3",
            "tls_maximum_protocol_version": "TLSv1_3",
        }
        [certificate] = common["tls_certificate_sds_secret_configs"]
        source = certificate["sds_config"]["path_config_source"]["path"]
        assert source == f"/etc/p13n/{SDS_CERT_FILE}"
        validation = common["combined_validation_context"]
        assert validation["default_validation_context"]["match_typed_subject_alt_names"] == [
            {"san_type": "URI", "matcher": {"exact": f"spiffe://p13n/{cluster['name']}"}}
        ]
        ca = validation["validation_context_sds_secret_config"]["sds_config"]
        assert ca["path_config_source"]["path"] == f"/etc/p13n/{SDS_CA_FILE}"


def test_the_sds_files_watch_the_mounted_secret() -> None:
    assert KUBERNETES.tls is not None
    files = {name: json.loads(text) for name, text in sds_files(KUBERNETES.tls).items()}
    [certificate] = files[SDS_CERT_FILE]["resources"]
    assert certificate["tls_certificate"]["private_key"] == {
        "filename": "/var/run/p13n/tls/tls.key"
    }
    assert certificate["tls_certificate"]["watched_directory"] == {"path": "/var/run/p13n/tls"}
    [authority] = files[SDS_CA_FILE]["resources"]
    assert authority["validation_context"]["trusted_ca"] == {"filename": "/var/run/p13n/tls/ca.crt"}


def test_the_sds_files_have_a_directory_of_their_own(tmp_path: Path) -> None:
    """Envoy watches the directory of each SDS file, and is woken by every write to any file
    in it: on one machine they sit apart from the databases and envoy.json
    (tests/e2e/test_internal_mtls.py shows the wake-ups)."""
    config = GatewayConfig.on_one_machine(Settings.from_env({"P13N_DATA_DIR": str(tmp_path)}))
    assert config.tls is not None
    write(config, tmp_path / "envoy.json")
    assert config.tls.sds_dir == tmp_path / SDS_DIR_NAME
    assert {p.name for p in config.tls.sds_dir.iterdir()} == {SDS_CERT_FILE, SDS_CA_FILE}


def test_committed_kubernetes_config_is_fresh(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    # This checkout's code (PYTHONPATH), not the one the venv was installed from.
    rendered = subprocess.run(
        [sys.executable, "-m", "services.cli", "gateway-config", "--kubernetes"],
        capture_output=True,
        text=True,
        check=True,
        env={"P13N_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        timeout=60,
    ).stdout
    committed = (root / "deploy" / "base" / "gateway" / "envoy.json").read_text()
    assert rendered == committed, (
        "run: p13n gateway-config --kubernetes --files-dir deploy/base/gateway"
        " > deploy/base/gateway/envoy.json"
    )


def test_committed_descriptor_is_the_generated_one_without_source_info() -> None:
    """The descriptor set the gateway's ConfigMap carries (gateway/descriptor.py) is the
    one services/_gen holds, comments and source positions left out, and nothing else."""
    root = Path(__file__).resolve().parents[2]
    committed = (root / "deploy" / "base" / "gateway" / DESCRIPTOR_FILE).read_bytes()
    assert committed == without_source_info(DESCRIPTOR), (
        "run: p13n gateway-config --kubernetes --files-dir deploy/base/gateway"
        " > deploy/base/gateway/envoy.json"
    )
    shipped = descriptor_pb2.FileDescriptorSet.FromString(committed)
    generated = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes())
    for file in generated.file:
        file.ClearField("source_code_info")
    assert shipped == generated


def test_the_kubernetes_config_reads_the_descriptor_from_its_config_map() -> None:
    for listener in build(GatewayConfig.on_kubernetes())["static_resources"]["listeners"][:2]:
        transcoder = _filter(_http_manager(listener), "envoy.filters.http.grpc_json_transcoder")
        assert transcoder["proto_descriptor"] == f"/etc/p13n/{DESCRIPTOR_FILE}"


@pytest.mark.parametrize("hops", [0, 1, 3])
def test_trusted_hops_reach_the_data_listener_only(hops: int) -> None:
    """The proxies counted stand in front of the data listener; nothing stands in front of
    the admin API, so there a client's own X-Forwarded-For never chooses its address."""
    config = build(GatewayConfig.on_kubernetes(trusted_hops=hops))
    managers = {
        listener["name"]: _http_manager(listener)
        for listener in config["static_resources"]["listeners"][:2]
    }
    assert {
        name: (manager["use_remote_address"], manager["xff_num_trusted_hops"])
        for name, manager in managers.items()
    } == {"data_plane": (True, hops), "admin_api": (True, 0)}


def test_trusted_hops_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="trusted hops must be 0 or more, not -1"):
        GatewayConfig.on_kubernetes(trusted_hops=-1)


def test_kubernetes_backends_find_every_pod_within_seconds() -> None:
    """Headless Services: one endpoint per ready pod, re-resolved every 2 s, each checked
    and balanced as a replica (gateway/balancing.py)."""
    clusters = build(GatewayConfig.on_kubernetes())["static_resources"]["clusters"]
    for cluster in clusters:
        if cluster["name"] == probes.ADMIN_CLUSTER:
            continue
        dns = cluster["cluster_type"]["typed_config"]
        assert dns["@type"].endswith("DnsCluster")
        assert dns["all_addresses_in_single_endpoint"] is False  # STRICT_DNS: every address
        assert dns["dns_refresh_rate"] == "2s"
        assert "health_checks" in cluster
        assert "outlier_detection" in cluster
    names = {c["name"]: c for c in clusters}
    address = names["auth"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert address["address"]["socket_address"] == {"address": "p13n-auth", "port_value": 50051}


def test_every_service_has_a_deployment_with_probes_and_keys() -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("auth", "profile", "offers"):
        documents = list(
            yaml.safe_load_all((root / "deploy" / "base" / f"{name}.yaml").read_text())
        )
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert "grpc" in container["readinessProbe"]
        secrets = {e["name"] for e in container["env"] if "valueFrom" in e}
        # Only the master keys it uses, the same as `p13n up` gives it.
        assert secrets == set(CHILD_KEYS[name]), name
        assert any(d["kind"] == "Service" for d in documents)


def _http_manager(listener: dict[str, Any]) -> dict[str, Any]:
    # The last network filter: the admin listener's connection limit comes before it.
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][-1]["typed_config"]
    return manager


def _listener(bootstrap: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        x for x in bootstrap["static_resources"]["listeners"] if x["name"] == name
    ]
    [listener] = found
    return listener


def _filter(manager: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [f for f in manager["http_filters"] if f["name"] == name]
    config: dict[str, Any] = found["typed_config"]
    return config


# The second ext_authz: the body phase (context extension check: body).
BODY_PHASE = "p13n.ext_authz_body"


def _check_settings(route: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = route["typed_per_filter_config"][BODY_PHASE]["check_settings"]
    assert settings["context_extensions"]["check"] == "body"
    return settings


def _body_phase_off(route: dict[str, Any]) -> bool:
    return bool(route["typed_per_filter_config"][BODY_PHASE]["disabled"])


def test_ext_authz_reads_each_json_body_up_to_the_limit_its_route_buffers() -> None:
    """The strict JSON check (services/auth/strict_json.py) sees every JSON body the buffer
    after it lets through whole, as bytes, in the second phase."""
    listeners = {
        listener["name"]: _http_manager(listener)
        for listener in build(LOCAL)["static_resources"]["listeners"]
    }
    for manager in listeners.values():
        body = _filter(manager, BODY_PHASE)["with_request_body"]
        assert body["pack_as_bytes"]
        assert not body["allow_partial_message"]
        buffered = _filter(manager, "envoy.filters.http.buffer")["max_request_bytes"]
        assert body["max_request_bytes"] >= buffered
    data = listeners["data_plane"]["route_config"]["virtual_hosts"][0]
    # Events: one call reads the credential and the body (the hot path), up to 64 KiB.
    first = data["typed_per_filter_config"]["envoy.filters.http.ext_authz"]["check_settings"]
    assert first["with_request_body"] == {
        "max_request_bytes": 65536,
        "allow_partial_message": True,
        "pack_as_bytes": True,
    }
    assert _body_phase_off(data)
    # Events only: a longer one reaches the decision cut, and the auth service's 413 (CORS kept).
    for route in data["routes"]:
        prefix = route["match"]["prefix"]
        if prefix == "/records/":
            per_route = route["typed_per_filter_config"]["envoy.filters.http.buffer"]
            limit = per_route["buffer"]["max_request_bytes"]
            assert _check_settings(route)["with_request_body"] == {
                "max_request_bytes": limit,
                "allow_partial_message": False,
                "pack_as_bytes": True,
            }
            first = route["typed_per_filter_config"]["envoy.filters.http.ext_authz"]
            assert "with_request_body" not in first["check_settings"]
        elif prefix.startswith("/p13n."):  # native gRPC: protobuf, not JSON
            assert _body_phase_off(route)
            first = route["typed_per_filter_config"]["envoy.filters.http.ext_authz"]
            assert first["check_settings"]["disable_request_body_buffering"]
    admin = listeners["admin_api"]["route_config"]["virtual_hosts"][0]
    assert _check_settings(admin)["context_extensions"]["listener"] == "admin"
    for route in admin["routes"]:
        if route["match"].get("prefix", route["match"].get("path", "")).startswith("/p13n."):
            assert _body_phase_off(route), route["match"]


def test_no_body_read_lowers_the_buffer_limit_under_what_envoy_may_hold() -> None:
    """A body read whole (allow_partial_message false) sets the stream's buffer limit to its
    size at once. Under Envoy's 1 MiB connection buffer, which a body may already fill while
    the headers phase runs, Envoy then neither answered 413 nor read on: every such read
    is partial, and the auth service refuses the cut (tests/e2e/test_authz_phases.py)."""
    reads: list[dict[str, Any] | None] = []
    for listener in build(LOCAL)["static_resources"]["listeners"]:
        manager = _http_manager(listener)
        for name in ("envoy.filters.http.ext_authz", BODY_PHASE):
            reads.append(_filter(manager, name).get("with_request_body"))
        for host in manager["route_config"]["virtual_hosts"]:
            for place in (host, *host["routes"]):
                for name in ("envoy.filters.http.ext_authz", BODY_PHASE):
                    per_route = place.get("typed_per_filter_config", {}).get(name, {})
                    reads.append(per_route.get("check_settings", {}).get("with_request_body"))
    present = [read for read in reads if read]
    assert any(read["max_request_bytes"] == 16384 for read in present)  # sign-in's is there
    for read in present:
        assert read["allow_partial_message"] or read["max_request_bytes"] >= 1024 * 1024, read


def test_one_header_limit_the_services_can_always_take() -> None:
    for listener in build(LOCAL)["static_resources"]["listeners"]:
        limit = _http_manager(listener)["max_request_headers_kb"] * 1024
        assert limit * 2 <= MAX_METADATA_BYTES  # room for what Envoy adds upstream


def test_the_auth_service_reads_bodies_for_every_service_the_transcoders_serve() -> None:
    """services/auth/bindings.py's copy of each listener's transcoded services: one left
    out would have its bodies refused (404) instead of checked."""
    names = {"data_plane": "data", "admin_api": "admin"}
    for listener in build(LOCAL)["static_resources"]["listeners"]:
        transcoder = _filter(_http_manager(listener), "envoy.filters.http.grpc_json_transcoder")
        assert set(transcoder["services"]) == set(bindings.TRANSCODED[names[listener["name"]]])


def _data_filters(config: GatewayConfig = LOCAL) -> list[dict[str, Any]]:
    [data] = [
        listener
        for listener in build(config)["static_resources"]["listeners"]
        if listener["name"] == "data_plane"
    ]
    filters: list[dict[str, Any]] = _http_manager(data)["http_filters"]
    return filters


def test_the_per_address_bucket_is_an_ipv4_address_or_an_ipv6_64() -> None:
    """As the auth service counts addresses (docs/design.md §7): a client with a /64 cannot
    take a fresh bucket per address."""
    [limit] = [f for f in _data_filters() if f["name"] == "envoy.filters.http.local_ratelimit"]
    config = limit["typed_config"]
    assert config["rate_limits"] == [
        {
            "actions": [
                {"masked_remote_address": {"v4_prefix_mask_len": 32, "v6_prefix_mask_len": 64}}
            ]
        }
    ]
    assert [d["entries"] for d in config["descriptors"]] == [[{"key": "masked_remote_address"}]]


def test_one_filter_holds_so_the_held_bound_is_the_setting() -> None:
    capacity = dataclasses.replace(LOCAL.capacity, held_requests=7)
    faults = [
        f["typed_config"]
        for f in _data_filters(dataclasses.replace(LOCAL, capacity=capacity))
        if f["name"] == "envoy.filters.http.fault"
    ]
    [hold] = [fault for fault in faults if "delay" in fault]
    assert hold["max_active_faults"] == 7
    assert hold["delay"]["percentage"] == {"numerator": 100, "denominator": "HUNDRED"}
    [refuse] = [fault for fault in faults if "abort" in fault]
    assert "max_active_faults" not in refuse
    # The hold's length comes from a header the gateway sets over the client's.
    [hold_time] = [f for f in _data_filters() if f["name"] == "p13n.hold_time"]
    [set_delay, _] = hold_time["typed_config"]["mutations"]["request_mutations"]
    assert set_delay["append"]["append_action"] == "OVERWRITE_IF_EXISTS_OR_ADD"


def test_envoy_resets_the_biggest_streams_near_its_heap_bound() -> None:
    capacity = dataclasses.replace(LOCAL.capacity, max_heap_mib=512)
    overload = build(dataclasses.replace(LOCAL, capacity=capacity))["overload_manager"]
    [heap] = [
        m
        for m in overload["resource_monitors"]
        if m["name"] == "envoy.resource_monitors.fixed_heap"
    ]
    assert heap["typed_config"]["max_heap_size_bytes"] == 512 * 1024 * 1024
    [action] = overload["actions"]
    assert action["name"] == "envoy.overload_actions.reset_high_memory_stream"
    assert action["triggers"][0]["name"] == "envoy.resource_monitors.fixed_heap"
    assert overload["buffer_factory_config"]["minimum_account_to_track_power_of_two"] == 16


def test_gateway_config_refuses_negative_trusted_hops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path))
    assert cli.main(["gateway-config", "--kubernetes", "--trusted-hops", "-1"]) == 2
    error = capsys.readouterr().err
    assert error == "p13n: configuration error: --trusted-hops -1: give 0 or a positive number\n"


def test_gateway_config_writes_every_file_the_kubernetes_config_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path / "data"))
    files = tmp_path / "files"
    files.mkdir()
    assert cli.main(["gateway-config", "--kubernetes", "--files-dir", str(files)]) == 0
    assert json.loads(capsys.readouterr().out)["node"]["id"] == "p13n-gateway"
    assert {p.name for p in files.iterdir()} == {SDS_CERT_FILE, SDS_CA_FILE, DESCRIPTOR_FILE}
    assert (files / DESCRIPTOR_FILE).read_bytes() == without_source_info(DESCRIPTOR)


def test_the_timing_log_is_off_unless_asked_for_and_then_on_the_data_plane_only() -> None:
    def logged(config: GatewayConfig) -> dict[str, Any]:
        return {
            listener["name"]: listener["filter_chains"][0]["filters"][-1]["typed_config"].get(
                "access_log"
            )
            for listener in build(config)["static_resources"]["listeners"]
        }

    assert set(logged(LOCAL).values()) == {None}
    found = logged(dataclasses.replace(LOCAL, timing_log=Path("/var/log/p13n/timing.jsonl")))
    assert {name for name, log in found.items() if log} == {"data_plane"}
    [log] = found["data_plane"]
    assert log["typed_config"]["path"] == "/var/log/p13n/timing.jsonl"


def test_the_timing_log_holds_timings_only_never_a_header_path_or_address() -> None:
    [log] = timing_log.access_log(Path("/tmp/t.jsonl"))
    fields = log["typed_config"]["log_format"]["json_format"]
    assert set(fields) == {
        "start",
        "status",
        "cluster",
        "total_us",
        "before_upstream_us",
        "upstream_us",
        "after_upstream_us",
    }
    operators = " ".join(fields.values())
    for revealing in ("REQ(", "RESP(", "PATH", "ADDRESS", "AUTHORITY", "USER_AGENT", "TRAILER"):
        assert revealing not in operators


def test_the_single_process_mode_hands_json_events_to_its_socket_as_sent() -> None:
    """Only the browser path's JSON events go to the process's Unix socket, with ext_authz
    and the transcoder off on that route and the gateway's own client address; the other
    routes and clusters are the per-service ones (gateway/public_path.py)."""
    socket = Path("/var/lib/p13n/browser.sock")
    single = build(dataclasses.replace(LOCAL, browser_socket=socket))
    clusters = {c["name"]: c for c in single["static_resources"]["clusters"]}
    endpoint = clusters[public_path.CLUSTER]["load_assignment"]["endpoints"][0]
    assert endpoint["lb_endpoints"][0]["endpoint"]["address"] == {"pipe": {"path": str(socket)}}
    manager = _http_manager(_listener(single, "data_plane"))
    [first, *rest] = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert first["route"]["cluster"] == public_path.CLUSTER
    matched = {h["name"] for h in first["match"]["headers"]}
    assert matched == {":path", ":method", "content-type", "content-length"}
    assert set(first["typed_per_filter_config"]) == {
        "envoy.filters.http.ext_authz",
        "p13n.ext_authz_body",
        "envoy.filters.http.grpc_json_transcoder",
    }
    assert all(c["disabled"] for c in first["typed_per_filter_config"].values())
    [address] = first["request_headers_to_add"]
    assert address["header"]["value"] == "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
    per_service = _http_manager(_listener(build(LOCAL), "data_plane"))
    assert rest == per_service["route_config"]["virtual_hosts"][0]["routes"]
    assert public_path.CLUSTER not in {
        c["name"] for c in build(LOCAL)["static_resources"]["clusters"]
    }
