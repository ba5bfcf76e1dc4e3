"""NetworkPolicies as iptables rules in each pod's own network namespace.

Kubernetes' semantics (networking/v1): a pod is isolated for ingress (egress) when some
policy of its namespace selects it and lists that direction in ``policyTypes`` (Ingress is
implied; Egress when the policy has ``egress`` rules); an isolated pod accepts what at
least one of those policies' rules allows, and nothing else. A rule's ``from``/``to`` peers
are pods (``podSelector`` within the policy's namespace, ``namespaceSelector`` across
namespaces, both together: pods matching both), or ``ipBlock`` CIDRs (with ``except``);
no peers means everyone. Its ``ports`` are numbers, ranges (``endPort``) or port names
(resolved on the destination pod's containers); no ports means every port.

Rendered per pod: ingress in the pod's INPUT chain, egress in its OUTPUT chain, so a
packet passes the sender's egress and then the receiver's ingress, as with a real CNI.
Both chains accept loopback and replies (conntrack ESTABLISHED,RELATED). INPUT also
accepts the node's address: the kubelet's probes and ``kubectl port-forward`` arrive from
the node, and real CNIs (Calico, Cilium) let node-local traffic in whatever the policies
say. Refused packets are dropped, as CNIs do, so a refused connection times out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    ip: str
    labels: Mapping[str, str]
    # containerPort name -> (port, protocol)
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions); empty selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or ()
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def policy_types(policy: Mapping[str, Any]) -> list[str]:
    spec = policy["spec"]
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _peer_matches(
    peer: Mapping[str, Any],
    policy_namespace: str,
    pods: Iterable[PodInfo],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> tuple[list[PodInfo], list[tuple[str, list[str]]]]:
    """The pods a peer names, and its ipBlock as (cidr, except)."""
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return [], [(block["cidr"], list(block.get("except") or ()))]
    matched = []
    for pod in pods:
        if "namespaceSelector" in peer:
            in_namespace = selects(
                peer["namespaceSelector"], namespace_labels.get(pod.namespace, {})
            )
        else:
            in_namespace = pod.namespace == policy_namespace
        if in_namespace and selects(peer.get("podSelector"), pod.labels):
            matched.append(pod)
    return matched, []


def _port_matches(ports: list[Mapping[str, Any]] | None, target: PodInfo) -> list[str]:
    """iptables match fragments for a rule's ports on destination ``target``; [""] = all."""
    if not ports:
        return [""]
    out = []
    for port in ports:
        protocol = (port.get("protocol") or "TCP").lower()
        number = port.get("port")
        if number is None:
            out.append(f"-p {protocol}")
            continue
        if isinstance(number, str):
            if number.isdigit():
                number = int(number)
            elif number in target.named_ports:
                number = target.named_ports[number][0]
            else:
                continue  # a name this pod does not define: matches nothing here
        end = port.get("endPort")
        span = f"{number}:{end}" if end else f"{number}"
        out.append(f"-p {protocol} -m {protocol} --dport {span}")
    return out


def _accept(chain: str, peer: str, ports: str) -> str:
    return " ".join(filter(None, [f"-A {chain}", peer, ports, "-j ACCEPT"]))


def pod_rules(
    pod: PodInfo,
    policies: Iterable[Mapping[str, Any]],
    pods: Iterable[PodInfo],
    namespace_labels: Mapping[str, Mapping[str, str]],
    node_ip: str,
) -> str:
    """The ``iptables-restore`` input (filter table) for ``pod``'s network namespace."""
    pods = list(pods)
    mine = [
        p
        for p in policies
        if p["metadata"].get("namespace", pod.namespace) == pod.namespace
        and selects(p["spec"].get("podSelector"), pod.labels)
    ]
    isolated = {
        "INPUT": [p for p in mine if "Ingress" in policy_types(p)],
        "OUTPUT": [p for p in mine if "Egress" in policy_types(p)],
    }
    chains = [f":{chain} {'DROP' if isolated[chain] else 'ACCEPT'} [0:0]" for chain in isolated]
    chains.append(":FORWARD DROP [0:0]")
    rules = []
    for chain, interface in (("INPUT", "-i lo"), ("OUTPUT", "-o lo")):
        rules.append(f"-A {chain} {interface} -j ACCEPT")
        rules.append(f"-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    rules.append(f"-A INPUT -s {node_ip}/32 -j ACCEPT")
    blocks = 0
    for chain, key, flag in (("INPUT", "ingress", "-s"), ("OUTPUT", "egress", "-d")):
        for policy in isolated[chain]:
            namespace = policy["metadata"].get("namespace", pod.namespace)
            for rule in policy["spec"].get(key) or ():
                peers = rule.get("from" if key == "ingress" else "to")
                if not peers:
                    # Every peer; a named port resolves on this pod (ingress) or matches
                    # only where this pod defines it (egress to anyone: best effort).
                    rules += [_accept(chain, "", m) for m in _port_matches(rule.get("ports"), pod)]
                    continue
                for peer in peers:
                    matched, cidrs = _peer_matches(peer, namespace, pods, namespace_labels)
                    for other in matched:
                        # Ports are the destination's: this pod's for ingress, the peer's
                        # for egress.
                        target = pod if key == "ingress" else other
                        for m in _port_matches(rule.get("ports"), target):
                            rules.append(_accept(chain, f"{flag} {other.ip}/32", m))
                    for cidr, excepted in cidrs:
                        blocks += 1
                        name = f"P13N-BLOCK-{blocks}"
                        chains.append(f":{name} - [0:0]")
                        rules += [f"-A {name} {flag} {e} -j RETURN" for e in excepted]
                        rules.append(f"-A {name} {flag} {cidr} -j ACCEPT")
                        for m in _port_matches(rule.get("ports"), pod):
                            rules.append(" ".join(filter(None, [f"-A {chain}", m, f"-j {name}"])))
    return "\n".join(["*filter", *chains, *rules, "COMMIT"]) + "\n"
