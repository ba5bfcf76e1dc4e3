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
import pytest
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


def _ready(probe_port: int, service: str) -> bool:
    """The kubelet's readiness probe: plaintext, the health port, ``p13n.<service>``."""
    with grpc.insecure_channel(f"127.0.0.1:{probe_port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=f"p13n.{service}"), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.mark.parametrize("service", ["profile", "offers"])
def test_profile_and_offers_serve_with_the_internal_key_alone(tmp_path: Path, service: str) -> None:
    """As their Deployments run them: P13N_INTERNAL_KEY from the p13n-keys Secret and no
    P13N_SECRET_KEY. Reading the secret key without one would make ``secret.key`` in the
    data directory (``services.common.config.Keys``): none may appear."""
    port, probe = free_port(), free_port()
    pki.ensure(tmp_path / "pki")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P13N_")}
    env |= {
        "P13N_DATA_DIR": str(tmp_path / "data"),
        f"P13N_{service.upper()}_PORT": str(port),
        "P13N_HEALTH_PORT": str(probe),
        "P13N_TLS_DIR": str(tmp_path / "pki" / service),
        "P13N_INTERNAL_KEY": os.urandom(32).hex(),
        "P13N_DRAIN_SECONDS": "0",
        "P13N_SHUTDOWN_GRACE": "1",
        **{
            f"P13N_{other.upper()}_TARGET": f"127.0.0.1:{free_port()}"
            for other in ("auth", "profile", "offers")
            if other != service
        },
    }
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not _ready(probe, service):
            assert process.poll() is None, log_of(process)
            assert time.monotonic() < deadline, f"{service} never became ready"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log_of(process)
    finally:
        process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
    made = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert "secret.key" not in made, made
    assert f"{service}.db" in made, made
