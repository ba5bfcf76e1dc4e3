"""The machine's pace beside a run (bench/pace.py): a real sampling process, the run's summary,
and a worst second in which the fixed work ran slow, explained as a slow machine."""

from __future__ import annotations

import time
from typing import Any

from bench import pace, report, tail


def test_the_sampler_is_a_process_that_times_the_fixed_work() -> None:
    sampler = pace.Pace(interval=0.02)
    started = time.time()
    sampler.start()
    time.sleep(1.0)
    samples = sampler.stop()
    ended = time.time()
    assert len(samples) >= 5
    assert all(started < at < ended for at, _ in samples)
    assert [at for at, _ in samples] == sorted(at for at, _ in samples)
    # 20,000 iterations of interpreted arithmetic take well over 50 µs and under a second.
    assert all(50 < cost < 1_000_000 for _, cost in samples)


_SAMPLES = [(100.2, 600.0), (100.5, 620.0), (101.1, 1300.0), (101.4, 1200.0), (101.8, 1250.0)]


def test_a_runs_summary_sets_the_median_and_slowest_against_the_fastest() -> None:
    assert pace.summary(_SAMPLES) == {
        "units": 5,
        "fastest_us": 600.0,
        "median_us": 1200.0,
        "slowest_us": 1300.0,
        "median_x": 2.0,
        "slowest_x": 2.17,
    }
    assert pace.summary([]) is None


def test_a_second_gets_the_median_of_the_units_that_ended_in_it() -> None:
    assert pace.in_second(_SAMPLES, 101.0) == {"median_us": 1250.0, "x": 2.08}
    assert pace.in_second(_SAMPLES, 100.0) == {"median_us": 610.0, "x": 1.02}
    assert pace.in_second(_SAMPLES, 102.0) is None


def _run(**extra: Any) -> dict[str, Any]:
    second = {"requests": 100, "p50": 3.0, "generator_lag_max": 0.1}
    found = {
        "path": "P",
        "target_rate": 300.0,
        "duration": 2.0,
        "achieved_rate": 300.0,
        "statuses": {"200": 600},
        "latency_ms": {"p50": 4.0, "p95": 12.0, "p99": 20.0, "max": 30.0},
        "started_at": 100.0,
        "timeline": [
            second | {"second": 0, "p95": 5.0, "p99": 6.0, "max": 7.0},
            second | {"second": 1, "p95": 25.0, "p99": 30.0, "max": 31.0},
        ],
        "pace": _SAMPLES,
        **extra,
    }
    return found | tail.verdict(found)


def test_a_second_in_which_the_fixed_work_ran_slow_is_explained_by_a_slow_machine() -> None:
    worst = tail.worst_seconds(_run())
    assert [(row["second"], row["pace"]) for row in worst] == [
        (1, {"median_us": 1250.0, "x": 2.08}),
        (0, {"median_us": 610.0, "x": 1.02}),
    ]
    assert tail.explained_by(worst[0]) == (
        "a slow machine (a fixed piece of work took 2.1 times its fastest CPU of the run)"
    )
    assert tail.explained_by(worst[1]) == "none of these"


def test_the_report_gives_each_runs_pace_and_its_median_in_the_table() -> None:
    run = _run(cpu_per_request_s={"envoy": 0.001, "profile": 0.002, "loadgen": 0.0002})
    lines = report.half_rate_runs_section([run, run])
    assert "| 1 | 12.00 | 20.00 | **missed** | met | 3,000 | 200 | 1,200 |" in lines
    assert (
        "- the machine's pace: a fixed piece of Python work took 1,200 µs of CPU (median of 5; "
        "fastest 600, slowest 1,300: 2.2 times the fastest)"
    ) in lines
    assert any("fixed work 1,250 µs (2.1 times the fastest)" in line for line in lines)
