"""Runs wrk with bench/load.lua and reads the JSON its ``done()`` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import workload

SCRIPT = Path(__file__).with_name("load.lua")


class LoadGeneratorMissing(RuntimeError):
    """wrk is not installed (Debian package ``wrk``)."""


@dataclass(frozen=True)
class Load:
    """How hard and how long to drive."""

    duration: float = 10.0
    connections: int = 16
    threads: int = 1


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "req_per_s": round(self.rate, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
        }


def run_wrk(port: int, load: Load, *, token: str, pool: int, list_len: int = 5) -> WrkResult:
    """Drives ``127.0.0.1:port`` with the bench's public-path traffic."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadGeneratorMissing("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="p13n-wrk-") as tmp:
        out = Path(tmp) / "summary.json"
        env = {
            **os.environ,
            "BENCH_TOKEN": token,
            "BENCH_ORIGIN": workload.ORIGIN,
            "BENCH_POOL": str(pool),
            "BENCH_LIST_LEN": str(list_len),
            "BENCH_PAGE_SHARE": str(workload.PAGE_SHARE),
            "BENCH_OUT": str(out),
        }
        command = [
            wrk,
            f"-t{load.threads}",
            f"-c{load.connections}",
            f"-d{max(1, round(load.duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(SCRIPT),
            f"http://127.0.0.1:{port}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        summary = json.loads(out.read_text())
    return WrkResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        latency_ms={k: round(v / 1000, 3) for k, v in summary["latency_us"].items()},
    )
