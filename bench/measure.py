"""One measurement: a load against a port while the CPU of the processes behind it is read."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import envoy_timing
from bench.envoy_timing import EnvoyTiming
from bench.pace import Pace
from bench.procs import CpuMeter, CpuTimeline, Pids, ThreadMeter
from bench.stalls import Recorder
from bench.wrk import Load, run_wrk


@dataclass(frozen=True)
class Target:
    """A path to drive and the processes that serve it, by role; ``records`` is where the
    suite's processes record their stalls (``Suite.records``), if they do."""

    name: str
    port: int
    pids: Pids
    records: Path | None = None


@dataclass(frozen=True)
class Traffic:
    """Who the visitors are: the token, the pool of ids, how long product lists are."""

    token: str
    pool: int
    list_len: int = 5


def _with_cpu(row: dict[str, Any], cpu: dict[str, float], requests: int) -> dict[str, Any]:
    row["cpu_s"] = {name: round(seconds, 3) for name, seconds in cpu.items()}
    row["cpu_per_request_s"] = {
        name: seconds / requests if requests else 0.0 for name, seconds in cpu.items()
    }
    return row


def closed_loop(target: Target, load: Load, traffic: Traffic) -> dict[str, Any]:
    """wrk at full speed: the maximum rate, with closed-loop latencies."""
    meter, threads = CpuMeter(target.pids), ThreadMeter(target.pids)
    meter.start()
    threads.start()
    result = run_wrk(
        target.port, load, token=traffic.token, pool=traffic.pool, list_len=traffic.list_len
    )
    cpu = meter.stop()
    row = _with_cpu(result.as_dict(), cpu, result.requests)
    row["threads"] = threads.stop(result.requests)
    return row


def open_loop(target: Target, rate: float, duration: float, traffic: Traffic) -> dict[str, Any]:
    """The open-loop generator at a fixed rate: latency as a visitor sees it at that load,
    with each process's CPU second by second (``cpu_timeline``) beside the generator's own
    per-second latencies, so a run whose tail misses shows what was busy when; and, where
    the suite records them, each service process's collector pauses, event-loop lag and
    writer batches, over the run and second by second (``processes``, bench/stalls.py), and
    Envoy's timing of each request second by second (``envoy``, bench/envoy_timing.py); and
    each process's CPU and wake-ups per request by thread (``threads``, ``ThreadMeter``);
    and the machine's pace over the run (``pace``, bench/pace.py)."""
    recorder = Recorder(target.pids, target.records) if target.records else None
    timing = EnvoyTiming(envoy_timing.log_path(target.records)) if target.records else None
    if recorder:
        recorder.start()
    if timing:
        timing.start()
    meter, threads = CpuMeter(target.pids), ThreadMeter(target.pids)
    cpu_timeline = CpuTimeline(target.pids)
    pace = Pace()
    pace.start()
    meter.start()
    threads.start()
    cpu_timeline.start()
    generator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.openloop",
            f"--port={target.port}",
            f"--rate={rate:.1f}",
            f"--duration={duration}",
            f"--token={traffic.token}",
            f"--pool={traffic.pool}",
            f"--list-len={traffic.list_len}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cpu_timeline.add("loadgen", generator.pid)
    out, err = generator.communicate()
    seconds = cpu_timeline.stop()
    cpu = meter.stop()
    paced = pace.stop()
    if generator.returncode != 0:
        raise RuntimeError(f"open-loop generator failed: {err[-2000:]}")
    row: dict[str, Any] = json.loads(out)
    row["threads"] = threads.stop(row["requests"])
    row["duration"] = duration
    row["cpu_timeline"] = seconds
    row["pace"] = paced
    if recorder:
        row["processes"] = recorder.stop(row["started_at"], duration)
    if timing:
        row["envoy"] = timing.stop(row["started_at"], duration)
    return _with_cpu(row, cpu, row["requests"])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate kept beside it."""
    ordered = sorted(runs, key=lambda r: r["req_per_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["runs_req_per_s"] = [r["req_per_s"] for r in runs]
    chosen["median_req_per_s"] = statistics.median(r["req_per_s"] for r in runs)
    return chosen
