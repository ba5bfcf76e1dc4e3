"""The Pod Security "restricted" checker (tests/support/pod_security.py) itself: a pod
that meets the profile passes, and each way of breaking it is caught and named."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from support.pod_security import restricted_violations

Pod = dict[str, Any]


def _good() -> Pod:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "app",
                "ports": [{"name": "grpc", "containerPort": 50051}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [
            {"name": "tls", "secret": {"secretName": "x"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "x"}},
            {"name": "config", "configMap": {"name": "x"}},
            {"name": "scratch", "emptyDir": {}},
        ],
    }


def _container(pod: Pod) -> Pod:
    container: Pod = pod["containers"][0]
    return container


def _set(path: str, value: Any) -> Callable[[Pod], None]:
    """A change at a dotted path ("c." is the first container)."""

    def change(pod: Pod) -> None:
        keys = path.split(".")
        node = _container(pod) if keys[0] == "c" else pod
        for key in keys[1 if keys[0] == "c" else 0 : -1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value

    return change


def _add_init_container(pod: Pod) -> None:
    pod["initContainers"] = [{"name": "init", "securityContext": {}}]


def _add_volume(kind: str) -> Callable[[Pod], None]:
    def change(pod: Pod) -> None:
        pod["volumes"].append({"name": "bad", kind: {"path": "/"}})

    return change


BROKEN = {
    "host-network": (_set("hostNetwork", True), "hostNetwork"),
    "host-pid": (_set("hostPID", True), "hostPID"),
    "privileged": (_set("c.securityContext.privileged", True), "privileged"),
    "escalation-allowed": (
        _set("c.securityContext.allowPrivilegeEscalation", True),
        "allowPrivilegeEscalation",
    ),
    "escalation-unset": (
        _set("c.securityContext.allowPrivilegeEscalation", None),
        "allowPrivilegeEscalation",
    ),
    "root-allowed": (_set("securityContext.runAsNonRoot", None), "runAsNonRoot"),
    "container-says-root-ok": (_set("c.securityContext.runAsNonRoot", False), "runAsNonRoot"),
    "uid-0": (_set("c.securityContext.runAsUser", 0), "runAsUser"),
    "no-seccomp": (_set("securityContext.seccompProfile", None), "seccompProfile"),
    "seccomp-unconfined": (
        _set("c.securityContext.seccompProfile", {"type": "Unconfined"}),
        "seccompProfile",
    ),
    "capabilities-kept": (_set("c.securityContext.capabilities", None), "drop must include ALL"),
    "capability-added": (
        _set("c.securityContext.capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
        "NET_ADMIN",
    ),
    "host-path": (_add_volume("hostPath"), "hostPath"),
    "nfs": (_add_volume("nfs"), "nfs"),
    "host-port": (
        _set("c.ports", [{"name": "grpc", "containerPort": 50051, "hostPort": 50051}]),
        "hostPort",
    ),
    "proc-mount": (_set("c.securityContext.procMount", "Unmasked"), "procMount"),
    "unsafe-sysctl": (
        _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        "kernel.msgmax",
    ),
    "selinux-user": (_set("securityContext.seLinuxOptions", {"user": "root"}), "seLinuxOptions"),
    "apparmor-unconfined": (
        _set("c.securityContext.appArmorProfile", {"type": "Unconfined"}),
        "appArmorProfile",
    ),
    "init-container-unhardened": (_add_init_container, "initContainers[init]"),
}


def test_a_restricted_pod_passes() -> None:
    assert restricted_violations(_good()) == []


def test_per_container_settings_satisfy_it_too() -> None:
    """runAsNonRoot and seccomp may be on every container instead of the pod."""
    pod = _good()
    context = pod.pop("securityContext")
    _container(pod)["securityContext"] |= {
        "runAsNonRoot": True,
        "seccompProfile": context["seccompProfile"],
    }
    assert restricted_violations(pod) == []


def test_net_bind_service_is_the_one_capability_allowed() -> None:
    pod = _good()
    _container(pod)["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert restricted_violations(pod) == []


@pytest.mark.parametrize(("change", "named"), BROKEN.values(), ids=BROKEN.keys())
def test_each_broken_rule_is_refused_by_name(change: Callable[[Pod], None], named: str) -> None:
    pod = copy.deepcopy(_good())
    change(pod)
    problems = restricted_violations(pod)
    assert problems, "the checker let it through"
    assert any(named in problem for problem in problems), problems
