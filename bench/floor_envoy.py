"""The floors' Envoy: the gateway's own data-plane listener, once per floor.

``envoy_config`` takes the bootstrap ``gateway.render.build`` renders for the suite and
derives one listener per floor from its data-plane listener, so the floors share every
filter, limit and local-reply mapper with the real path:

- F1: the listener's hardening, buffer and router only, ``direct_response`` 200 with JSON;
- F2: the production filter chain without ext_authz, upstream the trivial handler;
- F2h: F2 without the transcoder, the browser's request carried as HTTP/1.1 to a trivial
  HTTP handler (``bench/http_floor.py``): what the gRPC hop itself costs is F2 less F2h;
- F3: the production filter chain as it is, ext_authz to the trivial authz server;
- F3r: F3 with the suite's real auth service deciding the bench's real public token
  (reached over mutual TLS with the gateway's certificate, as the gateway reaches it);
- T: F3r whose handler (``relay``) hands the event to the real profile service's Track:
  the whole public path except the offers service's own evaluation.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from gateway.capacity import Capacity
from gateway.render import GatewayConfig, GatewayTls, Upstream, build, upstream_tls

# The floors' load comes from one address: the per-address limit would be all they measure.
_UNLIMITED = Capacity(requests_per_second=1_000_000, burst=1_000_000)

FLOOR_BODY = '{"offers":{"hero":{"attributes":{"title":"Hello"}}}}'


def _listener(base: dict[str, Any], name: str, port: int) -> dict[str, Any]:
    listener = copy.deepcopy(base)
    listener["name"] = name
    listener["address"]["socket_address"]["port_value"] = port
    return listener


def _manager(listener: dict[str, Any]) -> dict[str, Any]:
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    manager["stat_prefix"] = listener["name"]
    return manager


def _cluster_like(
    resources: dict[str, Any],
    name: str,
    port: int,
    tls: GatewayTls | None = None,
    like: str = "auth",
) -> dict[str, Any]:
    """A copy of the gateway's ``like`` cluster, named ``name``, sending to ``port``."""
    cluster: dict[str, Any] = copy.deepcopy(
        next(c for c in resources["clusters"] if c["name"] == like)
    )
    if tls is not None:  # the real auth service: mutual TLS as the gateway
        cluster["transport_socket"] = upstream_tls("auth", tls)
    cluster["name"] = name
    cluster["load_assignment"]["cluster_name"] = name
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"]["port_value"] = port
    resources["clusters"].append(cluster)
    return cluster


def _real_auth(listener: dict[str, Any]) -> dict[str, Any]:
    for http_filter in _manager(listener)["http_filters"]:
        if "ext_authz" in http_filter["name"]:
            http_filter["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] = "real_auth"
    return listener


def _plain_http(
    resources: dict[str, Any], f2: dict[str, Any], port: int, http_port: int
) -> dict[str, Any]:
    """F2's listener with the browser's path routed as it came, over HTTP/1.1."""
    cluster = _cluster_like(resources, "http_floor", http_port, like="offers")
    cluster.pop("typed_extension_protocol_options")  # HTTP/1.1, Envoy's default upstream
    listener = _listener(f2, "f2h", port)
    manager = _manager(listener)
    manager["http_filters"] = [f for f in manager["http_filters"] if "transcoder" not in f["name"]]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    offers = next(r for r in routes if r.get("route", {}).get("cluster") == "offers")
    route = {"match": {"prefix": "/public/"}, "route": {**offers["route"], "cluster": "http_floor"}}
    routes.insert(0, route)
    return listener


def envoy_config(
    *,
    ports: dict[str, int],
    offers_port: int,
    authz_port: int,
    envoy_admin_port: int,
    http_port: int | None = None,
    real_auth_port: int | None = None,
    relay_port: int | None = None,
    real_tls: GatewayTls | None = None,
) -> dict[str, Any]:
    """Envoy's bootstrap with one listener per floor (``ports``: name → port)."""
    bootstrap = build(
        GatewayConfig(
            bind_host="127.0.0.1",
            data_port=0,
            admin_port=0,
            envoy_admin_port=envoy_admin_port,
            auth=(Upstream("127.0.0.1", authz_port),),
            profile=(Upstream("127.0.0.1", offers_port),),
            offers=(Upstream("127.0.0.1", offers_port),),
            capacity=_UNLIMITED,
        )
    )
    resources = bootstrap["static_resources"]
    data_plane = next(x for x in resources["listeners"] if x["name"] == "data_plane")
    listeners = []

    f1 = _listener(data_plane, "f1", ports["F1"])
    manager = _manager(f1)
    # The buffer filter reads the whole body first: a reply sent before the body has
    # arrived makes Envoy close the connection, which would measure reconnects instead.
    manager["http_filters"] = [
        f for f in manager["http_filters"] if f["name"].endswith(("buffer", "router"))
    ]
    manager["route_config"]["virtual_hosts"][0].pop("typed_per_filter_config", None)
    manager["route_config"]["virtual_hosts"][0]["routes"] = [
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": FLOOR_BODY}},
            "response_headers_to_add": [
                {"header": {"key": "content-type", "value": "application/json"}}
            ],
        }
    ]
    listeners.append(f1)

    f2 = _listener(data_plane, "f2", ports["F2"])
    manager = _manager(f2)
    manager["http_filters"] = [f for f in manager["http_filters"] if "ext_authz" not in f["name"]]
    manager["route_config"]["virtual_hosts"][0].pop("typed_per_filter_config", None)
    listeners.append(f2)

    if http_port is not None:
        listeners.append(_plain_http(resources, f2, ports["F2h"], http_port))

    listeners.append(_listener(data_plane, "f3", ports["F3"]))

    if real_auth_port is not None:
        _cluster_like(resources, "real_auth", real_auth_port, real_tls)
        # F3 with the real auth service deciding a real token: the auth decision's own cost.
        listeners.append(_real_auth(_listener(data_plane, "f3r", ports["F3r"])))
        if relay_port is not None:
            # F3r whose handler relays the event to the real profile service's Track.
            _cluster_like(resources, "relay", relay_port)
            track = _real_auth(_listener(data_plane, "t", ports["T"]))
            for route in _manager(track)["route_config"]["virtual_hosts"][0]["routes"]:
                if route.get("route", {}).get("cluster") == "offers":
                    route["route"]["cluster"] = "relay"
            listeners.append(track)

    resources["listeners"] = listeners
    return bootstrap


def write_envoy_config(path: Path, **kwargs: Any) -> Path:
    path.write_text(json.dumps(envoy_config(**kwargs), indent=1))
    return path
