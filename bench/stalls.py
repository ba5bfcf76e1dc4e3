"""What stalled each service process during an open-loop run, second by second.

``bench/gcpause/sitecustomize.py`` records, in every process of a bench suite, collector
pauses, the event loop's lag, the profile writer's batches, the SQLite checkpoints and the
profile's writes on PostgreSQL in 100-ms buckets of the wall clock. ``Recorder`` empties
those records when a run starts and reads them when it ends;
``summary`` sums them over the run and over each second of it, the seconds lined up with
the open-loop generator's (``started_at`` + n, by when requests were due).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

from bench import gcpause
from bench.openloop import percentile
from bench.procs import Pids


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def labelled(pids: Pids, out: Path) -> dict[str, int]:
    """The processes with the hook, by role (``role-N`` where a role runs several)."""
    found = {}
    for role, role_pids in pids.items():
        hooked = [pid for pid in role_pids if gcpause.records_into(pid, out)]
        for number, pid in enumerate(hooked, 1):
            found[role if len(hooked) == 1 else f"{role}-{number}"] = pid
    return found


class Recorder:
    """Each hooked process's records over one run."""

    def __init__(self, pids: Pids, out: Path) -> None:
        self._out = out
        self._processes = labelled(pids, out)

    def start(self) -> None:
        for pid in self._processes.values():
            gcpause.read(self._out, pid)  # what came before the run is dropped

    def stop(self, started_at: float, duration: float) -> dict[str, Any]:
        return {
            label: summary(gcpause.read(self._out, pid), started_at, duration)
            for label, pid in self._processes.items()
        }


def _second_of(bucket: dict[str, Any], bucket_s: float, started_at: float) -> int:
    """The run's second that holds the bucket's middle."""
    return math.floor(float(bucket["at"]) + bucket_s / 2 - started_at)


def summary(report: dict[str, Any], started_at: float, duration: float) -> dict[str, Any]:
    """One process's stalls over the run and in each second of it."""
    count = max(1, math.ceil(duration))
    bucket_s = report.get("bucket_s", 0.1)
    by_second: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for bucket in report["buckets"]:
        second = _second_of(bucket, bucket_s, started_at)
        if 0 <= second < count:
            by_second[second].append(bucket)
    wrapped = _Wrapped(
        report.get("writer_wrapped", False),
        report.get("checkpoints_wrapped", False),
        report.get("pg_writes_wrapped", False),
    )
    found = _totals([b for buckets in by_second for b in buckets], wrapped)
    found["seconds"] = [_row(second, buckets, wrapped) for second, buckets in enumerate(by_second)]
    return found


class _Wrapped(NamedTuple):
    """What the process's hook could record besides collections and loop lag."""

    writer: bool
    checkpoints: bool
    pg_writes: bool


def _gc_by_generation(buckets: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    found = {}
    for generation in range(3):
        rows = [b["gc"][generation] for b in buckets]
        found[f"gen{generation}"] = {
            "count": sum(r[0] for r in rows),
            "total_ms": _ms(sum(r[1] for r in rows)),
            "max_ms": _ms(max((r[2] for r in rows), default=0.0)),
        }
    return found


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "samples": len(ordered),
        "p50": _ms(percentile(ordered, 50)),
        "p99": _ms(percentile(ordered, 99)),
        "max": _ms(ordered[-1]) if ordered else 0.0,
    }


def _collect(buckets: list[dict[str, Any]], key: str) -> list[Any]:
    return [value for b in buckets for value in b[key]]


def _totals(buckets: list[dict[str, Any]], wrapped: _Wrapped) -> dict[str, Any]:
    found: dict[str, Any] = {
        "gc": _gc_by_generation(buckets),
        "loop_lag_ms": _spread(_collect(buckets, "lags")),
    }
    if wrapped.writer:
        sizes = _collect(buckets, "batches")
        found["writer"] = {
            "batches": len(sizes),
            "units": sum(sizes),
            "mean_batch": round(sum(sizes) / len(sizes), 2) if sizes else 0.0,
            "max_batch": max(sizes, default=0),
            "queue_wait_ms": _spread(_collect(buckets, "waits")),
            "commit_ms": _spread(_collect(buckets, "commits")),
        }
    if wrapped.checkpoints:
        passes, catch_ups = _collect(buckets, "passes"), _collect(buckets, "catch_ups")
        found["checkpoints"] = {
            "passes": len(passes),
            "pass_ms": _spread(passes),
            "catch_ups": len(catch_ups),
            "catch_up_ms": _spread(catch_ups),
        }
    if wrapped.pg_writes:
        found["pg_write_ms"] = _spread(_collect(buckets, "pg_writes"))
    return found


def _row(second: int, buckets: list[dict[str, Any]], wrapped: _Wrapped) -> dict[str, Any]:
    """One second: collections and their pause time, the loop's lag, the writer's batches,
    the checkpoints, the writes on PostgreSQL."""
    pauses = [b["gc"][g] for b in buckets for g in range(3)]
    lags = sorted(_collect(buckets, "lags"))
    row: dict[str, Any] = {
        "second": second,
        "gc_count": sum(p[0] for p in pauses),
        "gc_ms": _ms(sum(p[1] for p in pauses)),
        "gc_max_ms": _ms(max((p[2] for p in pauses), default=0.0)),
        "lag_samples": len(lags),
        "lag_p99_ms": _ms(percentile(lags, 99)),
        "lag_max_ms": _ms(lags[-1]) if lags else 0.0,
    }
    if wrapped.writer:
        sizes = _collect(buckets, "batches")
        waits = sorted(_collect(buckets, "waits"))
        row |= {
            "batches": len(sizes),
            "units": sum(sizes),
            "max_batch": max(sizes, default=0),
            "wait_p99_ms": _ms(percentile(waits, 99)),
            "wait_max_ms": _ms(waits[-1]) if waits else 0.0,
        }
    if wrapped.checkpoints:
        passes, catch_ups = _collect(buckets, "passes"), _collect(buckets, "catch_ups")
        row |= {
            "checkpoint_passes": len(passes),
            "checkpoint_max_ms": _ms(max(passes, default=0.0)),
            "catch_ups": len(catch_ups),
            "catch_up_max_ms": _ms(max(catch_ups, default=0.0)),
        }
    if wrapped.pg_writes:
        pg_writes = sorted(_collect(buckets, "pg_writes"))
        row |= {
            "pg_writes": len(pg_writes),
            "pg_write_p99_ms": _ms(percentile(pg_writes, 99)),
            "pg_write_max_ms": _ms(pg_writes[-1]) if pg_writes else 0.0,
        }
    return row
