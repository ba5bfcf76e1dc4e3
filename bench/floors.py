"""Runs the floors: the trivial servers (bench/floor.py) and their Envoy."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.floor_envoy import write_envoy_config
from bench.suite import venv_bin, wait_for
from gateway.render import SDS_DIR_NAME, GatewayTls
from services.common.ports import free_port


@dataclass(frozen=True)
class RealServices:
    """The running suite's pieces the F3r and T floors use."""

    auth_port: int
    profile_target: str
    parent_segment_id: str
    internal_key: bytes
    # The suite's data directory: its certificates (pki/) and the gateway's SDS files.
    data_dir: Path | None = None


class Floors:
    """The trivial servers and the floor Envoy, each a process of its own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports: dict[str, int] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, real: RealServices | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        names = ["F1", "F2", "F2h", "F3"] + (["F3r", "T"] if real else [])
        servers = ["offers", "http", "authz"] + (["relay"] if real else [])
        self.ports = {name: free_port() for name in [*names, *servers, "admin"]}
        for kind in servers:
            server = ["bench.http_floor"] if kind == "http" else ["bench.floor", kind]
            argv = [sys.executable, "-m", *server, f"--port={self.ports[kind]}"]
            env = None
            if kind == "relay" and real:
                argv += [
                    f"--profile-target={real.profile_target}",
                    f"--parent-segment={real.parent_segment_id}",
                ]
                if real.data_dir is not None:
                    argv.append(f"--tls-dir={real.data_dir / 'pki' / 'offers'}")
                env = {**os.environ, "P13N_INTERNAL_KEY": real.internal_key.hex()}
            self._spawn(kind, argv, env)
        config = write_envoy_config(
            self.directory / "envoy.json",
            ports={name: self.ports[name] for name in names},
            offers_port=self.ports["offers"],
            authz_port=self.ports["authz"],
            http_port=self.ports["http"],
            envoy_admin_port=self.ports["admin"],
            real_auth_port=real.auth_port if real else None,
            relay_port=self.ports["relay"] if real else None,
            real_tls=(
                # The suite's own SDS files, where `p13n up` wrote them.
                GatewayTls(real.data_dir / "pki" / "gateway", real.data_dir / SDS_DIR_NAME)
                if real and real.data_dir
                else None
            ),
        )
        self._spawn(
            "envoy",
            [
                venv_bin("envoy"),
                "-c",
                str(config),
                "--log-level",
                "error",
                "--concurrency",
                "2",
                "--disable-hot-restart",
            ],
        )
        for name in [*servers, *names]:
            port = self.ports[name]
            wait_for(lambda port=port: _is_open(port), 30, f"floor {name} on port {port}")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self._processes[name] = subprocess.Popen(argv, env=env, start_new_session=True)

    def pids(self) -> dict[str, list[int]]:
        return {name: [process.pid] for name, process in self._processes.items()}

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self._processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _is_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False
