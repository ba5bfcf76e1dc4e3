"""A half-rate run's worst seconds are lined up with the CPU sampled over the same seconds,
with each service process's collector pauses, loop lag and writer batches in them, and a
verdict on what explains each."""

from __future__ import annotations

from typing import Any

from bench import openloop, report, stalls, tail


def test_the_timeline_groups_latencies_by_the_second_they_were_due() -> None:
    rows = openloop.timeline([(0.1, 0.002), (0.9, 0.004), (1.2, 0.050)], [(1.3, 0.007)])
    assert [(r["second"], r["requests"], r["max"]) for r in rows] == [(0, 2, 4.0), (1, 1, 50.0)]
    assert [r["generator_lag_max"] for r in rows] == [0.0, 7.0]


def _second(number: int, p99: float, **extra: Any) -> dict[str, Any]:
    return {"second": number, "requests": 100, "p50": 3.0, "p95": p99 - 1, "p99": p99} | {
        "max": p99 + 1,
        "generator_lag_max": 0.1,
        **extra,
    }


def _process_row(number: int, gc_max_ms: float = 0.2, lag_max_ms: float = 1.0) -> dict[str, Any]:
    return {
        "second": number,
        "gc_count": 3,
        "gc_ms": gc_max_ms + 0.3,
        "gc_max_ms": gc_max_ms,
        "lag_samples": 20,
        "lag_p99_ms": lag_max_ms,
        "lag_max_ms": lag_max_ms,
    }


def test_the_worst_second_is_shown_with_the_cpu_of_that_second() -> None:
    run = {
        "started_at": 1000.0,
        "timeline": [_second(0, 6.0), _second(1, 41.0)],
        "cpu_timeline": [
            {"second": 0.0, "until": 1000.9, "machine": 0.9, "profile": 0.3},
            {"second": 1.0, "until": 1001.9, "machine": 1.95, "profile": 1.1},
        ],
        "schedule_lag_ms": {"p50": 0.1, "p99": 0.4, "max": 9.0},
        "connection_wait_ms": {"p50": 0.0, "p99": 0.1, "max": 0.2},
    }
    lines = tail.explain(run)
    assert "(the generator was late" in lines[0]
    assert lines[1:] == [
        "- second 1: 100 requests, p95 40.00, p99 41.00, max 42.00 ms; "
        "cores busy: machine 1.95 (saturated) (profile 1.10)",
        "  - explained by: saturated cores (1.95 of 2 busy); a process at its one core "
        "(profile 1.10 cores busy)",
        "- second 0: 100 requests, p95 5.00, p99 6.00, max 7.00 ms; "
        "cores busy: machine 0.90 (profile 0.30)",
        "  - explained by: none of these",
    ]


def _process(rows: list[dict[str, Any]]) -> dict[str, Any]:
    gc = {"count": 9, "total_ms": 1.5, "max_ms": max(r["gc_max_ms"] for r in rows)}
    lag = {"samples": 60, "p50": 1.0, "p99": 1.0, "max": max(r["lag_max_ms"] for r in rows)}
    return {"gc": {"gen0": gc}, "loop_lag_ms": lag, "seconds": rows}


def _run_with_processes(profile_rows: list[dict[str, Any]]) -> dict[str, Any]:
    quiet = [_process_row(n) for n in range(3)]
    return {
        "started_at": 1000.0,
        "timeline": [_second(0, 5.0), _second(1, 30.0), _second(2, 20.0)],
        "cpu_timeline": [],
        "processes": {
            "auth": _process(quiet),
            "profile": _process(profile_rows),
            "offers": _process(quiet),
        },
    }


def test_a_second_with_a_long_collection_is_explained_by_it() -> None:
    rows = [_process_row(0), _process_row(1, gc_max_ms=17.3, lag_max_ms=18.0), _process_row(2)]
    worst = tail.worst_seconds(_run_with_processes(rows))
    assert [w["second"] for w in worst] == [1, 2, 0]
    assert tail.explained_by(worst[0]) == (
        "a GC pause over 5 ms (profile 17.3 ms); loop lag over 5 ms (profile 18.0 ms)"
    )
    assert tail.explained_by(worst[1]) == "none of these"


def test_a_late_loop_without_a_collection_is_explained_as_loop_lag() -> None:
    rows = [_process_row(0), _process_row(1, lag_max_ms=22.0), _process_row(2)]
    worst = tail.worst_seconds(_run_with_processes(rows))
    assert tail.explained_by(worst[0]) == "loop lag over 5 ms (profile 22.0 ms)"
    lines = tail.explain(_run_with_processes(rows))
    assert lines[1] == (
        "- profile: GC gen0 9 (total 1.5, max 0.2 ms); loop lag p99 1.00 / max 22.00 ms (60 probes)"
    )
    at = lines.index("- second 1: 100 requests, p95 29.00, p99 30.00, max 31.00 ms")
    assert lines[at + 1] == (
        "  - GC pause ms: auth 0.5 (3 collections, longest 0.2), profile 0.5 (3 collections, "
        "longest 0.2), offers 0.5 (3 collections, longest 0.2)"
    )
    assert lines[at + 2].startswith("  - loop lag max ms: auth 1.0 (p99 1.0), profile 22.0")
    assert lines[at + 3] == "  - explained by: loop lag over 5 ms (profile 22.0 ms)"


def test_a_second_whose_writes_queued_behind_a_slow_commit_is_explained_by_it() -> None:
    """The quiet run of 2026-12-06: the worst seconds had no long pause and no loop lag, but
    events waiting up to 21 ms for the profile writer (commits up to 28 ms)."""
    slow = _process_row(1) | {"batches": 153, "units": 167, "max_batch": 4}
    slow |= {"wait_p99_ms": 3.9, "wait_max_ms": 21.6}
    rows = [_process_row(0), slow, _process_row(2)]
    worst = tail.worst_seconds(_run_with_processes(rows))
    assert tail.explained_by(worst[0]) == (
        "writes queued over 5 ms behind slow commits (profile 21.6 ms)"
    )
    assert tail.explained_by(worst[1]) == "none of these"


def test_a_second_with_a_long_checkpoint_is_explained_by_it() -> None:
    """A pass copies and syncs the database file on its own thread (the disk is busy while
    the writer syncs its commits); a catch-up runs before a write transaction (the writes
    behind it wait)."""
    checkpoints = {"checkpoint_passes": 19, "catch_ups": 0, "catch_up_max_ms": 0.0}
    long_pass = _process_row(1) | checkpoints | {"checkpoint_max_ms": 12.4}
    caught_up = _process_row(2) | checkpoints | {"checkpoint_max_ms": 1.0}
    caught_up |= {"catch_ups": 1, "catch_up_max_ms": 9.5}
    quiet = _process_row(0) | checkpoints | {"checkpoint_max_ms": 4.9}
    worst = tail.worst_seconds(_run_with_processes([quiet, long_pass, caught_up]))
    assert [w["second"] for w in worst] == [1, 2, 0]
    assert tail.explained_by(worst[0]) == "a checkpoint pass over 5 ms (profile 12.4 ms)"
    assert tail.explained_by(worst[1]) == (
        "the writer caught up a checkpoint over 5 ms (profile 9.5 ms)"
    )
    assert tail.explained_by(worst[2]) == "none of these"
    lines = tail.explain(_run_with_processes([quiet, long_pass, caught_up]))
    assert (
        "  - profile's checkpoints: 19 passes (longest 12.4 ms), 0 catch-ups by the writer "
        "(longest 0.0 ms)"
    ) in lines


def test_a_second_with_a_slow_write_on_postgresql_is_explained_by_it() -> None:
    """A profile on PostgreSQL has no group-commit writer: its writes (a pooled connection,
    the statements, the server's commit) are timed instead, and its idle writer not shown."""
    idle_writer = {"batches": 0, "units": 0, "max_batch": 0, "wait_p99_ms": 0.0}
    idle_writer |= {"wait_max_ms": 0.0}
    slow = _process_row(1) | idle_writer | {"pg_writes": 371}
    slow |= {"pg_write_p99_ms": 9.8, "pg_write_max_ms": 31.2}
    quick = _process_row(0) | idle_writer | {"pg_writes": 370}
    quick |= {"pg_write_p99_ms": 2.0, "pg_write_max_ms": 4.9}
    run = _run_with_processes([quick, slow])
    worst = tail.worst_seconds(run)
    assert tail.explained_by(worst[0]) == "a write on PostgreSQL over 5 ms (profile 31.2 ms)"
    assert tail.explained_by(worst[1]) == "none of these"
    lines = tail.explain(run)
    assert "  - profile's writes on PostgreSQL: 371 (p99 9.8 / longest 31.2 ms)" in lines
    assert not any("profile's writer" in line for line in lines)


def test_over_the_run_a_profile_on_postgresql_shows_its_writes_not_its_idle_writer() -> None:
    idle = {"samples": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    found = {
        "gc": {f"gen{g}": {"count": 0, "total_ms": 0.0, "max_ms": 0.0} for g in range(3)},
        "loop_lag_ms": {"samples": 400, "p50": 0.5, "p99": 1.8, "max": 5.8},
        "writer": {"batches": 0, "units": 0, "mean_batch": 0.0, "max_batch": 0}
        | {"queue_wait_ms": idle, "commit_ms": idle},
        "pg_write_ms": {"samples": 7414, "p50": 1.52, "p99": 8.1, "max": 40.2},
    }
    (line,) = tail.over_the_run({"processes": {"single": found}})
    assert line.endswith("; writes on PostgreSQL 7414 (p50 1.52, p99 8.10 / max 40.20 ms)")
    assert "writer" not in line


def test_a_second_whose_requests_left_late_is_the_generators() -> None:
    second = _second(4, 30.0, generator_lag_max=12.5) | {"cpu": {"machine": 1.0}}
    assert tail.explained_by(second) == "generator late (12.5 ms)"


def _bucket(at: float, gc2_s: float = 0.0, lags: list[float] | None = None) -> dict[str, Any]:
    return {
        "at": at,
        "gc": [[2, 0.0004, 0.0003], [0, 0.0, 0.0], [1 if gc2_s else 0, gc2_s, gc2_s]],
        "lags": lags or [0.001],
        "batches": [3, 1],
        "commits": [0.002, 0.001],
        "waits": [0.001, 0.002, 0.004, 0.0005],
    }


def test_buckets_fall_into_the_second_of_the_run_that_holds_their_middle() -> None:
    report_ = {
        "bucket_s": 0.1,
        "writer_wrapped": True,
        "buckets": [
            _bucket(999.8, gc2_s=0.5),  # before the run: left out
            _bucket(1000.0),
            _bucket(1001.3, gc2_s=0.017, lags=[0.001, 0.019]),
            _bucket(1001.95),  # its middle, 1002.0, is second 2's
        ],
    }
    found = stalls.summary(report_, started_at=1000.0, duration=3)
    assert found["gc"]["gen2"] == {"count": 1, "total_ms": 17.0, "max_ms": 17.0}
    assert found["gc"]["gen0"]["count"] == 6
    assert found["loop_lag_ms"]["max"] == 19.0
    assert found["writer"]["batches"] == 6
    assert found["writer"]["units"] == 12
    assert found["writer"]["max_batch"] == 3
    assert found["writer"]["queue_wait_ms"]["max"] == 4.0
    seconds = found["seconds"]
    assert [s["gc_count"] for s in seconds] == [2, 3, 2]
    assert seconds[1]["gc_max_ms"] == 17.0
    assert seconds[1]["gc_ms"] == 17.4
    assert (seconds[1]["lag_samples"], seconds[1]["lag_max_ms"]) == (2, 19.0)
    assert (seconds[2]["batches"], seconds[2]["units"], seconds[2]["wait_max_ms"]) == (2, 4, 4.0)


def test_each_run_is_judged_on_p95_and_p99_alone() -> None:
    assert tail.verdict({"latency_ms": {"p95": 10.0, "p99": 25.0}})["met"] is True
    missed = tail.verdict({"latency_ms": {"p95": 9.0, "p99": 25.1}})
    assert missed == {"p95_met": True, "p99_met": False, "met": False}


def _half_rate_run(p95: float, p99: float, **extra: Any) -> dict[str, Any]:
    found = {
        "path": "P",
        "target_rate": 300.0,
        "duration": 20.0,
        "achieved_rate": 300.0,
        "statuses": {"200": 6000},
        "latency_ms": {"p50": 4.0, "p95": p95, "p99": p99, "max": p99 + 5},
        **extra,
    }
    return found | tail.verdict(found)


def test_five_runs_are_reported_each_with_its_verdict() -> None:
    run = _half_rate_run
    runs = [run(6.0, 9.0), run(6.5, 9.5), run(12.0, 30.0), run(6.1, 9.1), run(6.2, 9.2)]
    lines = report.half_rate_section({"half_rate": runs[0], "half_rate_runs": runs})
    assert "| 3 | 12.00 | 30.00 | **missed** | **missed** | — | — | — |" in lines
    assert "| 1 | 6.00 | 9.00 | met | met | — | — | — |" in lines
    assert "Targets met in every run: no." in lines
    assert sum(line.startswith("Run ") for line in lines) == 5


def test_a_second_the_hypervisor_took_cores_from_is_explained_by_it() -> None:
    """On a virtual machine, ``steal`` is CPU the host gave to others: every process of the
    run was slower that second, whatever it did."""
    second = _second(4, 30.0) | {"cpu": {"machine": 1.2, "steal": 0.31, "profile": 0.5}}
    assert tail.explained_by(second) == "the hypervisor took 0.31 cores (steal)"
    quiet = _second(5, 30.0) | {"cpu": {"machine": 1.2, "steal": 0.01, "profile": 0.5}}
    assert tail.explained_by(quiet) == "none of these"


def test_a_python_process_at_its_one_core_is_a_cause_however_idle_the_machine() -> None:
    """The single process at 1.02 cores (session-2026-12-07-sixth): requests queued behind
    its interpreter lock with the machine's other core half idle."""
    cpu = {"machine": 1.51, "steal": 0.0, "envoy": 1.1, "single": 1.02, "loadgen": 0.08}
    second = _second(5, 441.0) | {"cpu": cpu}
    assert tail.explained_by(second) == "a process at its one core (single 1.02 cores busy)"
    below = _second(6, 30.0) | {"cpu": cpu | {"single": 0.92}}
    assert tail.explained_by(below) == "none of these"  # Envoy has workers: never "one core"


def test_a_run_states_the_suites_cpu_per_request_and_what_the_hypervisor_took() -> None:
    run = _run_with_processes([_process_row(0), _process_row(1), _process_row(2)])
    run["cpu_per_request_s"] = {"envoy": 0.0008, "profile": 0.002, "loadgen": 0.0003, "other": 1}
    run["cpu_timeline"] = [
        {"second": 0.0, "until": 1001.0, "machine": 1.0, "steal": 0.0},
        {"second": 1.0, "until": 1002.0, "machine": 1.1, "steal": 0.2},
    ]
    assert (
        "- the suite's CPU per request over the run: 2,800 µs (the load generator's: 300 µs); "
        "the hypervisor took 0.10 cores on average (max 0.20 in a second)"
    ) in tail.explain(run)


def test_each_run_in_the_table_shows_what_a_request_cost_the_suite_and_the_generator() -> None:
    """The generator's work per request is fixed at one rate: when it costs more together
    with the suite, the machine was slower (2026-12-06: both rose 20 % over five runs)."""
    cost = {"envoy": 0.001, "profile": 0.0053, "loadgen": 0.00026, "other": 1}
    lines = report.half_rate_runs_section(
        [_half_rate_run(19.35, 27.41, cpu_per_request_s=cost)] * 2
    )
    assert "| 2 | 19.35 | 27.41 | **missed** | **missed** | 6,300 | 260 | — |" in lines


# The machine's pace over a run (bench/pace.py): when each unit ended, and its µs of CPU.
_PACE = [(100.2, 600.0), (100.5, 620.0), (101.1, 1300.0), (101.4, 1200.0), (101.8, 1250.0)]


def _paced_run(**extra: Any) -> dict[str, Any]:
    """A half-rate run whose second 1 is its worst, its fixed work twice as dear as in
    second 0."""
    second = {"requests": 100, "p50": 3.0, "generator_lag_max": 0.1}
    timeline = [
        second | {"second": 0, "p95": 5.0, "p99": 6.0, "max": 7.0},
        second | {"second": 1, "p95": 25.0, "p99": 30.0, "max": 31.0},
    ]
    return _half_rate_run(12.0, 20.0, started_at=100.0, timeline=timeline, pace=_PACE, **extra)


def test_a_second_in_which_the_fixed_work_ran_slow_is_explained_by_a_slow_machine() -> None:
    worst = tail.worst_seconds(_paced_run())
    assert [(row["second"], row["pace"]) for row in worst] == [
        (1, {"median_us": 1250.0, "x": 2.08}),
        (0, {"median_us": 610.0, "x": 1.02}),
    ]
    assert tail.explained_by(worst[0]) == (
        "a slow machine (a fixed piece of work took 2.1 times its fastest CPU of the run)"
    )
    assert tail.explained_by(worst[1]) == "none of these"


def test_each_run_reports_the_machines_pace_and_the_table_its_median() -> None:
    run = _paced_run(cpu_per_request_s={"envoy": 0.001, "profile": 0.002, "loadgen": 0.0002})
    lines = report.half_rate_runs_section([run, run])
    assert "| 1 | 12.00 | 20.00 | **missed** | met | 3,000 | 200 | 1,200 |" in lines
    assert (
        "- the machine's pace: a fixed piece of Python work took 1,200 µs of CPU (median of 5; "
        "fastest 600, slowest 1,300: 2.2 times the fastest)"
    ) in lines
    assert any("fixed work 1,250 µs (2.1 times the fastest)" in line for line in lines)
