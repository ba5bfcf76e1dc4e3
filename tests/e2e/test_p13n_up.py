"""`p13n up` as a user runs it: a subprocess that serves, then stops leaving nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.http import request
from support.ports import is_open
from support.suite import single_process, suite_env
from support.tls import component_channel

from services.common import pki
from services.common.config import Settings


def _processes_with_data_dir(data_dir: Path) -> list[int]:
    """Pids whose environment names this data directory: the suite's children."""
    marker = f"P13N_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _assert_pki_made_by_up(data_dir: Path, env: dict[str, str]) -> None:
    """The CA and one certificate per component, keys readable by their owner only, and
    `p13n certs` lists each with its SAN."""
    keys = [data_dir / "pki" / "ca" / "ca.key"]
    keys += [data_dir / "pki" / name / "tls.key" for name in pki.COMPONENTS]
    assert {oct(key.stat().st_mode & 0o777) for key in keys} == {"0o600"}
    p13n = str(Path(sys.executable).with_name("p13n"))
    listed = subprocess.run(
        [p13n, "certs"], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert [line.split()[:2] for line in listed[1:]] == [
        [name, f"spiffe://p13n/{name}"] for name in pki.COMPONENTS
    ]


def _assert_no_plaintext_way_in(env: dict[str, str]) -> None:
    """The service processes `p13n up` runs answer no caller without a certificate."""
    for name in ("AUTH", "PROFILE", "OFFERS"):
        target = f"127.0.0.1:{env[f'P13N_{name}_PORT']}"
        with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as refused:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, name


def test_up_serves_and_sigterm_leaves_no_process_or_port(tmp_path: Path) -> None:
    env = {**os.environ, **suite_env(tmp_path)}
    p13n = str(Path(sys.executable).with_name("p13n"))
    up = subprocess.Popen(
        [p13n, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    ports = [
        int(env[k])
        for k in (
            "P13N_AUTH_PORT",
            "P13N_PROFILE_PORT",
            "P13N_OFFERS_PORT",
            "P13N_DATA_PORT",
            "P13N_ADMIN_PORT",
            "P13N_ENVOY_ADMIN_PORT",
        )
    ]
    try:
        assert up.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            lines.append(line)
            if "p13n is up" in line or not line:
                break
        assert any("p13n is up" in line for line in lines), "".join(lines)

        reply = request("POST", int(env["P13N_DATA_PORT"]), "/public/abc_db/abc_tbl", body={})
        assert reply.status == 401
        settings = Settings.from_env(env)
        offers_port = int(env["P13N_OFFERS_PORT"])
        with component_channel(settings, "cli", offers_port, "offers") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="p13n.offers.v1.PersonalizeService"),
                timeout=5,
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        _assert_pki_made_by_up(tmp_path, env)
        _assert_no_plaintext_way_in(env)
        children = _processes_with_data_dir(tmp_path)
        assert len(children) >= 4, children  # three services and Envoy (and up itself)
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        assert up.stdout is not None
        up.stdout.close()  # the pipe is ours to close
    assert code == 0
    assert _processes_with_data_dir(tmp_path) == []
    assert [p for p in ports if is_open(p)] == []


def _offers_module() -> bytes:
    """The process offers runs in: its own, or with P13N_SINGLE_PROCESS (which `p13n up`
    reads from the run's environment) the one it shares with profile."""
    return b"services.single" if single_process() else b"services.offers"


def test_up_restarts_a_child_that_dies(tmp_path: Path) -> None:
    env = {**os.environ, **suite_env(tmp_path)}
    p13n = str(Path(sys.executable).with_name("p13n"))
    up = subprocess.Popen(
        [p13n, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    offers_port = int(env["P13N_OFFERS_PORT"])
    try:
        assert up.stdout is not None
        printed: list[str] = []
        while "p13n is up" not in (line := up.stdout.readline()):
            assert line, f"p13n up exited before it was up:\n{''.join(printed)}"
            printed.append(line)
        offers = [
            pid
            for pid in _processes_with_data_dir(tmp_path)
            if _offers_module() in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(offers) == 1
        os.kill(offers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            is_open(offers_port) and _offers_pids(tmp_path) not in ([], offers)
        ):
            time.sleep(0.1)
        assert _offers_pids(tmp_path) not in ([], offers)
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(30)
        assert up.stdout is not None
        up.stdout.close()  # the pipe is ours to close
    assert _processes_with_data_dir(tmp_path) == []


def _offers_pids(data_dir: Path) -> list[int]:
    result = []
    for pid in _processes_with_data_dir(data_dir):
        try:
            if _offers_module() in Path(f"/proc/{pid}/cmdline").read_bytes():
                result.append(pid)
        except OSError:
            continue
    return result
