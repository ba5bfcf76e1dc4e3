"""The machine's pace beside a run (bench/pace.py): a real sampling process, a run's summary
and a second's median (the report's use of them: tests/bench/test_tail.py)."""

from __future__ import annotations

import time

from bench import pace


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
