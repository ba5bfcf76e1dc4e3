"""`p13n up --replicas 2` on PostgreSQL: a replica killed with SIGKILL while clients send
requests through the gateway costs 5xx only within a second of the kill, and the
supervisor's restart brings it back into the gateway's rotation.

One replica of each service is killed in turn: offers (the gateway's upstream), profile
(reached only by offers, through the internal balanced channel) and auth (ext_authz).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from support.http import request
from support.ports import free_port
from support.suite import suite_env

from services.common.replicas import REPLICA_PORT_STEP
from services.demo import definition as demo_config

START_TIMEOUT = 90.0
# A dead replica may cost 5xx for this long after its kill, no longer (issue 14).
ALLOWED_SECONDS = 1.0
CLIENTS = 3


@contextmanager
def _up(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    p13n = str(Path(sys.executable).with_name("p13n"))
    up = subprocess.Popen(
        [p13n, "up", "--demo", "--replicas", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []
    # Reads the log after "p13n is up", so the pipe never fills and blocks the supervisor.
    reader = threading.Thread(target=printed.extend, args=(up.stdout,), daemon=True)
    try:
        assert up.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            assert line, f"p13n up exited before it was up:\n{''.join(printed)}"
            printed.append(line)
            if "p13n is up" in line:
                break
        reader.start()
        yield up
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        if reader.is_alive():
            reader.join(10)
        assert up.stdout is not None
        up.stdout.close()  # the pipe is ours to close
    assert code == 0


def _service_pid(data_dir: Path, service: str, port: int) -> int | None:
    """The process of ``service`` listening on ``port`` in this suite (not its workers)."""
    wanted = {f"P13N_DATA_DIR={data_dir}".encode(), f"P13N_{service.upper()}_PORT={port}".encode()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted <= environ and argv[1:3] == [b"-m", f"services.{service}".encode()]:
            return int(entry.name)
    return None


def _suite_processes(data_dir: Path) -> list[int]:
    marker = f"P13N_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _host_stats(envoy_admin: int, cluster: str, port: int) -> dict[str, str]:
    """Envoy's view of one endpoint: health flags and request counters."""
    text = request("GET", envoy_admin, "/clusters").body.decode()
    prefix = f"{cluster}::127.0.0.1:{port}::"
    return {
        line.removeprefix(prefix).split("::")[0]: line.rsplit("::", 1)[1]
        for line in text.splitlines()
        if line.startswith(prefix)
    }


@dataclass
class _Traffic:
    """Clients sending personalize requests through the gateway, each answer recorded."""

    port: int
    token: str
    origin: str
    answers: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def personalize(self, client: str) -> int:
        try:
            return request(
                "POST",
                self.port,
                f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
                headers={"wp13n-token": self.token, "origin": self.origin},
                body={"td_client_id": client, "td_path": "/"},
                timeout=5,
            ).status
        except OSError:
            return 0

    def wait_known_everywhere(self) -> None:
        """Until every replica knows the demo's token: on SQLite a replica of auth learns a
        token another created by polling, up to about a second later (issue 14)."""
        answers: list[int] = []
        deadline = time.monotonic() + 10
        while answers[-20:] != [200] * 20:
            assert time.monotonic() < deadline, answers
            answers.append(self.personalize("replica-test-warm-up"))

    def _client(self, number: int) -> None:
        sent = 0
        while not self._stop.is_set():
            sent += 1
            status = self.personalize(f"replica-test-{number}-{sent}")
            # When the answer came: a request in flight at the kill fails just after it.
            self.answers.append((time.monotonic(), status))

    @contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(10)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Polls ``condition()`` until true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{what} not within {timeout}s")


@dataclass
class _Suite:
    data_dir: Path
    envoy_admin: int
    admin: int
    api_key: str

    def stats(self, service: str, port: int) -> dict[str, str]:
        return _host_stats(self.envoy_admin, service, port)

    def kill_and_watch(self, service: str, port: int) -> dict[str, float]:
        """Kills the replica of ``service`` on ``port``; returns how long until Envoy marked
        it unhealthy, and until its restart was healthy and served again."""
        victim = _service_pid(self.data_dir, service, port)
        assert victim is not None, service
        served_before = int(self.stats(service, port)["rq_total"])
        os.kill(victim, signal.SIGKILL)
        found = _wait(
            lambda: "healthy" not in self.stats(service, port)["health_flags"],
            5,
            f"{service}'s dead replica marked unhealthy",
        )
        back = _wait(
            lambda: (
                _service_pid(self.data_dir, service, port) not in (None, victim)
                and self.stats(service, port)["health_flags"] == "healthy"
            ),
            30,
            f"{service}'s replica restarted and healthy",
        )

        def serving_again() -> bool:
            if service == "profile":  # the gateway reaches profile on the admin API only
                listed = request(
                    "GET",
                    self.admin,
                    "/v1/parent_segments",
                    headers={"authorization": f"TD1 {self.api_key}"},
                )
                assert listed.status == 200, listed.body
            return int(self.stats(service, port)["rq_total"]) > served_before

        _wait(serving_again, 10, f"{service}'s restarted replica serving again")
        return {"unhealthy_after": round(found, 3), "healthy_again_after": round(back, 3)}


def test_a_killed_replica_costs_at_most_a_second_of_errors_and_comes_back(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    shop_port = free_port()
    env = {
        **os.environ,
        **suite_env(tmp_path),
        **postgres_env,
        "P13N_AUTH_PORT": str(free_port(replicas=2)),
        "P13N_PROFILE_PORT": str(free_port(replicas=2)),
        "P13N_OFFERS_PORT": str(free_port(replicas=2)),
        "P13N_DEMO_PORT": str(shop_port),
        # The clients share one address: the per-address limit is not what is tested.
        "P13N_GATEWAY_REQUESTS_PER_SECOND": "100000",
        "P13N_GATEWAY_BURST": "100000",
        # Replicas are of each service: `p13n up` refuses them in the single-process mode
        # (tests/test_supervisor.py), which the run may have asked for.
        "P13N_SINGLE_PROCESS": "0",
    }
    with _up(env):
        demo = json.loads((tmp_path / "demo.json").read_text())
        suite = _Suite(
            tmp_path,
            int(env["P13N_ENVOY_ADMIN_PORT"]),
            int(env["P13N_ADMIN_PORT"]),
            demo["api_key"],
        )
        script = request("GET", shop_port, "/config.js").body.decode()
        token = json.loads(script.partition("=")[2].strip().removesuffix(";"))["token"]
        traffic = _Traffic(int(env["P13N_DATA_PORT"]), token, f"http://127.0.0.1:{shop_port}")
        kills: list[float] = []
        measured: dict[str, dict[str, float]] = {}
        traffic.wait_known_everywhere()
        with traffic.running():
            time.sleep(1)
            for service in ("offers", "profile", "auth"):
                port = int(env[f"P13N_{service.upper()}_PORT"]) + REPLICA_PORT_STEP
                kills.append(time.monotonic())
                measured[service] = suite.kill_and_watch(service, port)
                time.sleep(1)
    # Every replica, restarted ones and the killed ones' workers too, is gone with the suite.
    assert _suite_processes(tmp_path) == []
    failures = [(at, status) for at, status in traffic.answers if status != 200]
    late = [
        (status, [round(at - killed, 3) for killed in kills])
        for at, status in failures
        if not any(0 <= at - killed <= ALLOWED_SECONDS for killed in kills)
    ]
    after_kills = [(status, [round(at - killed, 3) for killed in kills]) for at, status in failures]
    print(f"\nreplicas: {len(traffic.answers)} requests, {measured}, failed: {after_kills}")
    assert {status for _, status in failures} <= {502, 503, 504}, after_kills
    assert late == [], late
    assert len(traffic.answers) > 100  # the clients were sending all along
