"""A container's environment as the kubelet builds it, from the rendered manifests.

The rules follow the kubelet (pkg/kubelet/kubelet_pods.go ``makeEnvironmentVariables``,
pkg/kubelet/envvars/envvars.go): ``envFrom`` first (a ConfigMap's or Secret's keys, with
their prefix), then ``env`` in order, each ``$(VAR)`` expanded from what is defined so far
and from the service variables; then the service-link variables of every Service of the
pod's namespace that has a cluster IP (headless Services have none and give nothing) unless
``enableServiceLinks: false``, plus those of the API server's ``kubernetes`` Service, which
every pod gets; a variable the pod defines itself wins over a service variable. The
container runtime starts from the image's ``ENV`` and adds ``HOSTNAME`` (the pod's name).
``command`` and ``args`` expand ``$(VAR)`` from the final environment.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The API server's Service in the default namespace: 10.96.0.1 is kubeadm's default, but
# this harness keeps every address in 198.18.0.0/15 (a benchmarking range, never routed).
API_SERVER_IP = "198.19.0.1"
API_SERVER_PORT = 443


@dataclass(frozen=True)
class Pod:
    """What the environment of one of a pod's containers depends on."""

    name: str
    namespace: str
    ip: str
    node_ip: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]
    uid: str = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Objects:
    """The namespace's ConfigMaps, Secrets and Services (with the cluster IPs they got)."""

    config_maps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    services: Iterable[Mapping[str, Any]] = ()
    cluster_ips: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_resources(
        cls, resources: Iterable[Mapping[str, Any]], cluster_ips: Mapping[str, str] | None = None
    ) -> Objects:
        resources = list(resources)
        return cls(
            config_maps={r["metadata"]["name"]: r for r in resources if r["kind"] == "ConfigMap"},
            secrets={r["metadata"]["name"]: r for r in resources if r["kind"] == "Secret"},
            services=[r for r in resources if r["kind"] == "Service"],
            cluster_ips=dict(cluster_ips or {}),
        )


class EnvError(Exception):
    """The kubelet would refuse to start the container (CreateContainerConfigError)."""


def config_map_data(config_map: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a ConfigMap as bytes: ``data`` as UTF-8, ``binaryData`` decoded."""
    data = {k: str(v).encode() for k, v in (config_map.get("data") or {}).items()}
    for key, value in (config_map.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a Secret as bytes: ``data`` base64-decoded, ``stringData`` as UTF-8."""
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = str(value).encode()
    return data


def env_name(name: str) -> str:
    """envvars.go makeEnvVariableName: upper case, dashes to underscores."""
    return name.upper().replace("-", "_")


def service_variables(service: Mapping[str, Any], cluster_ip: str) -> dict[str, str]:
    """envvars.go FromServices for one Service: the ``_SERVICE_HOST``/``_SERVICE_PORT``
    variables and the Docker-link ones (``_PORT``, ``_PORT_<port>_<PROTO>...``)."""
    prefix = env_name(service["metadata"]["name"])
    ports = service["spec"]["ports"]
    out = {
        f"{prefix}_SERVICE_HOST": cluster_ip,
        f"{prefix}_SERVICE_PORT": str(ports[0]["port"]),
    }
    for port in ports:
        if port.get("name"):
            out[f"{prefix}_SERVICE_PORT_{env_name(port['name'])}"] = str(port["port"])
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        url = f"{protocol.lower()}://{cluster_ip}:{port['port']}"
        if index == 0:
            out[f"{prefix}_PORT"] = url
        each = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        out[each] = url
        out[f"{each}_PROTO"] = protocol.lower()
        out[f"{each}_PORT"] = str(port["port"])
        out[f"{each}_ADDR"] = cluster_ip
    return out


def has_cluster_ip(service: Mapping[str, Any]) -> bool:
    """v1helper.IsServiceIPSet: a cluster IP that is neither empty nor ``None``."""
    return (
        service["spec"].get("clusterIP") not in ("None",)
        and service["spec"].get("type", "ClusterIP") != "ExternalName"
    )


API_SERVER_SERVICE: Mapping[str, Any] = {
    "metadata": {"name": "kubernetes", "namespace": "default"},
    "spec": {"ports": [{"name": "https", "port": API_SERVER_PORT, "protocol": "TCP"}]},
}


def service_environment(pod: Pod, objects: Objects, *, links: bool | None = None) -> dict[str, str]:
    """kubelet getServiceEnvVarMap: the API server's Service always; the namespace's
    Services with a cluster IP when service links are on (``links`` overrides the pod)."""
    enabled = pod.spec.get("enableServiceLinks", True) if links is None else links
    out = service_variables(API_SERVER_SERVICE, API_SERVER_IP)
    if enabled:
        for service in objects.services:
            if has_cluster_ip(service):
                name = service["metadata"]["name"]
                if name not in objects.cluster_ips:
                    raise EnvError(f"Service {name} has no cluster IP in this harness")
                out.update(service_variables(service, objects.cluster_ips[name]))
    return out


_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


def expand(value: str, lookup: Callable[[str], str | None]) -> str:
    """third_party/forked/golang/expansion: ``$(VAR)`` from ``lookup``, ``$$`` a dollar,
    an unknown reference left as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        found = lookup(match.group(1))
        return match.group(0) if found is None else found

    return _REFERENCE.sub(replace, value)


def _quantity(text: str | int | float) -> Decimal:
    """A Kubernetes resource quantity (``500m``, ``256Mi``, ``1e3``) as a number."""
    raw = str(text)
    suffixes: dict[str, Decimal | int] = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
        "n": Decimal("1e-9"),
        "u": Decimal("1e-6"),
        "m": Decimal("1e-3"),
        "k": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
        "P": 10**15,
        "E": 10**18,
    }
    for suffix, factor in suffixes.items():
        if raw.endswith(suffix):
            return Decimal(raw[: -len(suffix)]) * Decimal(factor)
    return Decimal(raw)


def _node_allocatable(resource: str) -> Decimal:
    """What a missing limit falls back to: the node's capacity (this machine's)."""
    if resource.endswith("cpu"):
        return Decimal(os.cpu_count() or 1)
    if resource.endswith("memory"):
        with open("/proc/meminfo") as meminfo:
            total_kib = next(
                int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")
            )
        return Decimal(total_kib * 1024)
    raise EnvError(f"resourceFieldRef {resource!r} is not supported by this harness")


def resource_field(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """The downward API's resourceFieldRef: the limit or request divided by ``divisor``,
    rounded up (resource.ExtractContainerResourceValue)."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    value = (container.get("resources") or {}).get(kind, {}).get(name)
    if value is None and kind == "requests":
        value = (container.get("resources") or {}).get("limits", {}).get(name)
    amount = _quantity(value) if value is not None else _node_allocatable(resource)
    divisor = _quantity(ref.get("divisor", "1"))
    return str(math.ceil(amount / divisor))


def field_ref(pod: Pod, path: str) -> str:
    """The downward API's fieldRef for the paths a container's env may name."""
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": "p13n-node",
        "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
        "status.hostIP": pod.node_ip,
        "status.hostIPs": pod.node_ip,
        "status.podIP": pod.ip,
        "status.podIPs": pod.ip,
    }
    if path in simple:
        return str(simple[path])
    keyed = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if keyed:
        source = pod.labels if keyed.group(1) == "labels" else pod.annotations
        return source.get(keyed.group(2), "")
    raise EnvError(f"fieldRef {path!r} is not one the kubelet resolves for env")


def _value_from(
    pod: Pod, container: Mapping[str, Any], objects: Objects, source: Mapping[str, Any]
) -> str | None:
    """One ``valueFrom``; None when an optional reference is missing (the variable is
    then left out, as the kubelet does)."""
    if "fieldRef" in source:
        return field_ref(pod, source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        named = ref.get("containerName")
        if named and named != container.get("name"):
            container = next(c for c in pod.spec["containers"] if c["name"] == named)
        return resource_field(container, ref)
    for kind, store, read in (
        ("configMapKeyRef", objects.config_maps, config_map_data),
        ("secretKeyRef", objects.secrets, secret_data),
    ):
        if kind in source:
            ref = source[kind]
            found = store.get(ref["name"])
            data = read(found) if found is not None else None
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                what = "key " + ref["key"] if data is not None else "object"
                raise EnvError(f"{kind} {ref['name']}: {what} not found")
            return data[ref["key"]].decode()
    raise EnvError(f"valueFrom {dict(source)!r} is not supported by this harness")


_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_from(entry: Mapping[str, Any], objects: Objects) -> dict[str, str]:
    prefix = entry.get("prefix", "")
    for kind, store, read in (
        ("configMapRef", objects.config_maps, config_map_data),
        ("secretRef", objects.secrets, secret_data),
    ):
        if kind in entry:
            ref = entry[kind]
            found = store.get(ref["name"])
            if found is None:
                if ref.get("optional"):
                    return {}
                raise EnvError(f"envFrom {kind} {ref['name']}: not found")
            # Keys that are no valid variable name are skipped (an event, not a failure).
            return {
                prefix + k: v.decode()
                for k, v in read(found).items()
                if _C_IDENTIFIER.fullmatch(prefix + k)
            }
    raise EnvError(f"envFrom {dict(entry)!r} is not supported by this harness")


def container_environment(
    pod: Pod,
    container: Mapping[str, Any],
    objects: Objects,
    *,
    image_env: Mapping[str, str] | None = None,
    links: bool | None = None,
) -> dict[str, str]:
    """The environment the container's process starts with."""
    services = service_environment(pod, objects, links=links)
    defined: dict[str, str] = {}
    for entry in container.get("envFrom") or ():
        defined.update(_env_from(entry, objects))

    def lookup(name: str) -> str | None:
        return defined.get(name, services.get(name))

    for variable in container.get("env") or ():
        if "valueFrom" in variable:
            value = _value_from(pod, container, objects, variable["valueFrom"])
            if value is None:
                continue
        else:
            value = expand(str(variable.get("value", "")), lookup)
        defined[variable["name"]] = value
    for name, value in services.items():
        defined.setdefault(name, value)
    return {**(image_env or {}), "HOSTNAME": pod.name, **defined}


def container_argv(
    container: Mapping[str, Any],
    env: Mapping[str, str],
    entrypoint: Iterable[str] = (),
    cmd: Iterable[str] = (),
) -> list[str]:
    """What the container runs: ``command`` (else the image's ENTRYPOINT) then ``args``
    (else, when ``command`` is not given either, the image's CMD); ``$(VAR)`` in the
    manifest's words expanded from the final environment, the image's words as they are."""
    command = [expand(str(word), env.get) for word in container.get("command") or ()]
    args = [expand(str(word), env.get) for word in container.get("args") or ()]
    # Without a command, the image's entrypoint; its CMD only when args are not given.
    image_args = args if container.get("args") is not None else list(cmd)
    argv = [*command, *args] if command else [*entrypoint, *image_args]
    if not argv:
        raise EnvError(
            f"container {container['name']}: neither the manifest nor the image says what to run"
        )
    return argv
