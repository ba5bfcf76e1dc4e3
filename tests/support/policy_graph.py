"""Which connections a set of NetworkPolicies allows, judged offline.

The rules of the NetworkPolicy API (https://kubernetes.io/docs/concepts/services-networking/
network-policies/): a pod selected by a policy of a direction is isolated in that
direction and accepts only what one of those policies allows; a pod no policy selects is
open; a connection needs the client's egress and the server's ingress. Peers by pod and
namespace selectors (the namespace's ``kubernetes.io/metadata.name`` label, which the API
server sets); ``ipBlock`` peers are taken to mean addresses outside the cluster. What the
judge does not model it refuses (a named port) rather than guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Policy = Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (namespace and labels) or, with ``namespace`` None,
    an address outside the cluster. ``ports``: what it listens on, (protocol, number)."""

    name: str
    namespace: str | None
    labels: Mapping[str, str]
    ports: tuple[tuple[str, int], ...] = ()
    address: str = field(default="203.0.113.7")  # TEST-NET-3: outside any cluster


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions; the empty selector selects all."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_holds(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = set(expression.get("values") or [])
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"matchExpressions operator {operator!r} is not one the API knows")


def _peer_matches(peer: Mapping[str, Any], other: Endpoint, namespace: str) -> bool:
    if "ipBlock" in peer:
        if other.namespace is not None:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.address)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.namespace is None:
        return False
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = other.namespace == namespace
    else:
        in_namespace = selects(namespaces, {"kubernetes.io/metadata.name": other.namespace})
    pods = peer.get("podSelector")
    return in_namespace and (pods is None or selects(pods, other.labels))


def _port_matches(rule_ports: list[Mapping[str, Any]] | None, protocol: str, port: int) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        number = entry.get("port")
        if isinstance(number, str):
            raise ValueError(f"named port {number!r}: this judge reads port numbers only")
        if entry.get("protocol", "TCP") != protocol:
            continue
        if number is None or number <= port <= entry.get("endPort", number):
            return True
    return False


def _types(spec: Mapping[str, Any]) -> list[str]:
    default = ["Ingress", *(["Egress"] if "egress" in spec else [])]
    types: list[str] = spec.get("policyTypes") or default
    return types


def _allows(
    policies: Iterable[Policy],
    endpoint: Endpoint,
    direction: str,
    other: Endpoint,
    protocol: str,
    port: int,
    namespace: str,
) -> bool:
    """Whether ``endpoint``'s policies let ``other`` in (Ingress) or out to it (Egress)."""
    if endpoint.namespace != namespace:
        return True  # not governed by these policies
    selecting = [
        p["spec"]
        for p in policies
        if selects(p["spec"]["podSelector"], endpoint.labels) and direction in _types(p["spec"])
    ]
    if not selecting:
        return True
    rules, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        (not rule.get(peers) or any(_peer_matches(p, other, namespace) for p in rule[peers]))
        and _port_matches(rule.get("ports"), protocol, port)
        for spec in selecting
        for rule in spec.get(rules) or []
    )


def allowed_edges(
    policies: Iterable[Policy], endpoints: Iterable[Endpoint], *, namespace: str
) -> set[tuple[str, str, str, int]]:
    """(client, server, protocol, port) for every allowed connection with at least one end
    in ``namespace`` (the policies' own), over each port the server listens on."""
    policies, endpoints = list(policies), list(endpoints)
    edges = set()
    for client in endpoints:
        for server in endpoints:
            if client is server or namespace not in (client.namespace, server.namespace):
                continue
            for protocol, port in server.ports:
                out = _allows(policies, client, "Egress", server, protocol, port, namespace)
                into = _allows(policies, server, "Ingress", client, protocol, port, namespace)
                if out and into:
                    edges.add((client.name, server.name, protocol, port))
    return edges
