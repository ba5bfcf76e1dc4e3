"""Why an open-loop run's tail is what it is: its worst seconds, beside what was busy then.

``bench.openloop`` reports latencies second by second and its own lag; ``bench.measure``
samples every process's CPU second by second in the same run. The report prints the worst
seconds with both, so a run whose p95 or p99 misses says whether the cores were saturated
(and by whom), whether the generator itself was late, or neither (then look at the
services: collector pauses, the profile writer's batches, checkpoints).
"""

from __future__ import annotations

from typing import Any

# Above this many busy cores (of 2) in a second, requests queue for the CPU.
SATURATED_CORES = 1.8
# The generator counts as late when a request left this much after it was due.
LATE_GENERATOR_MS = 5.0


def worst_seconds(run: dict[str, Any], count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` seconds with the highest p99, each with the CPU sampled over it."""
    seconds = sorted(run.get("timeline", []), key=lambda row: row["p99"], reverse=True)
    started = run.get("started_at")
    cpu_rows = run.get("cpu_timeline", [])
    worst = []
    for row in seconds[:count]:
        cpu = _cpu_over(cpu_rows, started + row["second"] + 0.5) if started else None
        worst.append({**row, "cpu": cpu})
    return worst


def _cpu_over(cpu_rows: list[dict[str, float]], instant: float) -> dict[str, float] | None:
    """The CPU row whose second holds ``instant`` (rows end at ``until``)."""
    for row in cpu_rows:
        if row["until"] - 1.0 <= instant <= row["until"]:
            return {k: v for k, v in row.items() if k not in ("second", "until")}
    return None


def explain(run: dict[str, Any]) -> list[str]:
    """Markdown lines on the run's worst seconds and the generator's own lag."""
    lines = []
    lag, wait = run.get("schedule_lag_ms"), run.get("connection_wait_ms")
    if lag and wait:
        late = lag["max"] > LATE_GENERATOR_MS or wait["max"] > LATE_GENERATOR_MS
        lines.append(
            f"Generator lag: schedule p99 {lag['p99']:.2f} / max {lag['max']:.2f} ms, waiting "
            f"for a connection p99 {wait['p99']:.2f} / max {wait['max']:.2f} ms"
            + (" (the generator was late: part of the tail is its own)." if late else ".")
        )
    for row in worst_seconds(run):
        cpu = row["cpu"]
        busy = ""
        if cpu:
            roles = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k != "machine")
            machine = cpu.get("machine", 0.0)
            verdict = " (saturated)" if machine >= SATURATED_CORES else ""
            busy = f"; cores busy: machine {machine:.2f}{verdict} ({roles})"
        lines.append(
            f"- second {row['second']}: {row['requests']} requests, p95 {row['p95']:.2f}, "
            f"p99 {row['p99']:.2f}, max {row['max']:.2f} ms{busy}"
        )
    return lines
