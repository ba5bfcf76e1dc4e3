"""The shared entry point: a started service keeps its start-up objects out of collections,
and a stopping one drains."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.ports import free_port, is_open
from support.processes import log_of, service_process

from services.common import pki, tls
from services.common.callers import AUTH, CLI

HOOK = Path(__file__).resolve().parents[2] / "bench" / "gcpause"


def collections(out: Path, pid: int) -> dict[str, Any]:
    """Asks the hook in process ``pid`` for its report (``bench/gcpause/sitecustomize.py``)."""
    target = out / f"{pid}.json"
    target.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    found: dict[str, Any] = json.loads(target.read_text())
    return found


def test_a_started_service_has_frozen_its_start_up_objects(tmp_path: Path) -> None:
    """A real service process, read through the bench's collector hook (``bench/gcpause``):
    once serving, what start-up made is frozen, so a full collection walks little."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "P13N_GCPAUSE_DIR": str(tmp_path),
        "P13N_DATA_DIR": str(tmp_path),
        "P13N_AUTH_PORT": str(port),
        "P13N_SHUTDOWN_GRACE": "1",
        "P13N_DRAIN_SECONDS": "0",
    }
    pki.ensure(tmp_path / "pki")
    process = subprocess.Popen([sys.executable, "-m", "services.auth"], env=env)
    try:
        deadline = time.monotonic() + 20
        while not is_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_open(port)
        # Listening comes just before the freeze; ask until the freeze has happened.
        report = collections(tmp_path, process.pid)
        while report["frozen"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            report = collections(tmp_path, process.pid)
        assert report["frozen"] > 10_000  # modules, descriptors, grpc: all of start-up
        assert report["tracked"][2] < report["frozen"] // 10
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def _health(pki_dir: Path, port: int, name: str = "p13n.auth") -> int:
    """What the auth process's health says for ``name`` (by default its readiness)."""
    credentials = tls.channel_credentials(pki_dir / CLI)
    target = f"127.0.0.1:{port}"
    with grpc.secure_channel(target, credentials, options=tls.target_options(AUTH)) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=name), timeout=5
        )
    return int(reply.status)


def test_a_service_process_drains_after_sigterm_until_a_second_signal(tmp_path: Path) -> None:
    """The runner reads the drain from the environment: after SIGTERM the process answers
    NOT_SERVING for its readiness, stays alive ("" SERVING) and keeps serving for the drain
    (30 s here); Ctrl-C then ends it at once."""
    port = free_port()
    # The block kills the process if it is still running, closes its pipe and reaps it.
    with service_process("auth", tmp_path, port, P13N_DRAIN_SECONDS="30") as process:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(grpc.RpcError):
                if _health(tmp_path / "pki", port) == health_pb2.HealthCheckResponse.SERVING:
                    break
            time.sleep(0.05)
        assert _health(tmp_path / "pki", port) == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        while _health(tmp_path / "pki", port) == health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _health(tmp_path / "pki", port) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _health(tmp_path / "pki", port, "") == health_pb2.HealthCheckResponse.SERVING
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        log = log_of(process)
    assert not is_open(port)
    assert "a second signal cut the drain short" in log
