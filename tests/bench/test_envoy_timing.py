"""Envoy's view of an open-loop run (bench/envoy_timing.py): the gateway's timing log read
second by second, and what a worst second's time was spent on by it (bench/tail.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import tail
from bench.envoy_timing import EnvoyTiming, by_second


def _line(start: float, total: int, before: int | None, upstream: int | None) -> dict[str, Any]:
    after = None if upstream is None else 100
    return {
        "start": f"{start:.6f}",
        "status": 200,
        "cluster": "offers" if upstream is not None else None,
        "total_us": total,
        "before_upstream_us": before,
        "upstream_us": upstream,
        "after_upstream_us": after,
    }


def test_requests_fall_into_the_second_they_reached_envoy() -> None:
    lines = [
        _line(1000.2, 3000, 500, 2400),
        _line(1000.9, 9000, 600, 8300),
        _line(1001.5, 4000, 700, 3200),
        _line(999.9, 1000, 100, 800),  # before the run
        _line(1003.0, 1000, 100, 800),  # long after it
    ]
    seconds = by_second(lines, started_at=1000.0, duration=2.0)
    assert [s["requests"] for s in seconds] == [2, 1]
    assert seconds[0] == {
        "requests": 2,
        "total_p99_ms": 9.0,
        "total_max_ms": 9.0,
        "before_max_ms": 0.6,
        "upstream_p99_ms": 8.3,
        "upstream_max_ms": 8.3,
        "after_max_ms": 0.1,
    }


def test_the_runs_first_and_last_requests_count_though_they_cross_its_edges() -> None:
    """The run's start is rounded to the millisecond, so its first request can reach Envoy a
    fraction of one before it; a request due at the end reaches Envoy after the end. Both
    are the run's: dropping them made Envoy's count one short of the generator's."""
    lines = [
        _line(999.9996, 1000, 100, 800),
        _line(1000.5, 1000, 100, 800),
        _line(1002.004, 1000, 100, 800),
    ]
    seconds = by_second(lines, started_at=1000.0, duration=2.0)
    assert [s["requests"] for s in seconds] == [2, 1]


def test_a_request_answered_by_envoy_itself_has_no_upstream_part() -> None:
    [second] = by_second([_line(1000.5, 800, None, None)], started_at=1000.0, duration=1.0)
    assert (second["total_max_ms"], second["upstream_max_ms"], second["before_max_ms"]) == (
        0.8,
        0.0,
        0.0,
    )


def test_only_what_envoy_wrote_during_the_run_is_read(tmp_path: Path) -> None:
    log = tmp_path / "envoy-timing.jsonl"
    log.write_text(json.dumps(_line(900.0, 1000, 100, 800)) + "\n")
    timing = EnvoyTiming(log)
    timing.start()
    with log.open("a") as out:
        out.write(json.dumps(_line(1000.5, 2000, 100, 1800)) + "\n")
        out.write('{"start": "1000.7", "total')  # a line Envoy is still writing
    found = timing.stop(started_at=1000.0, duration=1.0)
    assert found["requests"] == 1
    assert found["seconds"][0]["total_max_ms"] == 2.0


def test_without_a_log_the_run_says_so(tmp_path: Path) -> None:
    timing = EnvoyTiming(tmp_path / "missing.jsonl")
    timing.start()
    assert "skipped" in timing.stop(started_at=1000.0, duration=1.0)


def _worst(p99: float, envoy: dict[str, Any]) -> dict[str, Any]:
    run = {
        "started_at": 1000.0,
        "timeline": [
            {"second": 0, "requests": 200, "p50": 3.0, "p95": p99 - 1, "p99": p99, "max": p99}
        ],
        "envoy": {"requests": 200, "seconds": [envoy]},
    }
    [worst] = tail.worst_seconds(run)
    return worst


def _envoy(total: float, before: float, upstream: float) -> dict[str, Any]:
    return {
        "requests": 200,
        "total_p99_ms": total,
        "total_max_ms": total,
        "before_max_ms": before,
        "upstream_p99_ms": upstream,
        "upstream_max_ms": upstream,
        "after_max_ms": 0.2,
    }


def test_a_second_envoy_held_in_the_service_is_the_services() -> None:
    worst = _worst(62.0, _envoy(total=64.0, before=1.1, upstream=62.5))
    assert tail.explained_by(worst) == "the service took up to 62.5 ms (Envoy's view)"


def test_a_second_envoy_held_before_the_upstream_is_envoys_or_ext_authzs() -> None:
    worst = _worst(40.0, _envoy(total=41.0, before=38.0, upstream=2.5))
    assert tail.explained_by(worst) == (
        "Envoy held a request 38.0 ms before sending it on (ext_authz, the buffer)"
    )


def test_a_second_envoy_did_not_hold_was_spent_outside_it() -> None:
    worst = _worst(70.0, _envoy(total=6.1, before=0.9, upstream=5.0))
    assert tail.explained_by(worst) == (
        "outside Envoy (it held no request over 6.1 ms: the generator, the kernel or the "
        "connection)"
    )
    lines = tail.explain(
        {"started_at": 1000.0, "timeline": [worst | {"envoy": None}], "envoy": {"seconds": []}}
    )
    assert not any("Envoy's view" in line for line in lines)  # no requests logged: no line


def test_the_worst_second_prints_envoys_view_of_it() -> None:
    envoy = _envoy(total=12.0, before=0.9, upstream=11.0)
    run = {
        "started_at": 1000.0,
        "timeline": [{"second": 0, "requests": 200, "p50": 3, "p95": 11, "p99": 12, "max": 12}],
        "envoy": {"requests": 200, "seconds": [envoy]},
    }
    printed = (
        "  - Envoy's view: 200 requests, p99 12.0 / max 12.0 ms in all; before the upstream "
        "max 0.9, in it p99 11.0 / max 11.0, after it max 0.2 ms"
    )
    assert printed in tail.explain(run)
