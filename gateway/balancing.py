"""How the gateway spreads requests over a service's replicas and routes around a dead one.

Only a cluster with several endpoints (``p13n up --replicas N``) gets these; one endpoint
(a single process, or a Kubernetes Service that kube-proxy balances) keeps the plain
cluster, since judging one address's health would judge every pod behind it.

Three mechanisms, from fastest to slowest:

- **Retries where the request never reached a replica** (``RETRY_ON``): the connection
  was refused (a killed replica's port is closed at once on one machine), the stream was
  refused (HTTP/2 REFUSED_STREAM), or the connection reset before the request was sent.
  Each retry goes to another host (``previous_hosts``). Nothing is retried once a replica
  may have seen the request: an event must not be stored twice.
- **Outlier detection**: consecutive local-origin failures (connect failure, reset,
  timeout) or gateway failures (502/503/504 answered by the replica) eject the
  host at once, without waiting for an interval. With traffic flowing, a killed replica
  was ejected within 0.06 s of its kill (measured on this machine).
- **Active gRPC health checks** (grpc.health.v1, the service's readiness name: the auth
  cluster asks ``p13n.auth``, ``services.common.readiness``): every 250 ms per host, so a
  replica that died or reports NOT_SERVING (draining) is marked unhealthy within two checks (0.4 to
  0.6 s measured, tests/e2e/test_replicas.py), also on a cluster with no traffic; a hung
  one (checks time out at 0.5 s) within about 1.6 s (computed, not measured). A restarted replica is healthy after
  its first passing check, which also lifts an ejection.

The panic threshold is 0: with every replica unhealthy Envoy answers 503 at once instead
of trying them all anyway.
"""

from __future__ import annotations

from typing import Any

from services.common.readiness import readiness_name

RETRY_ON = "connect-failure,refused-stream,reset-before-request"
# At most this many retries, each on another replica.
NUM_RETRIES = 2
HEALTH_CHECK_INTERVAL = "0.25s"
# A healthy Python replica answers a health check in about a millisecond; 0.5 s leaves room
# for a loaded one without letting a hung one linger.
HEALTH_CHECK_TIMEOUT = "0.5s"
UNHEALTHY_THRESHOLD = 2
HEALTHY_THRESHOLD = 1
CONSECUTIVE_FAILURES = 3
BASE_EJECTION_TIME = "5s"
MAX_EJECTION_TIME = "30s"

_PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
    },
}


def retry_policy() -> dict[str, Any]:
    """Retries of requests no replica received: a virtual host's (route.v3.RetryPolicy)
    and ext_authz's call to the auth cluster (core.v3.RetryPolicy: the same fields)."""
    return {
        "retry_on": RETRY_ON,
        "num_retries": NUM_RETRIES,
        "retry_host_predicate": [_PREVIOUS_HOSTS],
        "host_selection_retry_max_attempts": 3,
    }


def health_checks(service_name: str) -> list[dict[str, Any]]:
    """Active grpc.health.v1 checks of ``service_name``, over the cluster's own mutual TLS."""
    return [
        {
            "timeout": HEALTH_CHECK_TIMEOUT,
            "interval": HEALTH_CHECK_INTERVAL,
            "interval_jitter": "0.05s",
            # Envoy's default is 60 s for a cluster that has seen no request yet: a replica
            # would then be judged once a minute until traffic arrives.
            "no_traffic_interval": HEALTH_CHECK_INTERVAL,
            "unhealthy_interval": HEALTH_CHECK_INTERVAL,
            "unhealthy_threshold": UNHEALTHY_THRESHOLD,
            "healthy_threshold": HEALTHY_THRESHOLD,
            "grpc_health_check": {"service_name": service_name},
        }
    ]


def outlier_detection() -> dict[str, Any]:
    """Ejects a replica after consecutive failures that are its own, not its callers'."""
    return {
        # Connect failures, resets and timeouts counted apart from the replica's answers.
        "split_external_local_origin_errors": True,
        "consecutive_local_origin_failure": CONSECUTIVE_FAILURES,
        "enforcing_consecutive_local_origin_failure": 100,
        "consecutive_gateway_failure": CONSECUTIVE_FAILURES,
        "enforcing_consecutive_gateway_failure": 100,
        # A 500 is a bug that every replica shares; ejecting one would only move it.
        "enforcing_consecutive_5xx": 0,
        "enforcing_success_rate": 0,
        "enforcing_local_origin_success_rate": 0,
        "interval": "1s",
        "base_ejection_time": BASE_EJECTION_TIME,
        "max_ejection_time": MAX_EJECTION_TIME,
        # Never all of them: with every replica ejected nothing would be served at all.
        "max_ejection_percent": 50,
        "successful_active_health_check_uneject_host": True,
    }


def balanced(cluster: dict[str, Any]) -> dict[str, Any]:
    """``cluster`` with health checks, outlier detection and no panic mode.

    The cluster is named after its service (auth, profile, offers), whose readiness the
    checks ask: a draining replica leaves the rotation while it still serves.
    """
    return cluster | {
        "health_checks": health_checks(readiness_name(cluster["name"])),
        "outlier_detection": outlier_detection(),
        "common_lb_config": {"healthy_panic_threshold": {"value": 0.0}},
    }
