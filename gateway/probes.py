"""The gateway pod's probe listener: what the kubelet may ask Envoy, and nothing else.

Envoy's own admin stays on 127.0.0.1 (it can quit Envoy, dump its configuration and
change log levels); the kubelet reaches the pod's address, so a listener on 0.0.0.0
answers exactly two GET paths:

- ``/ready``: Envoy's admin ``/ready`` (200 ``LIVE`` once initialised; 503 ``DRAINING``
  once the drain below began), the startup, readiness and liveness probes. Liveness asks
  it too, with a patience longer than ``terminationGracePeriodSeconds``: a pod drained by
  its own termination exits before the kubelet gives up on it, and one drained by
  anything else (a stray GET ``/drain``) is restarted instead of staying unready for
  good. (A ``/live`` that answered 200 while Envoy ran said nothing ``/ready`` does not:
  an Envoy too wedged to answer it fails ``/ready`` as well.)
- ``/drain``: the preStop hook. Envoy exits at once on SIGTERM, cutting requests in
  flight, so the kubelet first calls this path, which (a Lua filter calling the admin)

  1. fails Envoy's health check: ``/ready`` answers 503 and every data and admin API
     connection is closed after the response in flight (``Connection: close``, HTTP/2
     GOAWAY), so clients move to other pods;
  2. starts a graceful drain of the inbound listeners: after ``--drain-time-s`` they stop
     accepting connections (a client still sent here by a stale endpoint list gets a
     refusal it can retry elsewhere, not a request cut halfway);

  and holds its answer for ``DRAIN_HOLD`` (a fault filter's delay), so the requests in
  flight finish before the kubelet sends SIGTERM. The Deployment's
  ``terminationGracePeriodSeconds`` covers the hold (deploy/base/gateway.yaml).

Every other path or method answers 404, so no admin endpoint is reachable through it.

The probe listener itself is never drained (``drain_type: MODIFY_ONLY``, and no
``traffic_direction``, so ``inboundonly`` skips it): during the hold the kubelet keeps
reaching it, and ``/ready`` keeps saying 503.
"""

from __future__ import annotations

from typing import Any

from gateway.static_cluster import one_endpoint

PROBE_PORT = 9902
# The kubelet's preStop call returns after this: the inbound listeners stop accepting at
# DRAIN_TIME_SECONDS, the requests in flight have the rest (a data-plane route's timeout
# is at most 30 s; longer admin imports are cut at the hold's end).
DRAIN_HOLD_SECONDS = 30
DRAIN_TIME_SECONDS = 15
ADMIN_CLUSTER = "envoy_admin"
# The kubelet holds a few at once (three probes and the hook); a bound of its own, since
# the listener ignores the data plane's.
PROBE_CONNECTIONS = 64

# The two admin calls of the drain, in order (see the docstring).
DRAIN_CALLS = ("/healthcheck/fail", "/drain_listeners?graceful&inboundonly")


def _drain_lua() -> str:
    paths = ", ".join(f'"{path}"' for path in DRAIN_CALLS)
    return f"""\
-- preStop: fail the health check, then drain the inbound listeners (gateway/probes.py).
function envoy_on_request(handle)
  for _, path in ipairs({{{paths}}}) do
    local headers = handle:httpCall("{ADMIN_CLUSTER}",
      {{[":method"] = "POST", [":path"] = path, [":authority"] = "envoy-admin"}}, "", 1000)
    handle:logWarn("drain: POST " .. path .. " answered " .. (headers[":status"] or "nothing"))
  end
end
"""


_GET = [{"name": ":method", "string_match": {"exact": "GET"}}]
_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
_LUA = "envoy.filters.http.lua"
_NETWORK = "type.googleapis.com/envoy.extensions.filters.network"
_MANAGER_TYPE = f"{_NETWORK}.http_connection_manager.v3.HttpConnectionManager"
_CONNECTION_LIMIT_TYPE = f"{_NETWORK}.connection_limit.v3.ConnectionLimit"
_FAULT = "envoy.filters.http.fault"


def listener(bind_host: str, port: int, drain_hold_seconds: int) -> dict[str, Any]:
    """The probe listener on ``bind_host:port``; ``/drain`` answers after the hold."""
    drain_route = {
        "match": {"path": "/drain", "headers": _GET},
        "direct_response": {"status": 200, "body": {"inline_string": "drained\n"}},
        "typed_per_filter_config": {
            _LUA: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute",
                "name": "drain",
            },
            _FAULT: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                "delay": {
                    "fixed_delay": f"{drain_hold_seconds}s",
                    "percentage": {"numerator": 100, "denominator": "HUNDRED"},
                },
            },
        },
    }
    routes = [
        {
            "match": {"path": "/ready", "headers": _GET},
            "route": {"cluster": ADMIN_CLUSTER, "timeout": "1s"},
        },
        drain_route,
        {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
    ]
    manager = {
        "@type": _MANAGER_TYPE,
        "stat_prefix": "probes",
        # A probe is one small request: a connection that idles or dawdles is not one.
        "request_headers_timeout": "2s",
        "common_http_protocol_options": {"idle_timeout": "10s"},
        "route_config": {
            "name": "probes",
            "virtual_hosts": [{"name": "probes", "domains": ["*"], "routes": routes}],
        },
        "http_filters": [
            {
                # Runs only where a route names its source code: /drain.
                "name": _LUA,
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                    "source_codes": {"drain": {"inline_string": _drain_lua()}},
                },
            },
            {
                # No fault here; /drain's route adds the hold.
                "name": _FAULT,
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
                },
            },
            _ROUTER,
        ],
    }
    return {
        "name": "probes",
        "address": {"socket_address": {"address": bind_host, "port_value": port}},
        # Not closed by the failed health check nor by the drain (see the docstring).
        "drain_type": "MODIFY_ONLY",
        # Outside the data plane's connection bound: the kubelet is answered in a flood.
        "ignore_global_conn_limit": True,
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.connection_limit",
                        "typed_config": {
                            "@type": _CONNECTION_LIMIT_TYPE,
                            "stat_prefix": "probes",
                            "max_connections": PROBE_CONNECTIONS,
                        },
                    },
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    },
                ]
            }
        ],
    }


def admin_cluster(admin_port: int) -> dict[str, Any]:
    """Envoy's own admin on loopback, for ``/ready`` and the drain's calls."""
    address = {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
    return one_endpoint(ADMIN_CLUSTER, address, "0.25s")
