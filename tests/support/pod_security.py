"""The Pod Security Standards' "restricted" profile, checked offline against a pod spec.

What the namespace label ``pod-security.kubernetes.io/enforce: restricted`` makes the API
server refuse, so that a manifest that would be rejected fails a test instead of an
install. The rules are the profile's controls as the Kubernetes documentation lists them
(https://kubernetes.io/docs/concepts/security/pod-security-standards/): every control of
"baseline", then the restricted ones. Each rule returns what it found wrong, naming the
field, so a failure says what to change. Windows-only fields and the AppArmor/SELinux
annotations of old API versions are left out: no p13n manifest uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Pod = dict[str, Any]

# Baseline: the namespaced sysctls known safe.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# Restricted: the only volume types (besides none at all).
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})


def _containers(pod: Pod) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(kind) or []:
            yield f"{kind}[{container.get('name', '?')}]", container


def _context(container: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = container.get("securityContext") or {}
    return context


def host_namespaces(pod: Pod) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield f"spec.{field} must be false or unset"


def host_process(pod: Pod) -> Iterator[str]:
    contexts = [("spec", pod.get("securityContext") or {})]
    contexts += [(where, _context(c)) for where, c in _containers(pod)]
    for where, context in contexts:
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            yield f"{where}.securityContext.windowsOptions.hostProcess must be false or unset"


def privileged(pod: Pod) -> Iterator[str]:
    for where, container in _containers(pod):
        if _context(container).get("privileged"):
            yield f"{where}.securityContext.privileged must be false or unset"


def added_capabilities(pod: Pod) -> Iterator[str]:
    """Restricted narrows baseline's list to NET_BIND_SERVICE alone."""
    for where, container in _containers(pod):
        added = set((_context(container).get("capabilities") or {}).get("add") or [])
        beyond = added - {"NET_BIND_SERVICE"}
        if beyond:
            yield f"{where}.securityContext.capabilities.add may hold only NET_BIND_SERVICE, not {sorted(beyond)}"


def dropped_capabilities(pod: Pod) -> Iterator[str]:
    for where, container in _containers(pod):
        dropped = (_context(container).get("capabilities") or {}).get("drop") or []
        if "ALL" not in dropped:
            yield f"{where}.securityContext.capabilities.drop must include ALL"


def host_paths_and_volume_types(pod: Pod) -> Iterator[str]:
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name')!r}: {sorted(kinds - RESTRICTED_VOLUMES)} not allowed"


def host_ports(pod: Pod) -> Iterator[str]:
    for where, container in _containers(pod):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield f"{where}.ports[{port.get('name', '?')}].hostPort must be 0 or unset"


def apparmor(pod: Pod) -> Iterator[str]:
    contexts = [("spec", pod.get("securityContext") or {})]
    contexts += [(where, _context(c)) for where, c in _containers(pod)]
    for where, context in contexts:
        kind = (context.get("appArmorProfile") or {}).get("type")
        if kind not in (None, "RuntimeDefault", "Localhost"):
            yield f"{where}.securityContext.appArmorProfile.type must be RuntimeDefault or Localhost"


def selinux(pod: Pod) -> Iterator[str]:
    contexts = [("spec", pod.get("securityContext") or {})]
    contexts += [(where, _context(c)) for where, c in _containers(pod)]
    for where, context in contexts:
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            yield f"{where}.securityContext.seLinuxOptions.type {options['type']!r} not allowed"
        for field in ("user", "role"):
            if options.get(field):
                yield f"{where}.securityContext.seLinuxOptions.{field} must be unset"


def proc_mount(pod: Pod) -> Iterator[str]:
    for where, container in _containers(pod):
        if _context(container).get("procMount", "Default") != "Default":
            yield f"{where}.securityContext.procMount must be Default or unset"


def sysctls(pod: Pod) -> Iterator[str]:
    for sysctl in (pod.get("securityContext") or {}).get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"spec.securityContext.sysctls: {sysctl.get('name')!r} is not a safe sysctl"


def privilege_escalation(pod: Pod) -> Iterator[str]:
    for where, container in _containers(pod):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"{where}.securityContext.allowPrivilegeEscalation must be false"


def run_as_non_root(pod: Pod) -> Iterator[str]:
    """True on the pod (and no container saying false), or true on every container."""
    on_pod = (pod.get("securityContext") or {}).get("runAsNonRoot")
    for where, container in _containers(pod):
        own = _context(container).get("runAsNonRoot")
        if own is False or (own is None and on_pod is not True):
            yield f"{where}: runAsNonRoot must be true (on the pod or the container)"


def run_as_user(pod: Pod) -> Iterator[str]:
    if (pod.get("securityContext") or {}).get("runAsUser") == 0:
        yield "spec.securityContext.runAsUser must not be 0"
    for where, container in _containers(pod):
        if _context(container).get("runAsUser") == 0:
            yield f"{where}.securityContext.runAsUser must not be 0"


def seccomp(pod: Pod) -> Iterator[str]:
    """RuntimeDefault or Localhost: on the pod (no container overriding it), or on every
    container. Baseline already forbids Unconfined anywhere."""
    on_pod = ((pod.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if on_pod is not None and on_pod not in SECCOMP_ALLOWED:
        yield f"spec.securityContext.seccompProfile.type {on_pod!r} not allowed"
    for where, container in _containers(pod):
        own = (_context(container).get("seccompProfile") or {}).get("type")
        if own is not None and own not in SECCOMP_ALLOWED:
            yield f"{where}.securityContext.seccompProfile.type {own!r} not allowed"
        elif own is None and on_pod is None:
            yield f"{where}: seccompProfile.type must be RuntimeDefault (on the pod or the container)"


BASELINE: tuple[Callable[[Pod], Iterator[str]], ...] = (
    host_process,
    host_namespaces,
    privileged,
    host_ports,
    apparmor,
    selinux,
    proc_mount,
    sysctls,
)
RESTRICTED: tuple[Callable[[Pod], Iterator[str]], ...] = (
    *BASELINE,
    # Restricted's own, and the stricter forms of baseline's capabilities and volumes.
    added_capabilities,
    host_paths_and_volume_types,
    privilege_escalation,
    run_as_non_root,
    run_as_user,
    seccomp,
    dropped_capabilities,
)


def restricted_violations(pod: Pod) -> list[str]:
    """Everything in this pod spec the "restricted" profile refuses; empty when it passes."""
    return [problem for rule in RESTRICTED for problem in rule(pod)]
