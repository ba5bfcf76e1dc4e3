"""A half-rate run's worst seconds are lined up with the CPU sampled over the same seconds."""

from __future__ import annotations

from bench import openloop, tail


def test_the_timeline_groups_latencies_by_the_second_they_were_due() -> None:
    rows = openloop.timeline([(0.1, 0.002), (0.9, 0.004), (1.2, 0.050)])
    assert [(r["second"], r["requests"], r["max"]) for r in rows] == [(0, 2, 4.0), (1, 1, 50.0)]


def test_the_worst_second_is_shown_with_the_cpu_of_that_second() -> None:
    run = {
        "started_at": 1000.0,
        "timeline": [
            {"second": 0, "requests": 100, "p50": 3.0, "p95": 5.0, "p99": 6.0, "max": 7.0},
            {"second": 1, "requests": 100, "p50": 9.0, "p95": 30.0, "p99": 41.0, "max": 60.0},
        ],
        "cpu_timeline": [
            {"second": 0.0, "until": 1000.9, "machine": 0.9, "profile": 0.3},
            {"second": 1.0, "until": 1001.9, "machine": 1.95, "profile": 1.1},
        ],
        "schedule_lag_ms": {"p50": 0.1, "p99": 0.4, "max": 9.0},
        "connection_wait_ms": {"p50": 0.0, "p99": 0.1, "max": 0.2},
    }
    lines = tail.explain(run)
    assert "(the generator was late" in lines[0]
    assert lines[1] == (
        "- second 1: 100 requests, p95 30.00, p99 41.00, max 60.00 ms; "
        "cores busy: machine 1.95 (saturated) (profile 1.10)"
    )
    assert lines[2].startswith("- second 0:")
    assert lines[2].endswith("machine 0.90 (profile 0.30)")
