"""Capacity under abuse (issue 13), the full version of tests/e2e/test_capacity.py.

``p13n up`` with the gateway's production limits (bench/suite.py lifts the per-address one
for the throughput runs; this puts it back), then:

- idle: 20,000 idle connections from 127.0.0.2-4 while a normal client from 127.0.0.5,
  its keep-alive connection opened before, sends page views; a new connection to the admin
  API and one to Envoy's admin must be answered;
- flood: h2load from 127.0.0.1, 20 connections x 100 streams for 8 s, with the site's own
  public token, while the normal client sends page views from 127.0.0.5.

``python -m bench.capacity`` runs it alone; ``python -m bench.run`` runs it after the
throughput rows unless ``--no-capacity``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import workload
from bench.abuse import Call, KeepAlive, flood_result, idle_connections, start_flood
from bench.configure import configure
from bench.http import call as http_call
from bench.suite import Suite
from gateway.capacity import Capacity

ATTACKERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
NORMAL = "127.0.0.5"


@dataclass(frozen=True)
class Sizes:
    """How hard each run pushes: the bench's full size by default."""

    idle_connections: int = 20_000
    flood_connections: int = 20
    flood_streams: int = 100
    flood_seconds: float = 8.0


PRODUCTION_LIMITS = {
    "P13N_GATEWAY_REQUESTS_PER_SECOND": str(Capacity().requests_per_second),
    "P13N_GATEWAY_BURST": str(Capacity().burst),
}


def _page_view(token: str) -> Call:
    headers = {
        "wp13n-token": token,
        "origin": workload.ORIGIN,
        "content-type": "application/json",
    }
    return Call("POST", "/public/shop_db/page_views", headers, b'{"td_client_id": "normal-1"}')


def _idle(suite: Suite, event: Call, envoy_admin_port: int, sizes: Sizes) -> dict[str, Any]:
    normal = KeepAlive(suite.data_port, NORMAL)
    first = normal.send(event)
    per_attacker = sizes.idle_connections // len(ATTACKERS) + 1
    try:
        with idle_connections(suite.data_port, ATTACKERS, per_attacker) as held:
            seen = normal.probe(event, count=100, interval=0.02)
            started = time.perf_counter()
            admin = _status(suite.admin_port, "/v1/parent_segments")
            admin_ms = (time.perf_counter() - started) * 1000
            ready = _status(envoy_admin_port, "/ready")
    finally:
        normal.close()
    return {
        "attempted": per_attacker * len(ATTACKERS),
        "held_per_address": held,
        "normal_first_status": first,
        "normal": seen.summary(),
        "admin_api_new_connection": {"status": admin, "ms": round(admin_ms, 1)},
        "envoy_admin_ready": ready,
    }


def _status(port: int, path: str) -> int:
    """A new connection's answer, 0 if none came within 5 s."""
    try:
        return http_call("GET", port, path, None, {}, timeout=5).status
    except OSError:
        return 0


def _flood(suite: Suite, event: Call, work: Path, sizes: Sizes) -> dict[str, Any]:
    normal = KeepAlive(suite.data_port, NORMAL)
    flood = start_flood(
        suite.data_port,
        event,
        work / "flood-body.json",
        connections=sizes.flood_connections,
        streams=sizes.flood_streams,
        seconds=sizes.flood_seconds,
    )
    try:
        time.sleep(0.5)
        count = max(1, int((sizes.flood_seconds - 1) / 0.07))
        seen = normal.probe(event, count=count, interval=0.05)
    finally:
        normal.close()
        result = flood_result(flood, timeout=sizes.flood_seconds + 60)
    return {"flood": vars(result), "normal": seen.summary()}


def measure(work: Path, sizes: Sizes | None = None) -> dict[str, Any]:
    """Both runs on a suite of their own; the figures for docs/performance.md."""
    suite = Suite(work / "capacity-suite", extra_env=PRODUCTION_LIMITS)
    try:
        suite.start()
        sizes = sizes or Sizes()
        setup = configure(suite)
        event = _page_view(setup.public_token)
        envoy_admin = suite.ports["P13N_ENVOY_ADMIN_PORT"]
        return {
            "limits": vars(Capacity()),
            "sizes": asdict(sizes),
            "idle": _idle(suite, event, envoy_admin, sizes),
            "stream_flood": _flood(suite, event, work, sizes),
        }
    finally:
        suite.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    for name, default in asdict(Sizes()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    sizes = Sizes(**vars(parser.parse_args()))
    with tempfile.TemporaryDirectory(prefix="p13n-capacity-") as work:
        print(json.dumps(measure(Path(work), sizes), indent=1))


if __name__ == "__main__":
    main()
