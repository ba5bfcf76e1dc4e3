"""The profile-count comparison on two suites (``bench.scale.profiles_side_by_side``): the
two stores are driven in turn, and each side of the answer is its own suite's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import scale
from bench.measure import Target, Traffic
from bench.preload import Preloaded
from bench.wrk import Load


class _Suite:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def pids(self) -> dict[str, list[int]]:
        return {"profile": [os.getpid()]}  # a process whose RSS can be read


def _store(tmp_path: Path, name: str, pool: int) -> scale.Store:
    target = Target(name, 0, {})
    return scale.Store(_Suite(tmp_path / name), target, Traffic("token", pool))  # type: ignore[arg-type]


def test_the_two_stores_are_driven_in_turn_at_one_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driven: list[tuple[str, int, float | None]] = []
    p95 = {"small": iter([4.0, 6.0, 5.0]), "big": iter([7.0, 5.5, 6.5])}

    def closed_loop(target: Target, _load: Load, traffic: Traffic) -> dict[str, Any]:
        driven.append((target.name, traffic.pool, None))
        return {"req_per_s": 100.0, "cpu_per_request_s": {"profile": 0.001}}

    def open_loop(target: Target, rate: float, _s: float, traffic: Traffic) -> dict[str, Any]:
        driven.append((target.name, traffic.pool, rate))
        latency = {"p50": 1.0, "p95": next(p95[target.name]), "p99": 9.0}
        return {
            "target_rate": rate,
            "latency_ms": latency,
            "cpu_s": {"other": 0.1},
            "statuses": {"200": 10},
            "cpu_per_request_s": {"profile": 0.001},
        }

    monkeypatch.setattr(scale, "closed_loop", closed_loop)
    monkeypatch.setattr(scale, "open_loop", open_loop)
    small, big = _store(tmp_path, "small", 10), _store(tmp_path, "big", 1000)
    found = scale.profiles_side_by_side(
        small, big, Load(), 50.0, 20.0, 3, Preloaded(records=990, seconds=2.0)
    )
    assert driven == [
        ("small", 10, None),
        ("big", 1000, None),
        *[(name, pool, 50.0) for _ in range(3) for name, pool in (("small", 10), ("big", 1000))],
    ]
    assert found["10"]["p95_ms_each"] == [4.0, 6.0, 5.0]
    assert found["1000"]["p95_ms_each"] == [7.0, 5.5, 6.5]
    assert found["p95_ratio"] == round(6.5 / 5.0, 2)  # medians, big over small
    assert found["interleaved"] is True
    assert found["preload"] == {"records": 990, "seconds": 2.0, "records_per_s": 495.0}
    assert found["profile_rss_mib"] > 0  # the big suite's profile process
