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


@dataclass
class _Rules:
    """The chains and rules of one pod's filter table, as they are gathered."""

    chains: list[str]
    rules: list[str] = field(default_factory=list)

    def block(
        self, chain: str, flag: str, cidr: str, excepted: list[str], ports: list[str]
    ) -> None:
        """An ipBlock: its exceptions return to the caller (no match), the rest is accepted."""
        name = f"P13N-BLOCK-{len(self.chains)}"
        self.chains.append(f":{name} - [0:0]")
        self.rules += [f"-A {name} {flag} {each} -j RETURN" for each in excepted]
        self.rules.append(f"-A {name} {flag} {cidr} -j ACCEPT")
        self.rules += [" ".join(filter(None, [f"-A {chain}", m, f"-j {name}"])) for m in ports]


def _rule(
    rules: _Rules,
    chain: str,
    rule: Mapping[str, Any],
    pod: PodInfo,
    context: tuple[str, list[PodInfo], Mapping[str, Mapping[str, str]]],
) -> None:
    """One ingress (INPUT) or egress (OUTPUT) rule of a policy that selects ``pod``."""
    namespace, pods, namespace_labels = context
    ingress = chain == "INPUT"
    peers = rule.get("from" if ingress else "to")
    if not peers:
        # Everyone; a named port resolves on this pod.
        rules.rules += [_accept(chain, "", m) for m in _port_matches(rule.get("ports"), pod)]
        return
    flag = "-s" if ingress else "-d"
    for peer in peers:
        matched, cidrs = _peer_matches(peer, namespace, pods, namespace_labels)
        for other in matched:
            # Ports are the destination's: this pod's for ingress, the peer's for egress.
            target = pod if ingress else other
            for m in _port_matches(rule.get("ports"), target):
                rules.rules.append(_accept(chain, f"{flag} {other.ip}/32", m))
        for cidr, excepted in cidrs:
            rules.block(chain, flag, cidr, excepted, _port_matches(rule.get("ports"), pod))


def pod_rules(
    pod: PodInfo,
    policies: Iterable[Mapping[str, Any]],
    pods: Iterable[PodInfo],
    namespace_labels: Mapping[str, Mapping[str, str]],
    node_ip: str,
    namespace: str,
) -> str:
    """The ``iptables-restore`` input (filter table) for ``pod``'s network namespace.

    ``policies`` without a namespace of their own (the manifests name none) are in
    ``namespace``, the one they are applied to."""
    mine = [
        p
        for p in policies
        if p["metadata"].get("namespace", namespace) == pod.namespace
        and selects(p["spec"].get("podSelector"), pod.labels)
    ]
    isolated = {
        "INPUT": [p for p in mine if "Ingress" in policy_types(p)],
        "OUTPUT": [p for p in mine if "Egress" in policy_types(p)],
    }
    rules = _Rules([f":{c} {'DROP' if isolated[c] else 'ACCEPT'} [0:0]" for c in isolated])
    rules.chains.append(":FORWARD DROP [0:0]")
    for chain, interface in (("INPUT", "-i lo"), ("OUTPUT", "-o lo")):
        rules.rules.append(f"-A {chain} {interface} -j ACCEPT")
        rules.rules.append(f"-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    rules.rules.append(f"-A INPUT -s {node_ip}/32 -j ACCEPT")
    context = (pod.namespace, list(pods), namespace_labels)
    for chain, key in (("INPUT", "ingress"), ("OUTPUT", "egress")):
        for policy in isolated[chain]:
            for rule in policy["spec"].get(key) or ():
                _rule(rules, chain, rule, pod, context)
    return "\n".join(["*filter", *rules.chains, *rules.rules, "COMMIT"]) + "\n"
