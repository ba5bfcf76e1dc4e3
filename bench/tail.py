"""Why an open-loop run's tail is what it is: its worst seconds, beside what was busy then.

``bench.openloop`` reports latencies second by second and its own lag; ``bench.measure``
samples every process's CPU second by second in the same run, and reads what each service
process recorded (``bench/stalls.py``: collector pauses, event-loop lag, the profile
writer's batches, the SQLite checkpoints, the profile's writes on PostgreSQL), and the
machine's pace beside the run (``bench/pace.py``: the CPU one fixed piece of Python took).
The report prints the worst seconds with all of it and one verdict per second: saturated
cores, a Python process at its one core, a slow machine, the generator late, a collector
pause, a late event loop, writes queued behind slow commits, a long checkpoint, a slow
write on PostgreSQL, and where Envoy's timing log says the time went
(``bench/envoy_timing.py``: before the upstream, in the service, or outside Envoy), or none
of these (then look further: the disk, the machine's other work).
"""

from __future__ import annotations

from typing import Any

from bench import pace, single

# Above this many busy cores (of 2) in a second, requests queue for the CPU.
SATURATED_CORES = 1.8
# A Python process this busy in a second was at its one core: the interpreter lock lets
# one thread run Python at a time (threads in C, SQLite's or gRPC's, may add a little more),
# so its requests queued, however idle the machine's other core.
ONE_CORE = 0.95
# Roles that are not one interpreter: Envoy's workers, the server's processes, the
# machine's totals and the load generator.
_NOT_ONE_INTERPRETER = frozenset({"machine", "steal", "envoy", "postgres", "loadgen"})
# The generator counts as late when a request left this much after it was due.
LATE_GENERATOR_MS = 5.0
# A collector pause this long holds every request of the process behind it: with p95's
# target at 10 ms, a pause over half of it is a cause, not noise.
GC_PAUSE_MS = 5.0
# An event loop that fired a 50-ms timer this late held its requests as long.
LOOP_LAG_MS = 5.0
# An event waiting this long for the profile writer waited behind a slow commit (SQLite's
# fsync): its answer is that much later.
WRITER_WAIT_MS = 5.0
# A checkpoint pass this long kept the disk busy while the writer synced its commits; a
# catch-up this long held the writes behind it (services/common/checkpoints.py).
CHECKPOINT_MS = 5.0
# A profile write on PostgreSQL this long (a connection from the pool, its statements, its
# commit's sync on the server) held its request as long.
PG_WRITE_MS = 5.0
# The hypervisor gave this much of a core to other machines in a second: every process of
# the run was that much slower, whatever it did.
STEAL_CORES = 0.05
# The fixed piece of work took this many times its fastest CPU of the run in a second: the
# machine ran slower then, for every process alike (bench/pace.py).
SLOW_PACE_X = 1.5
# A request held this long by one part of Envoy's path (before its upstream, or in it)
# was late there: the p95 target's whole budget.
ENVOY_PART_MS = 10.0
# The generator saw a p99 this much above the longest request Envoy held: the time was
# spent outside Envoy (in the generator, the kernel or the connection).
OUTSIDE_ENVOY_MS = 5.0
# Issue 17's half-rate targets, each run on its own.
P95_TARGET_MS = 10.0
P99_TARGET_MS = 25.0


def verdict(run: dict[str, Any]) -> dict[str, Any]:
    """Whether the run met the half-rate targets (p95 ≤ 10 ms and p99 ≤ 25 ms)."""
    latency = run["latency_ms"]
    p95_met, p99_met = latency["p95"] <= P95_TARGET_MS, latency["p99"] <= P99_TARGET_MS
    return {"p95_met": p95_met, "p99_met": p99_met, "met": p95_met and p99_met}


def worst_seconds(run: dict[str, Any], count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` seconds with the highest p99, each with the CPU sampled over it and
    each service process's row of that second (``processes``: label → row)."""
    seconds = sorted(run.get("timeline", []), key=lambda row: row["p99"], reverse=True)
    started = run.get("started_at")
    cpu_rows = run.get("cpu_timeline", [])
    worst = []
    for row in seconds[:count]:
        cpu = _cpu_over(cpu_rows, started + row["second"] + 0.5) if started else None
        processes = {
            label: found["seconds"][row["second"]]
            for label, found in run.get("processes", {}).items()
            if row["second"] < len(found["seconds"])
        }
        paced = pace.in_second(run.get("pace", []), started + row["second"]) if started else None
        envoy = _envoy_second(run, row["second"])
        worst.append({**row, "cpu": cpu, "processes": processes, "pace": paced, "envoy": envoy})
    return worst


def _envoy_second(run: dict[str, Any], second: int) -> dict[str, Any] | None:
    """Envoy's timing of the second's requests, if its log has any (bench/envoy_timing.py)."""
    seconds = (run.get("envoy") or {}).get("seconds", [])
    found = seconds[second] if second < len(seconds) else None
    return found if found and found["requests"] else None


def _cpu_over(cpu_rows: list[dict[str, float]], instant: float) -> dict[str, float] | None:
    """The CPU row whose second holds ``instant`` (rows end at ``until``)."""
    for row in cpu_rows:
        if row["until"] - 1.0 <= instant <= row["until"]:
            return {k: v for k, v in row.items() if k not in ("second", "until")}
    return None


def explained_by(second: dict[str, Any]) -> str:
    """What explains one of ``worst_seconds``: every cause over its bar, or none."""
    causes = _cpu_causes(second.get("cpu") or {})
    paced = second.get("pace")
    if paced and paced["x"] >= SLOW_PACE_X:
        causes.append(
            f"a slow machine (a fixed piece of work took {paced['x']:.1f} times its "
            "fastest CPU of the run)"
        )
    lag = second.get("generator_lag_max", 0.0)
    if lag > LATE_GENERATOR_MS:
        causes.append(f"generator late ({lag:.1f} ms)")
    processes = second.get("processes", {})
    paused = [f"{k} {p['gc_max_ms']:.1f} ms" for k, p in processes.items() if _gc_over(p)]
    if paused:
        causes.append(f"a GC pause over {GC_PAUSE_MS:.0f} ms ({', '.join(paused)})")
    late = [f"{k} {p['lag_max_ms']:.1f} ms" for k, p in processes.items() if _lag_over(p)]
    if late:
        causes.append(f"loop lag over {LOOP_LAG_MS:.0f} ms ({', '.join(late)})")
    queued = [f"{k} {p['wait_max_ms']:.1f} ms" for k, p in processes.items() if _queued(p)]
    if queued:
        causes.append(
            f"writes queued over {WRITER_WAIT_MS:.0f} ms behind slow commits ({', '.join(queued)})"
        )
    passes = [f"{k} {p['checkpoint_max_ms']:.1f} ms" for k, p in processes.items() if _long_pass(p)]
    if passes:
        causes.append(f"a checkpoint pass over {CHECKPOINT_MS:.0f} ms ({', '.join(passes)})")
    catch_ups = [
        f"{k} {p['catch_up_max_ms']:.1f} ms" for k, p in processes.items() if _caught_up(p)
    ]
    if catch_ups:
        causes.append(
            f"the writer caught up a checkpoint over {CHECKPOINT_MS:.0f} ms ({', '.join(catch_ups)})"
        )
    slow_writes = [
        f"{k} {p['pg_write_max_ms']:.1f} ms" for k, p in processes.items() if _slow_pg_write(p)
    ]
    if slow_writes:
        causes.append(f"a write on PostgreSQL over {PG_WRITE_MS:.0f} ms ({', '.join(slow_writes)})")
    causes += _in_envoys_view(second)
    return "; ".join(causes) if causes else "none of these"


def _cpu_causes(cpu: dict[str, float]) -> list[str]:
    """What the second's CPU says: both cores busy, a Python process near its one core, or
    the hypervisor taking cores."""
    causes = []
    machine = cpu.get("machine", 0.0)
    if machine >= SATURATED_CORES:
        causes.append(f"saturated cores ({machine:.2f} of 2 busy)")
    pinned = [
        f"{role} {cores:.2f}"
        for role, cores in cpu.items()
        if role not in _NOT_ONE_INTERPRETER and cores >= ONE_CORE
    ]
    if pinned:
        causes.append(f"a process at its one core ({', '.join(pinned)} cores busy)")
    stolen = cpu.get("steal", 0.0)
    if stolen >= STEAL_CORES:
        causes.append(f"the hypervisor took {stolen:.2f} cores (steal)")
    return causes


def _in_envoys_view(second: dict[str, Any]) -> list[str]:
    """Where Envoy says the second's time went: before the upstream, in it, or outside."""
    envoy = second.get("envoy")
    if not envoy:
        return []
    causes = []
    if envoy["before_max_ms"] > ENVOY_PART_MS:
        causes.append(
            f"Envoy held a request {envoy['before_max_ms']:.1f} ms before sending it on "
            "(ext_authz, the buffer)"
        )
    if envoy["upstream_max_ms"] > ENVOY_PART_MS:
        causes.append(f"the service took up to {envoy['upstream_max_ms']:.1f} ms (Envoy's view)")
    if second["p99"] - envoy["total_max_ms"] > OUTSIDE_ENVOY_MS:
        causes.append(
            f"outside Envoy (it held no request over {envoy['total_max_ms']:.1f} ms: the "
            "generator, the kernel or the connection)"
        )
    return causes


def _gc_over(row: dict[str, Any]) -> bool:
    return bool(row["gc_max_ms"] > GC_PAUSE_MS)


def _lag_over(row: dict[str, Any]) -> bool:
    return bool(row["lag_max_ms"] > LOOP_LAG_MS)


def _queued(row: dict[str, Any]) -> bool:
    return bool(row.get("wait_max_ms", 0.0) > WRITER_WAIT_MS)


def _long_pass(row: dict[str, Any]) -> bool:
    return bool(row.get("checkpoint_max_ms", 0.0) > CHECKPOINT_MS)


def _caught_up(row: dict[str, Any]) -> bool:
    return bool(row.get("catch_up_max_ms", 0.0) > CHECKPOINT_MS)


def _slow_pg_write(row: dict[str, Any]) -> bool:
    return bool(row.get("pg_write_max_ms", 0.0) > PG_WRITE_MS)


def _process_cells(processes: dict[str, dict[str, Any]]) -> list[str]:
    gc = ", ".join(
        f"{k} {p['gc_ms']:.1f} ({p['gc_count']} collections, longest {p['gc_max_ms']:.1f})"
        for k, p in processes.items()
    )
    lag = ", ".join(
        f"{k} {p['lag_max_ms']:.1f} (p99 {p['lag_p99_ms']:.1f})" for k, p in processes.items()
    )
    cells = [f"  - GC pause ms: {gc}", f"  - loop lag max ms: {lag}"]
    for k, p in processes.items():
        # A profile on PostgreSQL has no group-commit writer: its writes are its own line.
        if "batches" in p and not p.get("pg_writes"):
            cells.append(
                f"  - {k}'s writer: {p['batches']} batches, {p['units']} writes (largest "
                f"{p['max_batch']}), queue wait p99 {p['wait_p99_ms']:.1f} / max "
                f"{p['wait_max_ms']:.1f} ms"
            )
        if p.get("checkpoint_passes") or p.get("catch_ups"):
            cells.append(
                f"  - {k}'s checkpoints: {p['checkpoint_passes']} passes (longest "
                f"{p['checkpoint_max_ms']:.1f} ms), {p['catch_ups']} catch-ups by the writer "
                f"(longest {p['catch_up_max_ms']:.1f} ms)"
            )
        if p.get("pg_writes"):
            cells.append(
                f"  - {k}'s writes on PostgreSQL: {p['pg_writes']} (p99 "
                f"{p['pg_write_p99_ms']:.1f} / longest {p['pg_write_max_ms']:.1f} ms)"
            )
    return cells


def over_the_run(run: dict[str, Any]) -> list[str]:
    """Markdown lines: each process's collections, loop lag and writer over the whole run."""
    lines = []
    for label, found in run.get("processes", {}).items():
        gens = ", ".join(
            f"{name} {g['count']} (total {g['total_ms']:.1f}, max {g['max_ms']:.1f} ms)"
            if g["count"]
            else f"{name} 0"
            for name, g in found["gc"].items()
        )
        lag = found["loop_lag_ms"]
        line = (
            f"- {label}: GC {gens}; loop lag p99 {lag['p99']:.2f} / max {lag['max']:.2f} ms "
            f"({lag['samples']} probes)"
        )
        pg_writes = found.get("pg_write_ms", {"samples": 0})
        writer = found.get("writer")
        if writer and not pg_writes["samples"]:
            wait, commit = writer["queue_wait_ms"], writer["commit_ms"]
            line += (
                f"; writer {writer['batches']} batches of {writer['mean_batch']:.1f} writes "
                f"(max {writer['max_batch']}), queue wait p99 {wait['p99']:.2f} / max "
                f"{wait['max']:.2f} ms, commit p99 {commit['p99']:.2f} / max "
                f"{commit['max']:.2f} ms"
            )
        checkpoints = found.get("checkpoints")
        if checkpoints and (checkpoints["passes"] or checkpoints["catch_ups"]):
            passes, catch_ups = checkpoints["pass_ms"], checkpoints["catch_up_ms"]
            line += (
                f"; checkpoints {checkpoints['passes']} passes (p99 {passes['p99']:.2f} / max "
                f"{passes['max']:.2f} ms), {checkpoints['catch_ups']} catch-ups (max "
                f"{catch_ups['max']:.2f} ms)"
            )
        if pg_writes["samples"]:
            line += (
                f"; writes on PostgreSQL {pg_writes['samples']} (p50 {pg_writes['p50']:.2f}, "
                f"p99 {pg_writes['p99']:.2f} / max {pg_writes['max']:.2f} ms)"
            )
        lines.append(line)
    return lines


def _cost_of_the_run(run: dict[str, Any]) -> list[str]:
    """The suite's CPU per request over the run, and what the hypervisor took: the same
    requests cost more CPU, and wait longer, on a machine made slower from outside."""
    per_request = run.get("cpu_per_request_s")
    if not per_request:
        return []
    suite = single.suite_cpu_per_request(run) * 1e6
    line = f"- the suite's CPU per request over the run: {suite:,.0f} µs"
    if "loadgen" in per_request:
        line += f" (the load generator's: {per_request['loadgen'] * 1e6:,.0f} µs)"
    stolen = [row.get("steal", 0.0) for row in run.get("cpu_timeline", [])]
    if stolen:
        line += (
            f"; the hypervisor took {sum(stolen) / len(stolen):.2f} cores on average "
            f"(max {max(stolen):.2f} in a second)"
        )
    lines = [line]
    paced = pace.summary(run.get("pace", []))
    if paced:
        lines.append(
            f"- the machine's pace: a fixed piece of Python work took {paced['median_us']:,.0f} µs"
            f" of CPU (median of {paced['units']}; fastest {paced['fastest_us']:,.0f}, slowest "
            f"{paced['slowest_us']:,.0f}: {paced['slowest_x']:.1f} times the fastest)"
        )
    return lines


def explain(run: dict[str, Any]) -> list[str]:
    """Markdown lines on the run's generator lag, its processes over the run, and its worst
    seconds, each with what explains it."""
    lines = []
    lag, wait = run.get("schedule_lag_ms"), run.get("connection_wait_ms")
    if lag and wait:
        late = lag["max"] > LATE_GENERATOR_MS or wait["max"] > LATE_GENERATOR_MS
        lines.append(
            f"Generator lag: schedule p99 {lag['p99']:.2f} / max {lag['max']:.2f} ms, waiting "
            f"for a connection p99 {wait['p99']:.2f} / max {wait['max']:.2f} ms"
            + (" (the generator was late: part of the tail is its own)." if late else ".")
        )
    lines += _cost_of_the_run(run)
    lines += over_the_run(run)
    for row in worst_seconds(run):
        cpu = row["cpu"]
        busy = ""
        if cpu:
            roles = ", ".join(
                f"{k} {v:.2f}" for k, v in cpu.items() if k not in ("machine", "steal")
            )
            machine = cpu.get("machine", 0.0)
            saturated = " (saturated)" if machine >= SATURATED_CORES else ""
            stolen = f", stolen {cpu['steal']:.2f}" if cpu.get("steal") else ""
            busy = f"; cores busy: machine {machine:.2f}{saturated}{stolen} ({roles})"
        paced = row.get("pace")
        if paced:
            busy += (
                f"; fixed work {paced['median_us']:,.0f} µs ({paced['x']:.1f} times the fastest)"
            )
        lines.append(
            f"- second {row['second']}: {row['requests']} requests, p95 {row['p95']:.2f}, "
            f"p99 {row['p99']:.2f}, max {row['max']:.2f} ms{busy}"
        )
        if row["processes"]:
            lines += _process_cells(row["processes"])
        envoy = row.get("envoy")
        if envoy:
            lines.append(
                f"  - Envoy's view: {envoy['requests']} requests, p99 {envoy['total_p99_ms']:.1f} "
                f"/ max {envoy['total_max_ms']:.1f} ms in all; before the upstream max "
                f"{envoy['before_max_ms']:.1f}, in it p99 {envoy['upstream_p99_ms']:.1f} / max "
                f"{envoy['upstream_max_ms']:.1f}, after it max {envoy['after_max_ms']:.1f} ms"
            )
        lines.append(f"  - explained by: {explained_by(row)}")
    return lines
