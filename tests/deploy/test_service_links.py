"""The kubelet's service-link variables against the services' configuration (issue 18, 1).

By default the kubelet gives every container ``<SERVICE>_PORT=tcp://<cluster ip>:<port>``
and friends for each Service of its namespace that has a cluster IP. A Service named
``p13n-auth`` makes ``P13N_AUTH_PORT``, which p13n reads as a port number: the manifests
as issue 18 found them (tests/deploy/issue18_found_single.yaml) crashed every service at start, and
``p13n bootstrap`` with them. Here each pod's environment is generated from the
manifests with the kubelet's rules (support.kubelet_env) and given to the very command
the container runs; the fix is ``enableServiceLinks: false`` in every pod, and parsing
that names the variable it refuses.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from support import kube
from support.cluster_image import VENV_BIN, load
from support.cluster_secrets import operator_keys
from support.kubelet_env import Objects, Pod, container_argv, container_environment, has_cluster_ip

from services.common.config import ConfigError, Settings

# deploy/overlays/single as issue 18 found it (commit dfc96296), rendered and kept beside
# this file: no git history needed.
FOUND = Path(__file__).with_name("issue18_found_single.yaml")


def found_by_the_issue() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(FOUND.read_text()) if d]


def containers(
    resources: list[dict[str, Any]], *, links: bool | None
) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """(deployment, argv, environment) of every container, as the kubelet would start it
    (``links`` overrides each pod's ``enableServiceLinks``)."""
    cluster_ips = {
        s["metadata"]["name"]: f"198.19.0.{10 + i}"
        for i, s in enumerate(kube.of_kind(resources, "Service"))
        if has_cluster_ip(s)
    }
    objects = Objects.from_resources([*resources, operator_keys()], cluster_ips)
    for index, deployment in enumerate(kube.of_kind(resources, "Deployment")):
        template = deployment["spec"]["template"]
        pod = Pod(
            name=f"{deployment['metadata']['name']}-5d8f9c7b6d-x2x4k",
            namespace="p13n",
            ip=f"198.18.1.{10 + index}",
            node_ip="198.18.0.1",
            labels=template["metadata"].get("labels") or {},
            annotations=template["metadata"].get("annotations") or {},
            spec=template["spec"],
        )
        for container in template["spec"]["containers"]:
            image = load(container["image"])
            env = container_environment(
                pod, container, objects, image_env=image.runtime_env(VENV_BIN), links=links
            )
            argv = container_argv(container, env, image.entrypoint, image.cmd)
            yield deployment["metadata"]["name"], argv, env


def _python_services(resources: list[dict[str, Any]], links: bool | None) -> list[Any]:
    return [
        (name, argv, env)
        for name, argv, env in containers(resources, links=links)
        if argv[:2] == ["python", "-m"]
    ]


def test_todays_service_links_crash_every_service_and_bootstrap(tmp_path: Path) -> None:
    issue = found_by_the_issue()
    services = _python_services(issue, links=None)
    assert {name for name, _, _ in services} == {"p13n-auth", "p13n-profile", "p13n-offers"}
    for name, argv, env in services:
        assert env["P13N_AUTH_PORT"].startswith("tcp://"), name
        # The container's own command with the kubelet's environment: it exits at start.
        done = subprocess.run(
            argv, env=env, cwd=kube.ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (name, done.returncode, done.stderr)
        assert "P13N_AUTH_PORT='tcp://" in done.stderr, done.stderr
    # `kubectl exec deploy/p13n-auth -- p13n bootstrap ...` inherits the same environment.
    (auth_env,) = [env for name, _, env in services if name == "p13n-auth"]
    done = subprocess.run(
        ["p13n", "bootstrap", "--email", "a@b.example", "--password", "x" * 12, "--account", "A"],
        env=auth_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "P13N_AUTH_PORT" in done.stderr, done.stderr


def test_with_service_links_every_refused_variable_is_named() -> None:
    # The manifests as they are, if a pod forgot enableServiceLinks: false. Whatever a
    # Service's variables collide with is refused by name, never misread.
    for name, _, env in _python_services(kube.render("single"), links=True):
        try:
            Settings.from_env(env)
            continue
        except ConfigError as error:
            message = str(error)
        named = [v for v in env if v in message and v.startswith("P13N_")]
        assert named, (name, message)


def test_every_pod_turns_service_links_off_and_its_environment_parses() -> None:
    resources = kube.render("single")
    for deployment in kube.of_kind(resources, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        assert spec.get("enableServiceLinks") is False, deployment["metadata"]["name"]
    for name, _, env in _python_services(resources, links=None):
        linked = [v for v in env if v.startswith("P13N_") and v.endswith("_SERVICE_HOST")]
        assert not linked, (name, linked)
        Settings.from_env(env)  # raises ConfigError, naming the variable, if not


# -- the kubelet's rules themselves (support.kubelet_env), on small hand-made objects --------


def _pod(spec: dict[str, Any] | None = None) -> Pod:
    return Pod("web-1", "shop", "198.18.1.9", "198.18.0.1", {"app": "web"}, {}, spec or {})


REDIS = {
    "kind": "Service",
    "metadata": {"name": "redis-primary"},
    "spec": {
        "ports": [{"name": "redis", "port": 6379}, {"name": "metrics", "port": 9121}],
    },
}
HEADLESS = {
    "kind": "Service",
    "metadata": {"name": "db"},
    "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
}


def test_service_variables_follow_the_kubelet() -> None:
    objects = Objects.from_resources([REDIS, HEADLESS], {"redis-primary": "198.19.0.20"})
    env = container_environment(_pod(), {"name": "c"}, objects)
    assert {k: v for k, v in env.items() if k.startswith("REDIS_PRIMARY")} == {
        "REDIS_PRIMARY_SERVICE_HOST": "198.19.0.20",
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_REDIS": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_METRICS": "9121",
        "REDIS_PRIMARY_PORT": "tcp://198.19.0.20:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": "tcp://198.19.0.20:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "198.19.0.20",
        "REDIS_PRIMARY_PORT_9121_TCP": "tcp://198.19.0.20:9121",
        "REDIS_PRIMARY_PORT_9121_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_9121_TCP_PORT": "9121",
        "REDIS_PRIMARY_PORT_9121_TCP_ADDR": "198.19.0.20",
    }
    # A headless Service has no cluster IP: no variables.
    assert not any(k.startswith("DB_") for k in env)
    assert env["HOSTNAME"] == "web-1"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"


def test_links_off_leaves_only_the_api_servers_variables() -> None:
    objects = Objects.from_resources([REDIS], {"redis-primary": "198.19.0.20"})
    env = container_environment(_pod({"enableServiceLinks": False}), {"name": "c"}, objects)
    assert {k.split("_")[0] for k in env if k != "HOSTNAME"} == {"KUBERNETES"}


def test_defined_variables_win_and_expand_in_order() -> None:
    objects = Objects.from_resources(
        [REDIS, {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"A": "1", "b-c": "x"}}],
        {"redis-primary": "198.19.0.20"},
    )
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "REDIS_PRIMARY_PORT", "value": "6379"},
            {"name": "URL", "value": "redis://$(REDIS_PRIMARY_SERVICE_HOST):$(REDIS_PRIMARY_PORT)"},
            {"name": "LATER", "value": "$(CM_A)-$(UNKNOWN)-$$(CM_A)"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
        "resources": {"limits": {"cpu": "1500m"}},
        "command": ["run", "--on=$(IP)"],
    }
    env = container_environment(_pod(), container, objects)
    assert env["REDIS_PRIMARY_PORT"] == "6379"  # the pod's own value, not the link's
    assert env["URL"] == "redis://198.19.0.20:6379"
    assert env["LATER"] == "1-$(UNKNOWN)-$(CM_A)"
    assert "CM_b-c" not in env  # not a variable name: skipped
    assert env["IP"] == "198.18.1.9"
    assert env["CPU"] == "2"  # rounded up
    assert container_argv(container, env) == ["run", "--on=198.18.1.9"]
