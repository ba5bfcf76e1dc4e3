"""The suite scaled out, as an operator runs it: `p13n up --replicas N` on PostgreSQL.

``ScaledSuite`` is the bench's ``p13n up`` subprocess (``bench/suite.py``) with what the
scale-out tests need beside it: each service's replicas found by their process (so one can
be ``kill -9``ed and its replacement awaited), and Envoy's own view of every replica (per
host: healthy or not, requests sent), read from its admin ``/clusters``. Envoy's counters
are how a test knows that requests went through *both* replicas without asking them.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.http import call
from bench.suite import Suite, processes_of

SERVICES = ("auth", "profile", "offers")


@dataclass(frozen=True)
class Host:
    """One upstream of an Envoy cluster as Envoy sees it."""

    port: int
    healthy: bool
    requests: int


@dataclass
class Kill:
    """A replica killed with SIGKILL, and when its replacement was seen serving."""

    service: str
    pid: int
    at: float  # time.monotonic() of the kill
    replaced_at: float | None = None


@dataclass
class ScaledSuite:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    replicas: int = 2
    _suite: Suite | None = None
    _known: set[int] = field(default_factory=set)

    @property
    def suite(self) -> Suite:
        assert self._suite is not None, "not started"
        return self._suite

    @property
    def data_port(self) -> int:
        return self.suite.data_port

    @property
    def admin_port(self) -> int:
        return self.suite.admin_port

    def start(self) -> None:
        # Logs at INFO would be noise in a failure's tail; warnings and errors are kept.
        self._suite = Suite(self.data_dir, extra_env=self.env, replicas=self.replicas)
        self._suite.start(timeout=120)
        self.wait_all_healthy()
        self._known = {pid for name in SERVICES for pid in self.pids(name)}

    def stop(self) -> None:
        if self._suite is not None:
            self._suite.stop()

    def output(self) -> str:
        """The last lines `p13n up` and its children printed."""
        return "".join(self.suite.output[-60:])

    def run_cli(self, *args: str) -> str:
        return self.suite.run_cli(*args)

    # -- processes --------------------------------------------------------------------

    def pids(self, service: str) -> list[int]:
        return sorted(processes_of(self.data_dir).get(service, []))

    def kill(self, service: str, index: int = 0) -> Kill:
        """``kill -9`` of one replica of ``service`` (the ``index``-th by pid)."""
        pid = self.pids(service)[index]
        # The time before the signal: a request the kill fails can end before a clock read
        # after os.kill returns (the killer thread may wait for the interpreter lock).
        at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return Kill(service, pid, at)

    def wait_replaced(self, kill: Kill, timeout: float = 20.0) -> None:
        """Until the supervisor's new process for the killed replica listens and Envoy
        counts every replica of the service healthy again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids(kill.service)
            new = [pid for pid in pids if pid not in self._known]
            if (
                len(pids) == self.replicas
                and kill.pid not in pids
                and all(listening_ports(pid) for pid in new)
                and self.all_healthy(kill.service)
            ):
                kill.replaced_at = time.monotonic()
                self._known.update(pids)
                return
            time.sleep(0.05)
        raise TimeoutError(
            f"{kill.service} replica {kill.pid} was not replaced within {timeout:.0f}s: "
            f"pids {self.pids(kill.service)}, hosts {self.hosts(kill.service)}\n{self.output()}"
        )

    # -- Envoy's view -----------------------------------------------------------------

    def hosts(self, cluster: str) -> list[Host]:
        """The upstreams of ``cluster`` (auth, profile, offers) from Envoy's admin."""
        reply = call("GET", self.suite.ports["P13N_ENVOY_ADMIN_PORT"], "/clusters?format=json")
        statuses = json.loads(reply.body)["cluster_statuses"]
        [found] = [c for c in statuses if c["name"] == cluster]
        return [_host(h) for h in found.get("host_statuses", [])]

    def requests_per_host(self, cluster: str) -> dict[int, int]:
        return {h.port: h.requests for h in self.hosts(cluster)}

    def all_healthy(self, cluster: str) -> bool:
        hosts = self.hosts(cluster)
        return len(hosts) == self.replicas and all(h.healthy for h in hosts)

    def wait_all_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.all_healthy(name) for name in SERVICES):
            if time.monotonic() > deadline:
                views = {name: self.hosts(name) for name in SERVICES}
                raise TimeoutError(f"not every replica is healthy in Envoy: {views}")
            time.sleep(0.1)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (its sockets matched in /proc/net/tcp*)."""
    inodes, ports = set(), set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for table in ("tcp", "tcp6"):
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            for fields in (row.split() for row in rows):
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:  # gone (killed meanwhile), or not ours
        return set()
    return ports


def _host(status: dict[str, Any]) -> Host:
    stats = {s["name"]: int(s.get("value", 0)) for s in status.get("stats", [])}
    health = status.get("health_status", {})
    # Any failed_* flag (active check, outlier ejection) or a non-HEALTHY EDS state counts.
    failed = any(v for k, v in health.items() if k.startswith("failed") or k == "pending_active_hc")
    return Host(
        port=int(status["address"]["socket_address"]["port_value"]),
        healthy=health.get("eds_health_status", "HEALTHY") == "HEALTHY" and not failed,
        requests=stats.get("rq_total", 0),
    )


def delta(before: dict[int, int], after: dict[int, int]) -> dict[int, int]:
    """Requests each host received between two readings of ``requests_per_host``."""
    return {port: n - before.get(port, 0) for port, n in after.items()}
