"""deploy/: every component gets a cert-manager Certificate naming it, mounted where its
setting points, and the Envoy SDS files in deploy/ are the ones the renderer makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.render import GatewayConfig, sds_files

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "base"
COMPONENTS = ("gateway", "auth", "profile", "offers")


def _documents(name: str) -> list[Any]:
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def _pod(component: str) -> Any:
    deployment = next(d for d in _documents(f"{component}.yaml") if d["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_has_a_certificate_with_its_uri_san(component: str) -> None:
    certificates = {
        d["metadata"]["name"]: d["spec"]
        for d in _documents("certificates.yaml")
        if d["kind"] == "Certificate"
    }
    spec = certificates[f"p13n-{component}"]
    assert spec["uris"] == [f"spiffe://p13n/{component}"]
    assert spec["dnsNames"] == [f"p13n-{component}"]
    assert spec["secretName"] == f"p13n-{component}-tls"
    assert spec["issuerRef"] == {"name": "p13n-ca", "kind": "Issuer"}
    assert {"server auth", "client auth"} <= set(spec["usages"])


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_deployment_mounts_its_secret_where_it_reads_it(component: str) -> None:
    pod = _pod(component)
    volume = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == f"p13n-{component}-tls"
    container = pod["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "tls")
    if component == "gateway":
        expected = str(GatewayConfig.on_kubernetes().tls.cert_dir)  # type: ignore[union-attr]
    else:
        env = {e["name"]: e.get("value") for e in container["env"]}
        expected = env["P13N_TLS_DIR"]
    assert mount["mountPath"] == expected


@pytest.mark.parametrize("component", ["auth", "profile", "offers"])
def test_probes_use_the_health_only_port(component: str) -> None:
    container = _pod(component)["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    port = int(env["P13N_HEALTH_PORT"])
    assert container["readinessProbe"]["grpc"]["port"] == port
    assert container["livenessProbe"]["grpc"]["port"] == port
    service = next(d for d in _documents(f"{component}.yaml") if d["kind"] == "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["grpc"]


def test_committed_sds_files_are_fresh() -> None:
    tls = GatewayConfig.on_kubernetes().tls
    assert tls is not None
    for name, text in sds_files(tls).items():
        assert (DEPLOY / "gateway" / name).read_text() == text + "\n", (
            "run: p13n gateway-config --kubernetes --sds-dir deploy/base/gateway"
            " > deploy/base/gateway/envoy.json"
        )
