"""deploy/: the gateway as Kubernetes receives it (tests/support/kube.py renders the
overlays offline): its pod, its two Services, its ConfigMap, the exposure components, and
the real Envoy validating the configuration exactly as the pod loads it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import kube

from gateway import console, probes
from gateway.capacity import Capacity
from gateway.render import DESCRIPTOR_FILE, KUBERNETES_OPENAPI, OPENAPI, GatewayConfig, render
from services.common import pki

BASE = kube.DEPLOY / "base"
COMPONENTS = kube.DEPLOY / "components"
# kubectl apply (client-side) copies the object into this annotation; annotations together
# may hold at most 256 KiB (Kubernetes' TotalAnnotationSizeLimitB).
ANNOTATIONS_LIMIT = 256 * 1024
# A ConfigMap's data and binaryData together may hold at most 1 MiB.
CONFIG_MAP_LIMIT = 1024 * 1024
# The overlays made so far (deploy/overlays/scale is another helper's, under way).
OVERLAYS = [
    o for o in kube.OVERLAYS if (kube.DEPLOY / "overlays" / o / "kustomization.yaml").exists()
]


def _gateway(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return kube.named(resources, "Deployment", "p13n-gateway")


def _pod(resources: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = _gateway(resources)["spec"]["template"]["spec"]
    return spec


def _container(resources: list[dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = _pod(resources)["containers"]
    [container] = containers
    return container


def _config_map(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The ConfigMap the gateway's pod mounts (by its hashed name)."""
    [volume] = [v for v in _pod(resources)["volumes"] if "configMap" in v]
    name = volume["configMap"]["name"]
    [found] = [r for r in kube.of_kind(resources, "ConfigMap") if r["metadata"]["name"] == name]
    return found


def _files(config_map: dict[str, Any]) -> dict[str, bytes]:
    """The ConfigMap's files as the kubelet writes them into the mount."""
    files = {name: text.encode() for name, text in config_map.get("data", {}).items()}
    for name, encoded in config_map.get("binaryData", {}).items():
        files[name] = base64.b64decode(encoded)
    return files


def _envoy_json(resources: list[dict[str, Any]]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_files(_config_map(resources))["envoy.json"])
    return loaded


def _cpu(quantity: str) -> float:
    """A Kubernetes CPU quantity in cores ("2", "1.5", "500m")."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory quantity {quantity!r}: write it in Mi or Gi"
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def _environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet resolves it (values and the
    resourceFieldRefs this pod uses: a limit divided by the divisor, rounded up)."""
    env = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        field = variable["valueFrom"]["resourceFieldRef"]
        assert field["containerName"] == container["name"]
        kind, _, resource = field["resource"].partition(".")
        assert (kind, resource) == ("limits", "cpu"), field
        cores = _cpu(container["resources"]["limits"]["cpu"]) / _cpu(field.get("divisor", "1"))
        env[variable["name"]] = str(math.ceil(cores))
    return env


def _expand(argument: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args: a defined variable is replaced,
    $$ stands for $, anything else is left as written."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, argument)


def _argv(container: dict[str, Any]) -> list[str]:
    env = _environment(container)
    return [_expand(a, env) for a in [*container["command"], *container.get("args", [])]]


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# -- the pod ------------------------------------------------------------------------


def test_the_pod_meets_pod_security_restricted() -> None:
    resources = kube.render("single")
    pod = _pod(resources)
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(resources)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["readOnlyRootFilesystem"] is True
    assert all(port["containerPort"] > 1024 for port in container["ports"])  # no capability


def test_envoy_runs_one_worker_per_cpu_of_its_limit() -> None:
    container = _container(kube.render("single"))
    assert "$(ENVOY_CONCURRENCY)" in container["args"]
    argv = _argv(container)
    limit = _cpu(container["resources"]["limits"]["cpu"])
    assert int(_option(argv, "--concurrency")) == math.ceil(limit) >= 1
    assert _cpu(container["resources"]["requests"]["cpu"]) <= limit


def test_the_memory_limit_leaves_room_above_envoys_heap_bound() -> None:
    """Past 85 % of its heap bound Envoy resets the streams buffering most; the kernel's
    OOM kill must not come first."""
    resources = _container(kube.render("single"))["resources"]
    heap = _envoy_json(kube.render("single"))["overload_manager"]["resource_monitors"][1]
    bound = heap["typed_config"]["max_heap_size_bytes"] // (1024 * 1024)
    assert bound == Capacity().max_heap_mib
    assert _mebibytes(resources["limits"]["memory"]) >= bound * 1.2
    assert _mebibytes(resources["requests"]["memory"]) <= _mebibytes(resources["limits"]["memory"])


def test_the_ports_are_the_configurations_listeners() -> None:
    resources = kube.render("single")
    ports = {p["name"]: p["containerPort"] for p in _container(resources)["ports"]}
    listeners = {
        listener["name"]: listener["address"]["socket_address"]
        for listener in _envoy_json(resources)["static_resources"]["listeners"]
    }
    assert listeners == {
        "data_plane": {"address": "0.0.0.0", "port_value": ports["data"]},
        "admin_api": {"address": "0.0.0.0", "port_value": ports["admin-api"]},
        "probes": {"address": "0.0.0.0", "port_value": ports["probes"]},
    }
    assert ports == {"data": 8080, "admin-api": 8081, "probes": probes.PROBE_PORT}
    # Envoy's own admin is not a port of the pod: loopback only.
    assert _envoy_json(resources)["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_probes_ask_envoys_own_readiness_and_the_hook_drains() -> None:
    container = _container(kube.render("single"))
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "probes"}
    assert container["startupProbe"]["httpGet"] == {"path": "/ready", "port": "probes"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/ready", "port": "probes"}
    assert container["lifecycle"]["preStop"] == {"httpGet": {"path": "/drain", "port": "probes"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_liveness_outlasts_the_grace_period_so_only_a_stray_drain_restarts(
    overlay: str,
) -> None:
    """/drain fails /ready for good. Draining for its own termination, the pod must be gone
    (terminationGracePeriodSeconds) before liveness gives up on it; drained by anything
    else (a stray GET /drain), it must be restarted, which only a liveness probe on /ready
    does. The kubelet kills after failureThreshold failures in a row, the first of which
    may come at once: (failureThreshold - 1) x periodSeconds must exceed the grace."""
    resources = kube.render(overlay)
    liveness = _container(resources)["livenessProbe"]
    assert liveness["httpGet"]["path"] == "/ready"
    grace = _pod(resources)["terminationGracePeriodSeconds"]
    patience = (liveness["failureThreshold"] - 1) * liveness["periodSeconds"]
    assert patience > grace, f"liveness kills after {patience} s, within the {grace} s grace"
    # Nor so patient that a pod drained by mistake stays out of service for long.
    assert patience <= 2 * grace


def _drain_hold(envoy: dict[str, Any]) -> float:
    [listener] = [x for x in envoy["static_resources"]["listeners"] if x["name"] == "probes"]
    manager = listener["filter_chains"][0]["filters"][-1]["typed_config"]
    [drain] = [
        r
        for r in manager["route_config"]["virtual_hosts"][0]["routes"]
        if r["match"].get("path") == "/drain"
    ]
    delay = drain["typed_per_filter_config"]["envoy.filters.http.fault"]["delay"]["fixed_delay"]
    return float(delay.removesuffix("s"))


def test_the_grace_period_covers_the_drain() -> None:
    """The listeners stop accepting before the hook answers, and the kubelet waits for the
    hook (then SIGTERM) within terminationGracePeriodSeconds."""
    resources = kube.render("single")
    hold = _drain_hold(_envoy_json(resources))
    drain_time = int(_option(_argv(_container(resources)), "--drain-time-s"))
    assert 0 < drain_time < hold
    grace = _pod(resources)["terminationGracePeriodSeconds"]
    assert grace >= hold + 10, "room after the hook for SIGTERM and Envoy's exit"


def test_the_data_and_admin_services_are_apart_and_the_admin_one_is_internal() -> None:
    resources = kube.render("single")
    data = kube.named(resources, "Service", "p13n-gateway")["spec"]
    assert data["ports"] == [{"name": "data", "port": 80, "targetPort": "data"}]
    admin = kube.named(resources, "Service", "p13n-gateway-admin")["spec"]
    assert admin["type"] == "ClusterIP"
    assert admin["ports"] == [{"name": "admin-api", "port": 8081, "targetPort": "admin-api"}]
    selector = _gateway(resources)["spec"]["selector"]["matchLabels"]
    assert data["selector"] == admin["selector"] == selector


# -- the ConfigMap ------------------------------------------------------------------


def test_the_config_map_carries_the_config_and_everything_it_reads() -> None:
    resources = kube.render("single")
    files = _files(_config_map(resources))
    assert set(files) == {"envoy.json", "sds-certificate.json", "sds-ca.json", DESCRIPTOR_FILE}
    assert files["envoy.json"] == (BASE / "gateway" / "envoy.json").read_bytes()
    assert files[DESCRIPTOR_FILE] == (BASE / "gateway" / DESCRIPTOR_FILE).read_bytes()
    [mount] = [m for m in _container(resources)["volumeMounts"] if m["name"] == "config"]
    assert mount["mountPath"] == "/etc/p13n"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_fits_kubectl_apply(overlay: str) -> None:
    """Measured: client-side `kubectl apply` stores the whole object in an annotation
    limited to 256 KiB (why the descriptor set ships without source info)."""
    config_map = _config_map(kube.render(overlay))
    applied = len(json.dumps(config_map, separators=(",", ":")))
    assert applied < ANNOTATIONS_LIMIT, f"{applied} bytes: kubectl apply would refuse it"
    payload = sum(len(content) for content in _files(config_map).values())
    assert payload < CONFIG_MAP_LIMIT


# -- exposure components ------------------------------------------------------------


def _with_component(tmp_path: Path, component: str) -> list[dict[str, Any]]:
    """An overlay of the base with ``component``, as a user's would be (relative paths:
    kustomize accepts no absolute ones)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(BASE, overlay)
    included = os.path.relpath(COMPONENTS / component, overlay)
    (overlay / "kustomization.yaml").write_text(f"resources: [{base}]\ncomponents: [{included}]\n")
    rendered = subprocess.run(
        [kube.kubectl(), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def _trusted_hops(envoy: dict[str, Any]) -> dict[str, int]:
    """Each HTTP listener's xff_num_trusted_hops, by listener name (the probe listener
    reads no client address)."""
    return {
        listener["name"]: listener["filter_chains"][0]["filters"][-1]["typed_config"][
            "xff_num_trusted_hops"
        ]
        for listener in envoy["static_resources"]["listeners"]
        if listener["name"] != "probes"
    }


def test_the_gateway_api_component_routes_to_the_data_service_with_one_trusted_hop(
    tmp_path: Path,
) -> None:
    resources = _with_component(tmp_path, "gateway-api")
    route = kube.named(resources, "HTTPRoute", "p13n-gateway")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "p13n"}]
    [rule] = route["spec"]["rules"]
    assert rule["backendRefs"] == [{"name": "p13n-gateway", "port": 80}]
    # The Gateway's proxy stands in front of the data listener only: the admin API's
    # clients (a port-forward, a pod) reach it directly, and an X-Forwarded-For they send
    # must not choose their address.
    assert _trusted_hops(_envoy_json(resources)) == {"data_plane": 1, "admin_api": 0}
    # Only envoy.json changed: the SDS files and the descriptor set are the base's.
    base = _files(_config_map(kube.render("single")))
    files = _files(_config_map(resources))
    assert {k: v for k, v in files.items() if k != "envoy.json"} == {
        k: v for k, v in base.items() if k != "envoy.json"
    }
    # A different configuration, a different name: the pods roll.
    assert (
        _config_map(resources)["metadata"]["name"]
        != _config_map(kube.render("single"))["metadata"]["name"]
    )
    # Nothing exposes the admin API.
    assert kube.named(resources, "Service", "p13n-gateway-admin")["spec"]["type"] == "ClusterIP"


def test_the_load_balancer_component_keeps_client_addresses_with_no_trusted_hop(
    tmp_path: Path,
) -> None:
    resources = _with_component(tmp_path, "load-balancer")
    spec = kube.named(resources, "Service", "p13n-gateway")["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["ports"] == [{"name": "data", "port": 80, "targetPort": "data"}]
    assert _trusted_hops(_envoy_json(resources)) == {"data_plane": 0, "admin_api": 0}
    assert kube.named(resources, "Service", "p13n-gateway-admin")["spec"]["type"] == "ClusterIP"


def test_the_gateway_api_config_is_fresh() -> None:
    committed = (COMPONENTS / "gateway-api" / "envoy.json").read_text()
    assert committed == render(GatewayConfig.on_kubernetes(trusted_hops=1)) + "\n", (
        "run: p13n gateway-config --kubernetes --trusted-hops 1"
        " > deploy/components/gateway-api/envoy.json"
    )


# -- the real Envoy loads it as the pod does ------------------------------------------


@pytest.fixture
def mount_points() -> Iterator[list[Path]]:
    """The pod's mount paths on this machine, made if missing and removed after (only
    what was made): the bind mounts below cover them in a private mount namespace."""
    made: list[Path] = []
    wanted = [Path("/etc/p13n"), Path("/var/run/p13n/tls"), KUBERNETES_OPENAPI.parent]
    try:
        for path in wanted:
            missing = [p for p in [path, *path.parents] if not p.exists()]
            path.mkdir(parents=True, exist_ok=True)
            made.extend(reversed(missing))
        yield wanted
    finally:
        for path in reversed(made):
            # Left alone if another process (a simulated cluster) uses it now.
            with contextlib.suppress(OSError):
                path.rmdir()


def _the_pods_files(resources: list[dict[str, Any]], root: Path) -> dict[str, Path]:
    """Each volume of the gateway's pod as the kubelet would fill it, by mount path: the
    ConfigMap's files, and the TLS Secret's keys (a certificate of a test CA)."""
    config = root / "config"
    config.mkdir()
    for name, content in _files(_config_map(resources)).items():
        (config / name).write_bytes(content)
    pki.ensure(root / "pki", ["gateway"])
    secret = root / "tls"
    shutil.copytree(root / "pki" / "gateway", secret)
    assert {p.name for p in secret.iterdir()} >= {pki.CERT_FILE, pki.KEY_FILE, pki.CA_FILE}
    sources = {"config": config, "tls": secret}
    volumes = {v["name"]: v for v in _pod(resources)["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "p13n-gateway-tls"
    return {m["mountPath"]: sources[m["name"]] for m in _container(resources)["volumeMounts"]}


@pytest.mark.parametrize(
    ("overlay", "component"),
    [(overlay, None) for overlay in OVERLAYS]
    + [(None, component) for component in ("gateway-api", "load-balancer")],
)
def test_envoy_validates_the_config_exactly_as_the_pod_loads_it(
    tmp_path: Path, mount_points: list[Path], overlay: str | None, component: str | None
) -> None:
    if os.geteuid() != 0:
        pytest.skip("bind mounts onto /etc/p13n need root (CI runs as root)")
    if overlay is not None:
        resources = kube.render(overlay)
    else:
        assert component is not None
        resources = _with_component(tmp_path, component)
    mounts = _the_pods_files(resources, tmp_path)
    # What the image carries besides Envoy (deploy/images/gateway.Dockerfile): the API
    # reference, and the built console beside it.
    image_files = tmp_path / "image"
    image_files.mkdir()
    shutil.copy(OPENAPI, image_files / KUBERNETES_OPENAPI.name)
    shutil.copytree(
        console.DIST, image_files / console.KUBERNETES_DIST.relative_to(KUBERNETES_OPENAPI.parent)
    )
    mounts[str(KUBERNETES_OPENAPI.parent)] = image_files
    assert sorted(mounts) == sorted(str(p) for p in mount_points)
    container = _container(resources)
    argv = _argv(container)
    assert argv[0] == "envoy"  # found on PATH, as in the image (/usr/local/bin)
    binds = " && ".join(
        f"mount --bind {source} {target}" for target, source in sorted(mounts.items())
    )
    venv_bin = str(Path(sys.executable).parent)
    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f'{binds} && exec "$@"',
            "sh",
            *argv,
            "--mode",
            "validate",
        ],
        capture_output=True,
        text=True,
        env={"PATH": f"{venv_bin}:/usr/bin:/bin", **_environment(container)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration '/etc/p13n/envoy.json' OK" in result.stdout + result.stderr
