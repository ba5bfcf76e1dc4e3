"""The gateway's clusters with several replicas (`p13n up --replicas N`): every replica an
endpoint, health-checked and ejected on failures, retried only where none received it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import balancing
from gateway.render import GatewayConfig, GatewayTls, build, replicas, write
from services.common import pki
from services.common.config import Settings
from services.common.replicas import Layout

SERVICES = ("auth", "profile", "offers")


def _replicated(n: int) -> GatewayConfig:
    return GatewayConfig(
        bind_host="127.0.0.1",
        data_port=8080,
        admin_port=8081,
        envoy_admin_port=9901,
        auth=replicas("127.0.0.1", tuple(50051 + 10 * i for i in range(n))),
        profile=replicas("127.0.0.1", tuple(50052 + 10 * i for i in range(n))),
        offers=replicas("127.0.0.1", tuple(50053 + 10 * i for i in range(n))),
        tls=GatewayTls(Path("/var/lib/p13n/pki/gateway"), Path("/var/lib/p13n")),
    )


def _clusters(config: GatewayConfig) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in build(config)["static_resources"]["clusters"]}


def _managers(config: GatewayConfig) -> list[dict[str, Any]]:
    return [
        listener["filter_chains"][0]["filters"][-1]["typed_config"]
        for listener in build(config)["static_resources"]["listeners"]
    ]


def test_envoy_accepts_the_replicated_config_without_a_warning(tmp_path: Path) -> None:
    pki.ensure(tmp_path / "pki", ["gateway"])
    config = dataclasses.replace(
        _replicated(3), tls=GatewayTls(tmp_path / "pki" / "gateway", tmp_path)
    )
    path = tmp_path / "envoy.json"
    write(config, path)
    envoy = str(Path(sys.executable).with_name("envoy"))
    result = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Envoy accepts an unknown retry_on token with only a warning, and ignores it.
    assert "warning" not in output, output


@pytest.mark.parametrize("n", [2, 3])
def test_every_replica_is_an_endpoint_of_its_cluster(n: int) -> None:
    for name, cluster in _clusters(_replicated(n)).items():
        endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        ports = [e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints]
        base = {"auth": 50051, "profile": 50052, "offers": 50053}[name]
        assert ports == [base + 10 * i for i in range(n)], name


def test_a_dead_replica_is_found_by_health_checks_within_a_second() -> None:
    for name, cluster in _clusters(_replicated(2)).items():
        (check,) = cluster["health_checks"]
        # Readiness, not liveness (""): a draining replica is taken out while it serves.
        assert check["grpc_health_check"] == {"service_name": f"p13n.{name}"}, name
        interval = float(check["interval"].rstrip("s"))
        jitter = float(check["interval_jitter"].rstrip("s"))
        # A killed replica refuses at once; the checks that find it come an interval apart.
        worst = check["unhealthy_threshold"] * (interval + jitter)
        assert worst <= 1.0, (name, worst)
        # Also before the cluster's first request (Envoy's default there is 60 s).
        assert check["no_traffic_interval"] == check["interval"]
        assert check["healthy_threshold"] == 1  # a restarted replica serves at once
        # Over the cluster's mutual TLS: the same transport socket checks and serves.
        assert cluster["transport_socket"]["name"] == "envoy.transport_sockets.tls"
        assert cluster["common_lb_config"] == {"healthy_panic_threshold": {"value": 0.0}}


def test_consecutive_failures_eject_a_replica_but_never_all_of_them() -> None:
    for cluster in _clusters(_replicated(2)).values():
        outlier = cluster["outlier_detection"]
        assert outlier["split_external_local_origin_errors"] is True
        for kind in ("consecutive_local_origin_failure", "consecutive_gateway_failure"):
            assert outlier[kind] == balancing.CONSECUTIVE_FAILURES
            assert outlier[f"enforcing_{kind}"] == 100
        assert outlier["enforcing_consecutive_5xx"] == 0
        assert outlier["max_ejection_percent"] < 100
        assert outlier["successful_active_health_check_uneject_host"] is True


def _retry_policies(config: GatewayConfig) -> list[dict[str, Any]]:
    policies = []
    for manager in _managers(config):
        policies += [host.get("retry_policy") for host in manager["route_config"]["virtual_hosts"]]
        for http_filter in manager["http_filters"]:
            service = http_filter["typed_config"].get("grpc_service")
            if service is not None:  # both ext_authz phases
                policies.append(service["envoy_grpc"].get("retry_policy"))
    return policies


def test_only_requests_no_replica_received_are_retried_on_another() -> None:
    policies = _retry_policies(_replicated(2))
    assert len(policies) == 6  # two virtual hosts, two ext_authz calls per listener
    for policy in policies:
        assert policy is not None
        # Never "reset", "5xx" or "gateway-error": the replica may have stored the event.
        assert set(policy["retry_on"].split(",")) == {
            "connect-failure",
            "refused-stream",
            "reset-before-request",
        }
        assert [p["name"] for p in policy["retry_host_predicate"]] == [
            "envoy.retry_host_predicates.previous_hosts"
        ]


def test_one_process_per_service_keeps_the_plain_clusters() -> None:
    config = _replicated(1)
    for cluster in _clusters(config).values():
        assert not {"health_checks", "outlier_detection", "common_lb_config"} & set(cluster)
    assert _retry_policies(config) == [None] * 6


def test_the_supervisors_layout_gives_the_gateway_every_replica(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"P13N_DATA_DIR": str(tmp_path), "P13N_DATABASE_URL": "postgresql://db/p13n"}
    )
    config = GatewayConfig.on_one_machine(settings, layout=Layout.of(settings, 2))
    assert [u.port for u in config.offers] == [50053, 50063]
    assert [u.port for u in config.auth] == [50051, 50061]
    assert [u.port for u in GatewayConfig.on_one_machine(settings).profile] == [50052]
