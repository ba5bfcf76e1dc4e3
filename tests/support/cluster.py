"""A simulated Kubernetes cluster: an overlay's Deployments run pod by pod on this machine.

Input is the rendered overlay (support.kube), read generically: each Deployment's pods
run exactly their containers' command and environment (support.kubelet_env) with their
volumes (support.cluster_volumes) as the user their security contexts name
(support.cluster_pod), each pod in its own network namespace on a bridge
(support.cluster_net), its firewall derived from the NetworkPolicies
(support.cluster_policy). The harness stands in for the rest of Kubernetes:

- cert-manager and the operator: the TLS Secrets and ``p13n-keys`` (support.cluster_secrets);
- the scheduler and the ReplicaSet controller: ``replicas`` pods per Deployment, named
  ``<deployment>-<template hash>-<suffix>``, a new pod (new name, new address) to replace
  a deleted one, on the same PersistentVolumeClaim directories;
- the kubelet: startup and readiness probes (gRPC, httpGet, tcpSocket, exec) from the
  node's address, polled when the test waits for readiness (not on a timer; liveness is
  not enforced), ``preStop`` hooks, SIGTERM and SIGKILL after the grace period on delete;
- the endpoints controller and CoreDNS: a DNS server in a ``kube-system`` pod labelled
  ``k8s-app: kube-dns`` (support.cluster_dns), which every pod's resolv.conf names with
  the namespace's search path; a headless Service's name resolves to each ready pod's
  address, a ClusterIP Service's to a virtual address in 198.19.0.0/16 that each pod's own
  nat table sends (DNAT, one rule per ready endpoint, chosen at random as kube-proxy does)
  to a ready pod's target port. The hosts file is the kubelet's (localhost, the pod's own
  name): Envoy's resolver reads /etc/hosts once, so names whose addresses change (a
  restarted pod gets a new one) must come from DNS, as in a cluster. The test's own
  clients on the node connect to pod addresses, as ``kubectl port-forward`` and a
  LoadBalancer's health-checked backends do; the machine's own firewall is never touched.

Everything a run makes carries the run's id (namespaces ``p13nk-<id>-<pod>``, the bridge
``p13nk<id>``, state under /run/p13n-cluster/<id>) and ``down`` removes it; ``reap``
removes what a killed run left.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import (
    cluster_dns,
    cluster_image,
    cluster_net,
    cluster_policy,
    cluster_secrets,
    cluster_volumes,
)
from support.cluster_pod import Identity, Mount, script
from support.kubelet_env import Objects, Pod, container_argv, container_environment, has_cluster_ip

CLUSTER_DOMAIN = "cluster.local"
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes' names use


def _suffix(n: int, seed: bytes | None = None) -> str:
    data = hashlib.sha256(seed).digest() if seed is not None else secrets.token_bytes(n)
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in data[:n])


class PodFailed(RuntimeError):
    """A pod's container exited or never became ready; the message holds its log's tail."""


@dataclass
class Container:
    name: str
    spec: Mapping[str, Any]
    image: cluster_image.Image
    env: dict[str, str]
    argv: list[str]
    identity: Identity
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class RunningPod:
    name: str
    deployment: str
    netns: str
    ip: str
    labels: dict[str, str]
    spec: Mapping[str, Any]
    directory: Path
    containers: list[Container] = field(default_factory=list)
    ready: bool = False
    started: bool = False
    namespace: str | None = None  # another namespace than the cluster's (a stranger)
    failing: str = ""  # the probe that failed last, while not ready

    def container(self, name: str | None = None) -> Container:
        if name is None:
            return self.containers[0]
        return next(c for c in self.containers if c.name == name)

    def named_ports(self) -> dict[str, tuple[int, str]]:
        return {
            port["name"]: (int(port["containerPort"]), port.get("protocol", "TCP"))
            for container in self.spec["containers"]
            for port in container.get("ports") or ()
            if port.get("name")
        }

    def port(self, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        return self.named_ports()[str(port)][0]


P = ParamSpec("P")
R = TypeVar("R")


def _with_kubelet_umask(method: Callable[P, R]) -> Callable[P, R]:
    """Runs ``method`` under the kubelet's and the container runtime's umask (022).

    Volumes and pods are made by this test process, whose umask a test that ran the CLI
    in-process may have left at 077 (``files.restrict_umask``): the volume directories
    would then be 0700 root and closed to the pod's user.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        previous = os.umask(0o022)
        try:
            return method(*args, **kwargs)
        finally:
            os.umask(previous)

    return wrapper


class Cluster:
    """One namespace of the simulated cluster; ``up``/``down`` around its use."""

    def __init__(
        self,
        resources: Sequence[Mapping[str, Any]],
        namespace: str = "p13n",
        probe_timeout: float = 1.0,
    ) -> None:
        self.namespace = namespace
        self.resources = [dict(r) for r in resources]
        self.run_id = secrets.token_hex(3)
        self.state = cluster_net.STATE_ROOT / self.run_id
        self.network = cluster_net.Network(self.run_id)
        self.pods: list[RunningPod] = []
        self.strangers: list[RunningPod] = []
        self.probe_timeout = probe_timeout
        self.firewall_enabled = True
        self._pod_ips = cluster_net.addresses("198.18.1.1")
        self._cluster_ips = cluster_net.addresses("198.19.0.10")
        self._made_dirs: list[Path] = []
        self.objects = Objects()
        self._dns_process: subprocess.Popen[bytes] | None = None
        self.dns: RunningPod | None = None

    # -- the life of the cluster ------------------------------------------------------

    @_with_kubelet_umask
    def up(self) -> None:
        cluster_net.reap()
        self.state.mkdir(parents=True)
        (self.state / "owner").write_text(str(os.getpid()))
        secrets_made = [
            *cluster_secrets.cert_manager(self.resources, self.state / "ca"),
            cluster_secrets.operator_keys(),
        ]
        self.resources += secrets_made
        cluster_ips = {
            s["metadata"]["name"]: next(self._cluster_ips)
            for s in self.of_kind("Service")
            if has_cluster_ip(s)
        }
        self.objects = Objects.from_resources(self.resources, cluster_ips)
        cluster_image.make_bin_dir(self.state / "image-bin")
        self.network.create_bridge()
        self._start_dns()
        for deployment in self.of_kind("Deployment"):
            for _ in range(int(deployment["spec"].get("replicas", 1))):
                self.start_pod(deployment["metadata"]["name"])
        self.refresh()

    def _start_dns(self) -> None:
        """The cluster DNS: a pod in kube-system labelled as CoreDNS's are (what the
        NetworkPolicies' DNS rules name), serving the records ``refresh_endpoints`` writes."""
        self.dns = self.add_stranger("kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system")
        self._write_dns_records()
        server = Path(cluster_dns.__file__)
        log = self.state / "dns.log"
        with log.open("ab") as out:
            self._dns_process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.dns.netns,
                    sys.executable,
                    str(server),
                    str(self.state / "dns.json"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def down(self) -> None:
        """Kills every process, removes namespaces, bridge, mount points and state."""
        if self._dns_process is not None:
            self._dns_process.kill()
            self._dns_process.wait()
        for pod in [*self.pods, *self.strangers]:
            self._kill(pod, signal.SIGKILL)
        self.network.remove()
        cluster_net.release_dirs(self._made_dirs, self.run_id)
        shutil.rmtree(self.state, ignore_errors=True)
        with contextlib.suppress(OSError):
            cluster_net.STATE_ROOT.rmdir()  # only when no other run is using it

    def of_kind(self, kind: str) -> Iterator[dict[str, Any]]:
        return (r for r in self.resources if r["kind"] == kind)

    def deployment(self, name: str) -> dict[str, Any]:
        return next(d for d in self.of_kind("Deployment") if d["metadata"]["name"] == name)

    # -- pods ----------------------------------------------------------------------

    @_with_kubelet_umask
    def start_pod(self, deployment_name: str) -> RunningPod:
        """A new pod of the Deployment, as its ReplicaSet would create it."""
        template = self.deployment(deployment_name)["spec"]["template"]
        template_hash = _suffix(10, repr(template).encode())
        name = f"{deployment_name}-{template_hash}-{_suffix(5)}"
        labels = {**(template["metadata"].get("labels") or {}), "pod-template-hash": template_hash}
        ip = next(self._pod_ips)
        netns = self.network.add_namespace(name, ip)
        pod = RunningPod(
            name, deployment_name, netns, ip, labels, template["spec"], self.state / "pods" / name
        )
        pod.directory.mkdir(parents=True)
        self.pods.append(pod)
        self._write_name_files(pod)
        self._apply_firewalls()
        mounts_by_volume = self._volumes(pod)
        for spec in [*(pod.spec.get("initContainers") or ()), *pod.spec["containers"]]:
            container = self._container(pod, spec, template)
            pod.containers.append(container)
            self._launch(pod, container, mounts_by_volume)
            if spec in (pod.spec.get("initContainers") or ()):
                assert container.process is not None
                if container.process.wait(timeout=120) != 0:
                    raise PodFailed(
                        f"{pod.name}: init container {container.name} failed:\n{container.log_tail()}"
                    )
        pod.containers = [c for c in pod.containers if c.spec in pod.spec["containers"]]
        return pod

    def _container(
        self, pod: RunningPod, spec: Mapping[str, Any], template: Mapping[str, Any]
    ) -> Container:
        image = cluster_image.load(spec["image"])
        identity = Identity.of(pod.spec, spec, image)
        kubelet_pod = Pod(
            name=pod.name,
            namespace=self.namespace,
            ip=pod.ip,
            node_ip=cluster_net.NODE_IP,
            labels=pod.labels,
            annotations=template["metadata"].get("annotations") or {},
            spec=pod.spec,
        )
        env = container_environment(
            kubelet_pod, spec, self.objects, image_env=image.runtime_env(self.state / "image-bin")
        )
        argv = container_argv(spec, env, image.entrypoint, image.cmd)
        return Container(
            spec["name"], spec, image, env, argv, identity, pod.directory / f"{spec['name']}.log"
        )

    def _volumes(self, pod: RunningPod) -> dict[str, Path]:
        context = pod.spec.get("securityContext") or {}
        fs_group, policy = context.get("fsGroup"), context.get("fsGroupChangePolicy")
        return {
            volume["name"]: cluster_volumes.materialize(
                volume, self.objects, pod.directory, self.state / "claims", fs_group, policy
            )
            for volume in pod.spec.get("volumes") or ()
        }

    def _mount_point(self, path: str) -> None:
        """Makes a missing mount point on the machine, to be removed at ``down`` unless
        another run mounts there too (each run lists what it uses)."""
        with (self.state / "used-dirs").open("a") as used:
            used.write(f"{path}\n")
        missing = []
        for candidate in [Path(path), *Path(path).parents]:
            if candidate.exists():
                break
            missing.append(candidate)
        for directory in reversed(missing):
            directory.mkdir()
            self._made_dirs.append(directory)
            with (self.state / "made-dirs").open("a") as made:
                made.write(f"{directory}\n")

    def _image_files(self, image: cluster_image.Image) -> list[Mount]:
        """What the image copies in, as read-only mounts of staged copies: one mount per
        outermost directory the copies land in (a file's directory, or a copied
        directory's target), so a copy landing inside another's directory (the console
        under the API reference's) is part of that mount, not a mount on top of it."""
        landings = {
            target if source.is_dir() else str(Path(target).parent)
            for source, target in image.files
        }
        roots = [
            root
            for root in sorted(landings)
            if not any(root.startswith(other + "/") for other in landings)
        ]
        mounts = []
        for root in roots:
            staged = self.state / "image-files" / root.strip("/").replace("/", "_")
            staged.mkdir(parents=True, exist_ok=True)
            for source, target in image.files:
                if target != root and not target.startswith(root + "/"):
                    continue
                place = staged / Path(target).relative_to(root)
                if source.is_dir():
                    shutil.copytree(source, place, dirs_exist_ok=True)
                else:
                    place.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, place)
            for path in (staged, *staged.rglob("*")):
                path.chmod(0o755 if path.is_dir() else 0o644)
            self._mount_point(root)
            mounts.append(Mount(staged, root, True))
        return mounts

    def _launch(self, pod: RunningPod, container: Container, volumes: Mapping[str, Path]) -> None:
        mounts = []
        for mount in container.spec.get("volumeMounts") or ():
            source = volumes[mount["name"]]
            if mount.get("subPath"):
                source = source / mount["subPath"]
            self._mount_point(mount["mountPath"])
            mounts.append(Mount(source, mount["mountPath"], bool(mount.get("readOnly"))))
        mounts += self._image_files(container.image)
        self._mount_point(container.image.workdir)
        read_only_root = bool(
            (container.spec.get("securityContext") or {}).get("readOnlyRootFilesystem")
        )
        text = script(
            hosts=pod.directory / "hosts",
            resolv=pod.directory / "resolv.conf",
            mounts=mounts,
            read_only_root=read_only_root,
            workdir=container.image.workdir,
            identity=container.identity,
            hostname=pod.name,
            scratch=self.state / "scratch",
            given=container.env,
        )
        path = pod.directory / f"{container.name}.sh"
        path.write_text(text)
        container.process = self._spawn(
            pod.netns, path, container.argv, container.env, container.log
        )

    def _spawn(
        self, netns: str, path: Path, argv: Sequence[str], env: Mapping[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [
                    "/usr/sbin/ip",
                    "netns",
                    "exec",
                    netns,
                    "/usr/bin/unshare",
                    "--mount",
                    "--uts",
                    "--propagation",
                    "private",
                    "/bin/sh",
                    str(path),
                    *argv,
                ],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _kill(self, pod: RunningPod, sig: int) -> None:
        for container in pod.containers:
            if container.process is not None and container.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.process.pid, sig)
        for container in pod.containers:
            if container.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    container.process.wait(timeout=5)

    def delete_pod(self, pod: RunningPod) -> float:
        """``kubectl delete pod``: out of every Service at once, SIGTERM, SIGKILL after
        ``terminationGracePeriodSeconds``; the namespace removed. Returns the seconds the
        pod took to exit."""
        pod.ready = False
        self.pods.remove(pod)
        self.refresh_endpoints()
        grace = float(pod.spec.get("terminationGracePeriodSeconds", 30))
        began = time.monotonic()
        for container in pod.containers:
            # The kubelet runs the preStop hook first; its time counts against the grace.
            hook = (container.spec.get("lifecycle") or {}).get("preStop")
            if hook:
                self._hook(pod, container, hook, grace)
        for container in pod.containers:
            if container.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.process.pid, signal.SIGTERM)
        for container in pod.containers:
            if container.process is not None:
                try:
                    container.process.wait(timeout=max(0.0, grace - (time.monotonic() - began)))
                except subprocess.TimeoutExpired:
                    os.killpg(container.process.pid, signal.SIGKILL)
                    container.process.wait()
        took = time.monotonic() - began
        self.network.delete_namespace(pod.netns)
        return took

    def _hook(
        self, pod: RunningPod, container: Container, hook: Mapping[str, Any], grace: float
    ) -> None:
        if "httpGet" in hook:
            get = hook["httpGet"]
            connection = http.client.HTTPConnection(pod.ip, pod.port(get["port"]), timeout=grace)
            try:
                connection.request("GET", get.get("path", "/"))
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass  # a failed hook is an event; the kubelet goes on to SIGTERM
            finally:
                connection.close()
        elif "exec" in hook:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.exec_in(pod, hook["exec"]["command"], container.name, timeout=grace)
        elif "sleep" in hook:
            time.sleep(float(hook["sleep"]["seconds"]))

    def running(self, deployment: str) -> list[RunningPod]:
        return [p for p in self.pods if p.deployment == deployment]

    # -- names, endpoints, firewall ------------------------------------------------------

    def endpoints(self, service: Mapping[str, Any]) -> list[RunningPod]:
        selector = service["spec"].get("selector") or {}
        return [
            p
            for p in self.pods
            if p.ready and selector and all(p.labels.get(k) == v for k, v in selector.items())
        ]

    def _write_name_files(self, pod: RunningPod) -> None:
        """The pod's hosts file, as the kubelet writes it (localhost and the pod's own
        name), and its resolv.conf naming the cluster DNS with the namespace's search path."""
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines.append(f"{pod.ip}\t{pod.name}")
        (pod.directory / "hosts").write_text("\n".join(lines) + "\n")
        assert self.dns is not None
        search = f"{self.namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
        (pod.directory / "resolv.conf").write_text(
            f"search {search}\nnameserver {self.dns.ip}\noptions ndots:5\n"
        )

    def _write_dns_records(self) -> None:
        """Each Service's name: its virtual address, or (headless) each ready pod's."""
        records = {}
        for service in self.of_kind("Service"):
            name = service["metadata"]["name"]
            fqdn = f"{name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"
            if name in self.objects.cluster_ips:
                records[fqdn] = [self.objects.cluster_ips[name]]
            else:
                records[fqdn] = [p.ip for p in self.endpoints(service)]
        temporary = self.state / "dns.json.tmp"
        temporary.write_text(json.dumps(records))
        temporary.replace(self.state / "dns.json")

    def _nat(self) -> str:
        lines = [
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            ":INPUT ACCEPT [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            ":POSTROUTING ACCEPT [0:0]",
        ]
        for service in self.of_kind("Service"):
            name = service["metadata"]["name"]
            if name not in self.objects.cluster_ips:
                continue
            backends = self.endpoints(service)
            for port in service["spec"]["ports"]:
                protocol = port.get("protocol", "TCP").lower()
                for index, backend in enumerate(backends):
                    left = len(backends) - index
                    chance = (
                        f"-m statistic --mode random --probability {1 / left:.5f} "
                        if left > 1
                        else ""
                    )
                    target = backend.port(port.get("targetPort", port["port"]))
                    lines.append(
                        f"-A OUTPUT -d {self.objects.cluster_ips[name]}/32 -p {protocol} -m {protocol} "
                        f"--dport {port['port']} {chance}-j DNAT --to-destination {backend.ip}:{target}"
                    )
        return "\n".join([*lines, "COMMIT"]) + "\n"

    def _infos(self) -> list[cluster_policy.PodInfo]:
        return [
            cluster_policy.PodInfo(p.name, self._namespace_of(p), p.ip, p.labels, p.named_ports())
            for p in [*self.pods, *self.strangers]
        ]

    def _namespace_of(self, pod: RunningPod) -> str:
        return pod.namespace or self.namespace

    def _apply_firewalls(self) -> None:
        policies = list(self.of_kind("NetworkPolicy"))
        infos = self._infos()
        namespaces = {i.namespace for i in infos} | {self.namespace}
        labels = {n: {"kubernetes.io/metadata.name": n} for n in namespaces}
        nat = self._nat()
        for pod, info in zip([*self.pods, *self.strangers], infos, strict=True):
            # The manifests' policies are in this namespace; another namespace has none.
            mine = self.firewall_enabled and info.namespace == self.namespace
            applied = policies if mine else []
            rules = cluster_policy.pod_rules(
                info, applied, infos, labels, cluster_net.NODE_IP, self.namespace
            )
            self.network.set_firewall(pod.netns, rules, nat)

    def refresh_endpoints(self) -> None:
        self._write_dns_records()
        self._apply_firewalls()

    def firewall(self, enabled: bool) -> None:
        """Applies the NetworkPolicies (the default) or lets everything through."""
        self.firewall_enabled = enabled
        self._apply_firewalls()

    # -- the kubelet's probes ----------------------------------------------------------------

    def probe(self, pod: RunningPod, probe: Mapping[str, Any]) -> bool:
        timeout = min(self.probe_timeout, float(probe.get("timeoutSeconds", 1)))
        try:
            if "grpc" in probe:
                target = f"{pod.ip}:{pod.port(probe['grpc']['port'])}"
                with grpc.insecure_channel(target) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=probe["grpc"].get("service", "")),
                        timeout=timeout,
                    )
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
            if "httpGet" in probe:
                get = probe["httpGet"]
                connection = http.client.HTTPConnection(
                    pod.ip, pod.port(get["port"]), timeout=timeout
                )
                try:
                    connection.request("GET", get.get("path", "/"))
                    return 200 <= connection.getresponse().status < 400
                finally:
                    connection.close()
            if "tcpSocket" in probe:
                with socket.create_connection(
                    (pod.ip, pod.port(probe["tcpSocket"]["port"])), timeout
                ):
                    return True
            if "exec" in probe:
                done = self.exec_in(pod, probe["exec"]["command"], timeout=timeout)
                return done.returncode == 0
        except (grpc.RpcError, OSError, http.client.HTTPException, subprocess.TimeoutExpired):
            return False
        raise ValueError(f"probe {dict(probe)!r} is not supported by this harness")

    def check(self, pod: RunningPod) -> bool:
        """One round of the kubelet's probes: startup until it passes, then readiness."""
        for container in pod.containers:
            if container.process is not None and container.process.poll() is not None:
                raise PodFailed(
                    f"{pod.name}: container {container.name} exited {container.process.returncode}"
                    f" (argv {container.argv}):\n{container.log_tail()}"
                )
        for container in pod.containers:
            for kind in ("startupProbe", "readinessProbe"):
                probe = container.spec.get(kind)
                if kind == "startupProbe" and pod.started:
                    continue
                if probe and not self.probe(pod, probe):
                    pod.failing = f"{container.name}: {kind} {json.dumps(probe)} fails"
                    return False
        pod.started = True
        pod.failing = ""
        return True

    def refresh(self) -> bool:
        """Probes every pod once; updates names and endpoints if readiness changed."""
        changed = False
        for pod in self.pods:
            now = self.check(pod)
            changed |= now != pod.ready
            pod.ready = now
        if changed:
            self.refresh_endpoints()
        return all(p.ready for p in self.pods)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.refresh():
            if time.monotonic() > deadline:
                waiting = [p for p in self.pods if not p.ready]
                raise PodFailed(
                    f"not ready after {timeout} s: "
                    + "; ".join(
                        f"{p.name} ({p.failing}), its log ends:\n{p.container().log_tail(5)}"
                        for p in waiting
                    )
                )
            time.sleep(0.25)

    # -- kubectl exec, strangers -------------------------------------------------------------

    def exec_in(
        self,
        pod: RunningPod,
        argv: Sequence[str],
        container: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl exec``: ``argv`` in the container's namespaces, as its user, with its
        environment and working directory."""
        target = pod.container(container)
        assert target.process is not None
        return subprocess.run(
            [
                "nsenter",
                f"--target={target.process.pid}",
                "--mount",
                "--uts",
                "--net",
                f"--wd={target.image.workdir}",
                *target.identity.setpriv(),
                *argv,
            ],
            env=target.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def debug(
        self, pod: RunningPod, argv: Sequence[str], timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl debug --target``: ``argv`` from this machine's tools (not the pod's
        image, which may have no shell or Python), in the pod's network namespace and
        with its resolv.conf and hosts file."""
        target = pod.container()
        assert target.process is not None
        return subprocess.run(
            ["nsenter", f"--target={target.process.pid}", "--mount", "--net", *argv],
            env={"PATH": cluster_image.DEFAULT_PATH},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kubectl_exec(self, command: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Runs a ``kubectl [-n NS] exec [-it] [deploy/|deployment/|pod/]NAME [-c C] -- ...``
        command line as written (in a README)."""
        words = shlex.split(command)
        if words[:1] != ["kubectl"] or "exec" not in words or "--" not in words:
            raise ValueError(f"not a kubectl exec command with --: {command!r}")
        split = words.index("--")
        options = [w for w in words[1:split] if w != "exec"]
        argv = words[split + 1 :]
        container = None
        target = None
        flags = iter(options)
        for word in flags:
            if word in ("-c", "--container"):
                container = next(flags)
            elif word in ("-n", "--namespace"):
                next(flags)
            elif word.startswith("-"):
                continue
            else:
                target = word
        if target is None:
            raise ValueError(f"no pod or deployment in {command!r}")
        kind, _, name = target.rpartition("/")
        if kind in ("deploy", "deployment", "deployments"):
            pods = self.running(name)
            if not pods:
                raise LookupError(f"deployment {name} has no running pod")
            pod = pods[0]
        else:
            pod = next(p for p in self.pods if p.name == name)
        return self.exec_in(pod, argv, container, timeout)

    def add_stranger(
        self, name: str, labels: Mapping[str, str], namespace: str | None = None
    ) -> RunningPod:
        """A pod with no process of its own (only a network namespace), with ``labels``, in
        this namespace or another: what a compromised or unrelated workload would be."""
        ip = next(self._pod_ips)
        netns = self.network.add_namespace(name, ip)
        directory = self.state / "strangers" / name
        pod = RunningPod(name, "", netns, ip, dict(labels), {"containers": []}, directory)
        pod.namespace = namespace
        self.strangers.append(pod)
        self._apply_firewalls()
        return pod

    def can_connect(self, pod: RunningPod, address: str, port: int, timeout: float = 1.5) -> bool:
        """Whether a TCP connection from inside ``pod``'s network namespace is accepted."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({address!r}, {port}), {timeout}).close()\n"
            "except OSError as e:\n"
            "    sys.exit(f'{type(e).__name__}: {e}')\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", pod.netns, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
        )
        return done.returncode == 0


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment as it started (``/proc/<pid>/environ``)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if item)
