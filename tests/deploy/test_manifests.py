"""deploy/ as Kubernetes receives it: every overlay (and every exposure component on top of
single) rendered by kustomize, validated against the API schemas of the oldest and newest
Kubernetes we support, admitted by Pod Security "restricted", and held to p13n's own rules:
no service links, resources everywhere, each pod only its own secrets, headless Services,
the scale overlay's budgets and autoscalers, and NetworkPolicies that allow exactly the
calls the services make."""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import kube
from support.pod_security import restricted_violations
from support.policy_graph import Endpoint, allowed_edges

from services.connection_budget import PER_PROCESS

Resource = dict[str, Any]
SERVICES = ("auth", "profile", "offers")
COMPONENTS = (*SERVICES, "gateway")
GRPC_PORTS = {"auth": 50051, "profile": 50052, "offers": 50053}
HEALTH_PORT = 8086
OLDEST_KUBERNETES = "1.30.0"
# Kinds kubernetes-validate ships no schema for (custom resources): shape-checked below.
WITHOUT_SCHEMA = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
}


def _components() -> list[str]:
    root = kube.DEPLOY / "components"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


# Every installation a user can apply: the overlays, and each component over single.
TARGETS = [*kube.OVERLAYS, *(f"single+{name}" for name in _components())]


@functools.cache
def _rendered_text(target: str, scratch: Path) -> str:
    if "+" not in target:
        return kube.rendered_text(target)
    overlay, component = target.split("+")
    # A kustomization of the user's own, as deploy/README.md describes: the overlay plus
    # the component, from a directory outside the repository (kustomize takes only
    # relative paths to them).
    directory = scratch / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(kube.DEPLOY / "overlays" / overlay, directory)],
                "components": [os.path.relpath(kube.DEPLOY / "components" / component, directory)],
            }
        )
    )
    return subprocess.run(
        [kube.kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kustomizations")


def _render(target: str, scratch: Path) -> list[Resource]:
    return [d for d in yaml.safe_load_all(_rendered_text(target, scratch)) if d]


def _deployments(resources: list[Resource]) -> dict[str, Resource]:
    return {d["metadata"]["name"]: d for d in kube.of_kind(resources, "Deployment")}


def _pod(resources: list[Resource], component: str) -> Resource:
    pod: Resource = _deployments(resources)[f"p13n-{component}"]["spec"]["template"]["spec"]
    return pod


def _env(container: Resource) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _newest_kubernetes() -> str:
    """The newest version the installed kubernetes-validate has schemas for (asked, not
    written down, so that upgrading the validator moves the check forward)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from kubernetes_validate.utils import latest_version; print(latest_version())",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def _kubernetes_validate(path: Path, version: str) -> subprocess.CompletedProcess[str]:
    validator = str(Path(sys.executable).with_name("kubernetes-validate"))
    return subprocess.run(
        [validator, "--strict", "--kubernetes-version", version, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- validation against the API schemas ------------------------------------------------


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, "newest"])
@pytest.mark.parametrize("target", TARGETS)
def test_every_resource_passes_strict_schema_validation(
    target: str, version: str, scratch: Path, tmp_path: Path
) -> None:
    version = _newest_kubernetes() if version == "newest" else version
    resources = _render(target, scratch)
    path = tmp_path / "rendered.yaml"
    path.write_text(_rendered_text(target, scratch))
    result = _kubernetes_validate(path, version)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = set(re.findall(r"passed for resource (\S+) against", result.stdout))
    expected = {
        f"{r['kind'].lower()}/{r['metadata']['name']}"
        for r in resources
        if (r["apiVersion"], r["kind"]) not in WITHOUT_SCHEMA
    }
    # Every resource with a schema was checked against it; the rest are the known
    # custom resources (a new kind without a schema must be added here, with a check).
    assert passed == expected
    assert {(r["apiVersion"], r["kind"]) for r in resources} - WITHOUT_SCHEMA
    unchecked = re.findall(
        r"Couldn't find schema for kind (\S+) with api version (\S+)", result.stdout
    )
    assert {(api, kind) for kind, api in unchecked} <= WITHOUT_SCHEMA


def test_strict_validation_refuses_an_unknown_field(scratch: Path, tmp_path: Path) -> None:
    """The check above can fail: a field the API does not know (a typo) is refused."""
    resources = _render("single", scratch)
    deployment = _deployments(resources)["p13n-auth"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 2
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(deployment))
    result = _kubernetes_validate(path, OLDEST_KUBERNETES)
    assert result.returncode != 0
    assert "periodSecond" in result.stdout + result.stderr


# --- the custom resources, which have no schema here ----------------------------------


def _duration_hours(text: str) -> int:
    """cert-manager's durations as p13n writes them: whole hours ("2160h")."""
    assert re.fullmatch(r"\d+h", text), f"{text!r}: write durations in whole hours"
    return int(text[:-1])


@pytest.mark.parametrize("target", TARGETS)
def test_cert_manager_resources_have_the_shape_cert_manager_reads(
    target: str, scratch: Path
) -> None:
    """A shape check in place of a schema: the fields cert-manager v1 requires, each
    Certificate signed by an Issuer of this installation, renewal before expiry."""
    resources = _render(target, scratch)
    issuers = {r["metadata"]["name"]: r["spec"] for r in kube.of_kind(resources, "Issuer")}
    for spec in issuers.values():
        assert len(spec) == 1
        assert spec.keys() <= {"selfSigned", "ca"}
        if "ca" in spec:
            assert spec["ca"].keys() == {"secretName"}
    certificates = list(kube.of_kind(resources, "Certificate"))
    assert {c["metadata"]["name"] for c in certificates} == {"p13n-ca"} | {
        f"p13n-{c}" for c in COMPONENTS
    }
    allowed = {
        "secretName",
        "duration",
        "renewBefore",
        "uris",
        "dnsNames",
        "usages",
        "privateKey",
        "issuerRef",
        "isCA",
        "commonName",
    }
    for certificate in certificates:
        spec = certificate["spec"]
        assert spec.keys() <= allowed, certificate["metadata"]["name"]
        assert spec["issuerRef"]["kind"] == "Issuer"
        assert spec["issuerRef"]["name"] in issuers
        assert spec["secretName"]
        assert spec.get("uris") or spec.get("dnsNames") or spec.get("commonName")
        assert spec["privateKey"]["algorithm"] in {"RSA", "ECDSA", "Ed25519"}
        if "renewBefore" in spec:
            assert _duration_hours(spec["renewBefore"]) < _duration_hours(spec["duration"])


@pytest.mark.parametrize("target", TARGETS)
def test_gateway_api_routes_lead_to_the_gateway_service(target: str, scratch: Path) -> None:
    """Gateway API resources (an exposure component) have no schema here: a Gateway names
    its class and listeners; each HTTPRoute names a parent and sends only to the gateway's
    data Service, on a port that Service has."""
    resources = _render(target, scratch)
    services = {s["metadata"]["name"]: s for s in kube.of_kind(resources, "Service")}
    for gateway in kube.of_kind(resources, "Gateway"):
        assert gateway["spec"]["gatewayClassName"], gateway["metadata"]["name"]
        for listener in gateway["spec"]["listeners"]:
            assert listener.keys() >= {"name", "port", "protocol"}
    for route in kube.of_kind(resources, "HTTPRoute"):
        spec = route["spec"]
        assert spec["parentRefs"], route["metadata"]["name"]
        for rule in spec["rules"]:
            for backend in rule["backendRefs"]:
                assert backend["name"] == "p13n-gateway"
                ports = {p["port"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"] in ports


# --- Pod Security "restricted" ----------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_is_admitted_by_pod_security_restricted(target: str, scratch: Path) -> None:
    for name, deployment in _deployments(_render(target, scratch)).items():
        assert restricted_violations(deployment["spec"]["template"]["spec"]) == [], name


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_runs_as_p13n_on_a_read_only_root(target: str, scratch: Path) -> None:
    for name, deployment in _deployments(_render(target, scratch)).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["securityContext"]["fsGroup"] == 10001, name
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name


# --- p13n's own rules for every pod -----------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_no_pod_gets_service_links_or_an_api_token(target: str, scratch: Path) -> None:
    """Service links put P13N_AUTH_PORT=tcp://... into every pod, which p13n's settings
    read as a port; p13n never calls the Kubernetes API, so it gets no token."""
    for name, deployment in _deployments(_render(target, scratch)).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("enableServiceLinks") is False, name
        assert pod.get("automountServiceAccountToken") is False, name


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_requests_and_limits_cpu_and_memory(target: str, scratch: Path) -> None:
    for name, deployment in _deployments(_render(target, scratch)).items():
        pod = deployment["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) >= {"cpu", "memory"}, (name, kind)


def _secrets_of(pod: Resource) -> set[str]:
    """Every Secret (and key) a pod can read: env, envFrom, volumes."""
    found = set()
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add(f"{ref['name']}/{ref['key']}")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.add(f"{source['secretRef']['name']}/*")
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            found.add(f"{volume['secret']['secretName']}/*")
        for projected in volume.get("projected", {}).get("sources", []):
            if "secret" in projected:
                found.add(f"{projected['secret']['name']}/*")
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_each_pod_reads_only_its_own_secrets(target: str, scratch: Path) -> None:
    database = {"p13n-database/url"} if target == "scale" else set()
    expected = {
        "auth": {"p13n-keys/internal-key", "p13n-keys/secret-key", "p13n-auth-tls/*"} | database,
        "profile": {"p13n-keys/internal-key", "p13n-profile-tls/*"} | database,
        "offers": {"p13n-keys/internal-key", "p13n-offers-tls/*"} | database,
        "gateway": {"p13n-gateway-tls/*"},
    }
    resources = _render(target, scratch)
    assert {c: _secrets_of(_pod(resources, c)) for c in COMPONENTS} == expected


@pytest.mark.parametrize("service", ["profile", "offers"])
def test_profile_and_offers_never_read_the_secret_key(service: str) -> None:
    """Why their pods get no P13N_SECRET_KEY: no module of theirs touches it (the
    settings read keys lazily, services/common/config.py, so one never used is never
    needed)."""
    for path in sorted((kube.ROOT / "services" / service).rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not names & {"secret_key", "SECRET_KEY"}, path


@pytest.mark.parametrize("target", TARGETS)
def test_deployments_carry_the_shared_labels(target: str, scratch: Path) -> None:
    for component in COMPONENTS:
        deployment = _deployments(_render(target, scratch))[f"p13n-{component}"]
        labels = {
            "app.kubernetes.io/name": f"p13n-{component}",
            "app.kubernetes.io/part-of": "p13n",
            "app.kubernetes.io/component": component,
        }
        assert deployment["metadata"]["labels"].items() >= labels.items(), component
        template = deployment["spec"]["template"]["metadata"]["labels"]
        assert template.items() >= labels.items(), component
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector == {"app.kubernetes.io/name": f"p13n-{component}"}


@pytest.mark.parametrize("target", TARGETS)
def test_configuration_changes_roll_the_pods(target: str, scratch: Path) -> None:
    """Every ConfigMap a pod reads is generated: its name carries a hash of its content
    and the pod template names it, so new content is a new template, which rolls."""
    resources = _render(target, scratch)
    generated = {
        c["metadata"]["name"]
        for c in kube.of_kind(resources, "ConfigMap")
        if re.fullmatch(r"p13n-[a-z-]+-[a-z0-9]{10}", c["metadata"]["name"])
    }
    read = set()
    for deployment in _deployments(resources).values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            read |= {
                s["configMapRef"]["name"]
                for s in container.get("envFrom", [])
                if "configMapRef" in s
            }
        read |= {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
    assert read
    assert read <= generated
    assert kube.named(resources, "ConfigMap", "p13n-targets")["data"] == {
        "P13N_AUTH_TARGET": "p13n-auth:50051",
        "P13N_PROFILE_TARGET": "p13n-profile:50052",
        "P13N_OFFERS_TARGET": "p13n-offers:50053",
    }


# --- the services: headless Services and probes -----------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", SERVICES)
def test_services_are_headless_with_only_their_grpc_port(
    target: str, service: str, scratch: Path
) -> None:
    """Headless: DNS answers every ready pod, so each client balances over all of them;
    not-ready pods stay out. The health port is the kubelet's alone."""
    spec = kube.named(_render(target, scratch), "Service", f"p13n-{service}")["spec"]
    assert spec["clusterIP"] == "None"
    assert spec.get("publishNotReadyAddresses", False) is False
    assert spec["selector"] == {"app.kubernetes.io/name": f"p13n-{service}"}
    assert spec["ports"] == [{"name": "grpc", "port": GRPC_PORTS[service], "targetPort": "grpc"}]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", SERVICES)
def test_probes_ask_the_health_port_by_name(target: str, service: str, scratch: Path) -> None:
    """Readiness and start-up follow p13n.<service> (NOT_SERVING while draining); liveness
    follows "" (SERVING until the process ends), so a draining pod is not killed."""
    container = _pod(_render(target, scratch), service)["containers"][0]
    assert int(_env(container)["P13N_HEALTH_PORT"]) == HEALTH_PORT
    assert {"name": "health", "containerPort": HEALTH_PORT} in container["ports"]
    named = {"port": HEALTH_PORT, "service": f"p13n.{service}"}
    assert container["startupProbe"]["grpc"] == named
    assert container["readinessProbe"]["grpc"] == named
    assert container["livenessProbe"]["grpc"] == {"port": HEALTH_PORT, "service": ""}
    # Five minutes for start-up (migrations on PostgreSQL) before liveness counts.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


# --- single: SQLite on a volume ---------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_single_keeps_each_database_on_its_own_volume(service: str, scratch: Path) -> None:
    resources = _render("single", scratch)
    deployment = _deployments(resources)[f"p13n-{service}"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    [data] = [v for v in pod["volumes"] if v["name"] == "data"]
    claim = kube.named(
        resources, "PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"]
    )
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "data"]
    # A subdirectory the service makes 0700, not the volume's root, which the kubelet gives
    # to the fsGroup (group-writable) and the service could not tighten; the group set once
    # (OnRootMismatch), so the kubelet never loosens the subdirectory again.
    data_dir = Path(_env(container)["P13N_DATA_DIR"])
    assert data_dir.parent == Path(mount["mountPath"]), data_dir
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    assert "P13N_DATABASE_URL" not in _env(container)


# --- scale: PostgreSQL, replicas, budgets, autoscalers ----------------------------------


def test_scale_keeps_nothing_on_the_pods() -> None:
    resources = kube.render("scale")
    assert not list(kube.of_kind(resources, "PersistentVolumeClaim"))
    for service in SERVICES:
        pod = _pod(resources, service)
        assert all("persistentVolumeClaim" not in v for v in pod["volumes"])
        assert _env(pod["containers"][0])["P13N_DATABASE_URL"] == {
            "secretKeyRef": {"name": "p13n-database", "key": "url"}
        }


@pytest.mark.parametrize("component", COMPONENTS)
def test_scale_runs_two_or_more_of_each_and_rolls_without_a_gap(component: str) -> None:
    resources = kube.render("scale")
    deployment = _deployments(resources)[f"p13n-{component}"]
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in kube.of_kind(resources, "HorizontalPodAutoscaler")
    }
    autoscaler = autoscalers.get(f"p13n-{component}")
    if autoscaler is None:
        assert deployment["spec"]["replicas"] >= 2
    else:
        # The autoscaler owns the count: a replicas field would reset it at every apply.
        assert "replicas" not in deployment["spec"]
        assert autoscaler["spec"]["minReplicas"] >= 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }


def test_scale_autoscales_the_gateway_profile_and_offers_on_cpu_but_not_auth() -> None:
    resources = kube.render("scale")
    autoscalers = {
        h["metadata"]["name"]: h["spec"] for h in kube.of_kind(resources, "HorizontalPodAutoscaler")
    }
    assert set(autoscalers) == {"p13n-gateway", "p13n-profile", "p13n-offers"}
    for name, spec in autoscalers.items():
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert spec["maxReplicas"] > spec["minReplicas"]
        [metric] = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"


def test_scale_tells_auth_how_many_replicas_share_its_limits() -> None:
    """Auth divides every rate limit by P13N_AUTH_REPLICAS: it must be the real count."""
    deployment = _deployments(kube.render("scale"))["p13n-auth"]
    env = _env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert int(env["P13N_AUTH_REPLICAS"]) == deployment["spec"]["replicas"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_scale_keeps_one_of_each_through_a_drain_on_separate_nodes(component: str) -> None:
    resources = kube.render("scale")
    deployment = _deployments(resources)[f"p13n-{component}"]
    selector = deployment["spec"]["selector"]
    budget = kube.named(resources, "PodDisruptionBudget", f"p13n-{component}")["spec"]
    assert budget == {"minAvailable": 1, "selector": selector}
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    [preferred] = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"] == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": selector,
    }


def _connections_needed() -> int:
    """PostgreSQL connections the scale overlay may open at most: every service at its
    largest count plus the one pod a rollout adds, each pod its pool and listeners."""
    resources = kube.render("scale")
    autoscalers = {
        h["metadata"]["name"]: h["spec"] for h in kube.of_kind(resources, "HorizontalPodAutoscaler")
    }
    deployments = _deployments(resources)
    total = 0
    for service in SERVICES:
        name = f"p13n-{service}"
        most = (
            autoscalers[name]["maxReplicas"]
            if name in autoscalers
            else deployments[name]["spec"]["replicas"]
        )
        surge = deployments[name]["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        total += (most + surge) * PER_PROCESS[service]
    return total


def test_the_readme_states_the_connection_budget_of_the_scale_overlay() -> None:
    readme = (kube.DEPLOY / "README.md").read_text()
    stated = re.search(r"at most \*\*(\d+)\*\* PostgreSQL connections", readme)
    assert stated, "deploy/README.md: state the scale overlay's connection budget"
    assert int(stated.group(1)) == _connections_needed()


# --- NetworkPolicies ---------------------------------------------------------------------

# client -> server, from the channels each service opens (services/*/server.py) and the
# gateway's clusters; the servers' CALLERS tables allow the same.
CALLS = {
    ("gateway", "auth"),
    ("gateway", "profile"),
    ("gateway", "offers"),
    ("auth", "profile"),
    ("auth", "offers"),
    ("profile", "auth"),
    ("profile", "offers"),
    ("offers", "profile"),
}
OUTSIDE = Endpoint("outside", namespace=None, labels={})
ELSEWHERE = Endpoint("elsewhere", namespace="other", labels={"app": "anything"})
STRANGER = Endpoint("stranger", namespace="p13n", labels={"app": "stranger"})
KUBE_DNS = Endpoint(
    "kube-dns",
    namespace="kube-system",
    labels={"k8s-app": "kube-dns"},
    ports=(("UDP", 53), ("TCP", 53)),
)
POSTGRESQL = Endpoint(
    "postgresql",
    namespace="databases",
    labels={"app.kubernetes.io/name": "postgresql"},
    ports=(("TCP", 5432),),
)


def _pods(resources: list[Resource]) -> list[Endpoint]:
    pods = []
    for deployment in _deployments(resources).values():
        template = deployment["spec"]["template"]
        ports = tuple(
            (p.get("protocol", "TCP"), p["containerPort"])
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        )
        component = deployment["metadata"]["name"].removeprefix("p13n-")
        pods.append(
            Endpoint(
                component, namespace="p13n", labels=template["metadata"]["labels"], ports=ports
            )
        )
    return pods


def _expected_edges(target: str) -> set[tuple[str, str, str, int]]:
    edges = {(client, server, "TCP", GRPC_PORTS[server]) for client, server in CALLS}
    # The public door, from anywhere outside the namespace (browsers, load balancers);
    # behind the Gateway API only from its proxy's namespace, a placeholder until the user
    # names it (test_behind_the_gateway_api_only_its_proxy_reaches_the_data_listener).
    if not target.endswith("+gateway-api"):
        outsiders = ("outside", "elsewhere", "kube-dns", "postgresql")
        edges |= {(source, "gateway", "TCP", 8080) for source in outsiders}
    edges |= {(c, "kube-dns", protocol, 53) for c in COMPONENTS for protocol in ("UDP", "TCP")}
    if target == "scale":
        edges |= {(s, "postgresql", "TCP", 5432) for s in SERVICES}
    return edges


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_allow_exactly_the_calls_the_services_make(
    target: str, scratch: Path
) -> None:
    """Every connection between p13n's pods, a stranger pod in the namespace, a pod in
    another namespace, an outside address, DNS and PostgreSQL, judged by the rendered
    policies: what is open is exactly the call graph, the gateway's data port, DNS, and
    (scale) PostgreSQL. The admin API (8081), the probe and health ports stay closed."""
    resources = _render(target, scratch)
    policies = list(kube.of_kind(resources, "NetworkPolicy"))
    endpoints = [*_pods(resources), OUTSIDE, ELSEWHERE, STRANGER, KUBE_DNS, POSTGRESQL]
    assert allowed_edges(policies, endpoints, namespace="p13n") == _expected_edges(target)


# The documented way to name the Gateway's proxy namespace (the gateway-api component's
# kustomization.yaml and deploy/README.md): a JSON patch of this path.
PROXY_NAMESPACE_PATH = (
    "/spec/ingress/0/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name"
)


def _single_with_gateway_api(directory: Path, proxy_namespace: str | None) -> list[Resource]:
    """single + the gateway-api component, as a user's overlay, with the proxy namespace
    patched in as documented (None: left as the component ships it)."""
    directory.mkdir()
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(kube.DEPLOY / "overlays" / "single", directory)],
        "components": [os.path.relpath(kube.DEPLOY / "components" / "gateway-api", directory)],
    }
    if proxy_namespace is not None:
        patch = [{"op": "replace", "path": PROXY_NAMESPACE_PATH, "value": proxy_namespace}]
        kustomization["patches"] = [
            {
                "target": {"kind": "NetworkPolicy", "name": "p13n-gateway"},
                "patch": yaml.safe_dump(patch),
            }
        ]
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    rendered = subprocess.run(
        [kube.kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def test_behind_the_gateway_api_only_its_proxy_reaches_the_data_listener(
    tmp_path: Path, scratch: Path
) -> None:
    """With one trusted hop, a pod reaching 8080 directly could choose its client address
    with X-Forwarded-For: the component admits only the proxy's namespace, once the user
    names it (a placeholder matching none until then); without the component any pod
    reaches 8080 (there Envoy trusts no hop, so it cannot choose its address)."""
    proxy = Endpoint("proxy", namespace="envoy-gateway-system", labels={"app": "envoy"})
    gateway_data = "gateway", "TCP", 8080

    def reaching_8080(resources: list[Resource]) -> set[str]:
        policies = list(kube.of_kind(resources, "NetworkPolicy"))
        endpoints = [*_pods(resources), proxy, OUTSIDE, ELSEWHERE, STRANGER]
        edges = allowed_edges(policies, endpoints, namespace="p13n")
        return {client for client, *server in edges if tuple(server) == gateway_data}

    assert reaching_8080(_render("single", scratch)) == {"proxy", "outside", "elsewhere"}
    assert reaching_8080(_single_with_gateway_api(tmp_path / "as-shipped", None)) == set()
    named = _single_with_gateway_api(tmp_path / "named", "envoy-gateway-system")
    assert reaching_8080(named) == {"proxy"}
    # The patch this test applies is the one the documentation gives.
    component = (kube.DEPLOY / "components" / "gateway-api" / "kustomization.yaml").read_text()
    assert PROXY_NAMESPACE_PATH in component
    assert PROXY_NAMESPACE_PATH in (kube.DEPLOY / "README.md").read_text()


def test_behind_the_gateway_api_the_data_port_speaks_h2c(scratch: Path) -> None:
    """The Gateway's proxy opens HTTP/2 to Envoy (which accepts h2c on the data listener),
    so native gRPC calls pass the route; strict validation (above) accepts the field."""
    resources = _render("single+gateway-api", scratch)
    ports = kube.named(resources, "Service", "p13n-gateway")["spec"]["ports"]
    assert ports == [
        {"name": "data", "port": 80, "targetPort": "data", "appProtocol": "kubernetes.io/h2c"}
    ]
    plain = kube.named(_render("single", scratch), "Service", "p13n-gateway")["spec"]["ports"]
    assert "appProtocol" not in plain[0]


def test_the_network_policy_judge_can_see_an_opening(scratch: Path) -> None:
    """The check above can fail: a policy letting everyone into auth shows up."""
    resources = _render("single", scratch)
    policies = [
        *kube.of_kind(resources, "NetworkPolicy"),
        {
            "kind": "NetworkPolicy",
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "p13n-auth"}},
                "policyTypes": ["Ingress"],
                "ingress": [{}],
            },
        },
    ]
    endpoints = [*_pods(resources), OUTSIDE, STRANGER]
    edges = allowed_edges(policies, endpoints, namespace="p13n")
    assert ("outside", "auth", "TCP", 50051) in edges
    assert ("outside", "auth", "TCP", HEALTH_PORT) in edges
    assert ("stranger", "auth", "TCP", 50051) not in edges  # its own egress is still denied


def test_calls_match_the_channels_the_services_open() -> None:
    """CALLS above is read from the code: each service's server.py opens a channel to
    exactly the services it lists (``channels.get(settings.<name>_target, ...)``)."""
    found = set()
    for service in SERVICES:
        source = (kube.ROOT / "services" / service / "server.py").read_text()
        found |= {(service, target) for target in re.findall(r"settings\.(\w+)_target", source)}
    assert found == {(c, s) for c, s in CALLS if c != "gateway"}
