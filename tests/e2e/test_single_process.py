"""`p13n up --single-process` as a user runs it: auth, profile and offers in one process.

The demo (`--demo`) gives a public token the shop's origin may use, so events go through
Envoy as a browser's would. What the mode promises, checked on the running processes:
there are two (single and Envoy, beside the demo's shop: no auth, profile or offers of
their own); the services call each other in process, never over TCP to one another's
ports, while the per-service mode's offers does hold a connection to profile's (so the
check can fail); and the process dies as one (`kill -9`): the gateway answers 503 while
it is gone, the supervisor restarts it, and every event answered 200, before or after,
is stored.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import stored as stored_rows
from support.http import request
from support.ports import free_port
from support.suite import suite_env

from services.common.config import Settings
from services.common.replicas import SERVICES
from services.demo import definition as demo_config

START_TIMEOUT = 90.0
RECOVERY_TIMEOUT = 60.0
# Between two events of the sender: 25 a second at most, half of what Envoy lets one client
# address send (gateway/capacity.py) before its 429s, even while every answer is an
# immediate 503.
PACE = 0.04
# The gateway's answer while the process is gone or starting (gateway/render.py's local
# replies): auth, which takes the browser's events (gateway/public_path.py), serves last.
UNAVAILABLE = b'{"code":14,"message":"A p13n service is unavailable; retry shortly"}\n'


@dataclass
class Up:
    """A running `p13n up --demo` and what a client of it needs."""

    env: dict[str, str]
    data_dir: Path
    token: str
    api_key: str
    origin: str

    @property
    def data_port(self) -> int:
        return int(self.env["P13N_DATA_PORT"])

    def port_of(self, service: str) -> int:
        return int(self.env[f"P13N_{service.upper()}_PORT"])

    def children(self) -> dict[int, str]:
        """The suite's processes (pid: command line), `p13n up` itself left out."""
        found = {}
        marker = f"P13N_DATA_DIR={self.data_dir}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in environ.split(b"\0") and " up" not in cmdline:
                found[int(entry.name)] = cmdline
        return found

    def pids_running(self, module: str) -> list[int]:
        return [pid for pid, cmdline in self.children().items() if f"-m {module}" in cmdline]

    def send(self, visitor: str, seq: int, timeout: float = 10.0) -> tuple[int, bytes]:
        """A product view through Envoy, as the demo shop's page sends it; the status and
        the body."""
        reply = request(
            "POST",
            self.data_port,
            f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
            headers={"wp13n-token": self.token, "origin": self.origin},
            body={"td_client_id": visitor, "td_path": "/products/mug", "seq": seq},
            timeout=timeout,
        )
        return reply.status, reply.body


P13N = str(Path(sys.executable).with_name("p13n"))


def _up_env(data_dir: Path) -> dict[str, str]:
    """`p13n up`'s environment: free ports, its own data directory, the mode and the store
    chosen by the command's flags alone."""
    env = {**os.environ, **suite_env(data_dir), "P13N_DEMO_PORT": str(free_port())}
    env.pop("P13N_SINGLE_PROCESS", None)  # the run's mode (tests/support/suite.py) is not ours
    env.pop("P13N_DATABASE_URL", None)
    return env


@contextmanager
def _up(tmp_path: Path, *flags: str) -> Iterator[Up]:
    """`p13n up --demo *flags` until the block ends; the mode is chosen by ``flags`` alone."""
    env = _up_env(tmp_path)
    up = subprocess.Popen(
        [P13N, "up", "--demo", *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []
    # Read on after the banner too: a full pipe would block `p13n up`'s logging.
    reader = threading.Thread(target=_read_all, args=(up, printed), daemon=True)
    try:
        assert up.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            printed.append(line)
            if "p13n is up" in line or not line:
                break
        assert any("p13n is up" in line for line in printed), "".join(printed)
        reader.start()
        demo = json.loads((tmp_path / "demo.json").read_text())
        yield Up(
            env,
            tmp_path,
            demo["public_token"],
            demo["api_key"],
            f"http://127.0.0.1:{env['P13N_DEMO_PORT']}",
        )
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        if reader.is_alive():
            reader.join(10)
        assert up.stdout is not None
        up.stdout.close()  # the pipe is ours to close
    assert code == 0, "".join(printed)


def _read_all(up: subprocess.Popen[str], printed: list[str]) -> None:
    assert up.stdout is not None
    for line in up.stdout:
        printed.append(line)


def _socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


# /proc/net/tcp's "st" column: 01 is ESTABLISHED.
ESTABLISHED = "01"


def _connections_to(pid: int, port: int) -> list[str]:
    """The established TCP connections held by ``pid`` whose remote port is ``port``."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if inode in inodes and state == ESTABLISHED and int(remote.rsplit(":")[1], 16) == port:
                found.append(f"{local} -> {remote}")
    return found


def _personalized(up: Up, visitor: str) -> dict[str, Any]:
    reply = request(
        "POST",
        up.data_port,
        f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
        headers={"wp13n-token": up.token, "origin": up.origin},
        body={"td_client_id": visitor, "td_path": "/"},
    )
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


# A browser's event with U+0000 in a string, refused as over the network in both modes
# (in process no encoding is read: services.common.interceptor.as_received).
NUL_REFUSAL = (400, "event['note'] must not contain the NUL character (U+0000)")


def _nul_refused(up: Up) -> tuple[int, str]:
    reply = request(
        "POST",
        up.data_port,
        f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
        headers={"wp13n-token": up.token, "origin": up.origin},
        body={"td_client_id": "visitor-nul", "note": "a\u0000b"},
    )
    return reply.status, str(reply.json()["message"])


def test_single_process_is_one_process_whose_services_call_each_other_in_process(
    tmp_path: Path,
) -> None:
    with _up(tmp_path, "--single-process") as up:
        children = up.children().values()
        services = sorted(
            next(word for word in cmdline.split() if word.startswith("services."))
            for cmdline in children
            if "-m services." in cmdline and "services.demo" not in cmdline
        )
        assert services == ["services.single"], children
        assert len([c for c in children if "envoy" in c.split()[0]]) == 1, children
        (single,) = up.pids_running("services.single")

        answer = _personalized(up, "6f1c7a52-6c0e-4d7e-9a8e-0b7b0d6e2c11")
        welcome = answer["offers"][demo_config.WELCOME_BANNER]["attributes"]
        assert welcome["welcome_message"] == demo_config.WELCOME_MESSAGE
        for seq in range(5):  # offers records each with profile (Track) before answering
            assert up.send("visitor-tcp", seq)[0] == 200
        assert _product_views(up, "visitor-tcp") == 5  # through the admin API: auth, profile
        held = {name: _connections_to(single, up.port_of(name)) for name in SERVICES}
        assert held == {name: [] for name in SERVICES}
        assert _nul_refused(up) == NUL_REFUSAL


def test_per_service_offers_does_call_profile_over_tcp(tmp_path: Path) -> None:
    """The control of the test above: the same check finds offers' connection to profile."""
    with _up(tmp_path) as up:
        assert up.pids_running("services.single") == []
        (offers,) = up.pids_running("services.offers")
        for seq in range(5):
            assert up.send("visitor-tcp", seq)[0] == 200
        assert _connections_to(offers, up.port_of("profile")) != []
        assert _nul_refused(up) == NUL_REFUSAL


@dataclass
class Sender:
    """Sends product views for one visitor, one after another, until stopped."""

    up: Up
    visitor: str
    # (seq, status, whether the single process was already killed when it was sent)
    answers: list[tuple[int, int, bool]] = field(default_factory=list)
    # The bodies answered, but 200's (each its own offers), by status.
    bodies: dict[int, set[bytes]] = field(default_factory=dict)
    killed: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        for seq in itertools.count():
            if self.stopping.is_set():
                return
            after_kill = self.killed.is_set()
            try:
                status, body = self.up.send(self.visitor, seq, timeout=30)
            except OSError as error:
                # No answer at all: Envoy is never killed, so none is expected.
                status, body = 0, repr(error).encode()
            if status != 200:
                self.bodies.setdefault(status, set()).add(body)
            self.answers.append((seq, status, after_kill))
            time.sleep(PACE)

    def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"{what}: {self.statuses()}"
            time.sleep(0.05)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for _, status, _ in list(self.answers):
            counts[status] = counts.get(status, 0) + 1
        return counts


def test_kill_9_of_the_single_process_is_a_503_then_a_restart_losing_nothing(
    tmp_path: Path,
) -> None:
    with _up(tmp_path, "--single-process") as up:
        (single,) = up.pids_running("services.single")
        sender = Sender(up, "visitor-kill")
        thread = threading.Thread(target=sender.run)
        thread.start()
        try:
            sender.wait_for(lambda: sender.statuses().get(200, 0) >= 20, 60, "first events")
            sender.killed.set()
            os.kill(single, signal.SIGKILL)
            killed_at = len(sender.answers)
            sender.wait_for(
                lambda: any(status == 503 for _, status, _ in sender.answers[killed_at:]),
                RECOVERY_TIMEOUT,
                "a 503 while the process is gone",
            )
            sender.wait_for(
                lambda: [status for _, status, _ in sender.answers[-5:]] == [200] * 5,
                RECOVERY_TIMEOUT,
                "events answered again after the restart",
            )
        finally:
            sender.stopping.set()
            thread.join(60)
        (restarted,) = up.pids_running("services.single")
        assert restarted != single
        statuses = sender.statuses()
        # Only what the gateway answers with the upstream gone: no 500, no dropped request.
        assert set(statuses) == {200, 503}, (statuses, sender.bodies)
        assert sender.bodies[503] == {UNAVAILABLE}
        answered = {seq for seq, status, _ in sender.answers if status == 200}
        before_kill = {seq for seq, status, after in sender.answers if status == 200 and not after}
        assert len(before_kill) >= 20

        settings = Settings.from_env(up.env)
        dialect = stored_rows.dialect_of(settings)
        seq = stored_rows.json_text(dialect, "body", "seq")
        visitor = stored_rows.json_text(dialect, "body", "td_client_id")
        query = f"SELECT {seq} FROM events WHERE {visitor} = 'visitor-kill'"
        stored = {int(n) for (n,) in stored_rows.rows(settings, "profile", query)}
        assert answered - stored == set()
        # The profile says so too: its counter counts every stored product view.
        views = _product_views(up, "visitor-kill")
        assert views == len(stored)


def _product_views(up: Up, visitor: str) -> int:
    admin = int(up.env["P13N_ADMIN_PORT"])
    key = {"authorization": f"TD1 {up.api_key}"}
    segments = request("GET", admin, "/v1/parent_segments", headers=key).json()
    (ps,) = [s["id"] for s in segments["parent_segments"]]
    found = request(
        "GET", admin, f"/v1/parent_segments/{ps}/profiles/td_client_id/{visitor}", headers=key
    )
    assert found.status == 200, found.body
    attributes = {a["name"]: a["value"] for a in found.json()["attributes"]}
    return int(attributes["product_views"])


def test_a_data_directory_too_long_for_the_browser_socket_stops_up_with_what_to_change(
    tmp_path: Path,
) -> None:
    # The socket lies in the data directory; past 107 bytes Linux cannot bind it.
    data_dir = tmp_path / ("d" * max(1, 120 - len(str(tmp_path))))
    data_dir.mkdir()
    done = subprocess.run(
        [P13N, "up", "--single-process"],
        env=_up_env(data_dir),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    printed = done.stdout + done.stderr
    assert done.returncode != 0, printed
    assert "too long for the browser path's socket" in printed, printed
    assert "set P13N_DATA_DIR to a shorter path" in printed, printed
    assert not (data_dir / "browser.sock").exists()
