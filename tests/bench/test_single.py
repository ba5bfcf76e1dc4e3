"""The single-process mode's figures (bench/single.py): issue 17's two targets from one
run's rows, the answer's shape, the report's lines, and the suite's roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import report, single, suite


def _row(rate: float, **cpu_us: float) -> dict[str, Any]:
    per_request = {role: us / 1e6 for role, us in cpu_us.items()}
    return {"median_req_per_s": rate, "cpu_per_request_s": per_request}


ROWS = {
    "F2": _row(4000.0, envoy=100, handler=150, loadgen=20, other=0),
    "P": _row(600.0, envoy=300, auth=400, profile=800, offers=600, loadgen=30, other=50),
    single.NAME: _row(1100.0, envoy=300, auth=400, single=300, loadgen=30, other=400),
}


def test_cpu_per_request_sums_the_suite_and_not_the_generator_or_the_machine() -> None:
    assert single.suite_cpu_per_request(ROWS["P"]) == pytest.approx(2100e-6)
    assert single.suite_cpu_per_request(ROWS[single.NAME]) == pytest.approx(1000e-6)


def test_both_targets_come_from_the_same_rows() -> None:
    found = single.compare(ROWS)
    assert found["cpu_per_request_us"] == {"P": 2100.0, single.NAME: 1000.0}
    assert found["cpu_ratio"] == pytest.approx(1000 / 2100, abs=1e-3)
    assert found["cpu_ratio_met"] is True
    assert found["over_f2"] == pytest.approx(1100 / 4000, abs=1e-3)
    assert found["over_f2_met"] is True
    assert found["cpu_per_request_us_by_process"][single.NAME] == {
        "envoy": 300.0,
        "auth": 400.0,
        "single": 300.0,
    }


def test_a_target_missed_is_reported_missed() -> None:
    slow = ROWS | {single.NAME: _row(900.0, envoy=300, auth=400, single=400)}
    found = single.compare(slow)
    assert found["cpu_ratio_met"] is False  # 1100 / 2100 > 0.5
    assert found["over_f2_met"] is False  # 900 / 4000 < 0.25


def test_nothing_is_compared_without_both_rows() -> None:
    assert single.compare({"P": ROWS["P"]}) == {}
    assert single.compare(ROWS | {single.NAME: {"skipped": "did not come up"}}) == {}


def test_the_shape_keeps_sections_and_attribute_names_not_values() -> None:
    answer = {
        "offers": {
            "p000_s0": {"attributes": {"headline": "Welcome back", "recent": ["a"]}},
            "p000_s1": {},
        }
    }
    other = {
        "offers": {
            "p000_s0": {"attributes": {"recent": ["b", "c"], "headline": "Hello"}},
            "p000_s1": {},
        }
    }
    assert single.shape(answer) == {"p000_s0": ["headline", "recent"], "p000_s1": None}
    assert single.shape(answer) == single.shape(other)
    redacted: dict[str, Any] = {"offers": {"p000_s0": {}, "p000_s1": {}}}
    assert single.shape(answer) != single.shape(redacted)


def test_the_report_gives_both_targets_with_their_figures() -> None:
    found = single.compare(ROWS) | {"same_shape_as_P": True}
    lines = single.markdown({"single_process": found})
    text = "\n".join(lines)
    assert "| single-process mode (P-single) | envoy 300, auth 400, single 300 | 1000 |" in text
    assert "P-single / P = 0.48 (target ≤ 0.5: met)." in text
    assert "P-single / F2 = 1100 / 4000 req/s = 0.28 (target ≥ 0.25: met)." in text
    assert single.markdown({"single_process": {}}) == []


def test_the_half_rate_runs_of_p_single_are_reported_like_ps() -> None:
    run = {
        "path": single.NAME,
        "target_rate": 550.0,
        "duration": 20.0,
        "achieved_rate": 549.0,
        "statuses": {"200": 11000},
        "latency_ms": {"p50": 2.0, "p95": 6.0, "p99": 30.0, "max": 40.0},
        "p95_met": True,
        "p99_met": False,
        "met": False,
    }
    lines = report.half_rate_runs_section([run, run | {"p99_met": True, "met": True}])
    assert "Targets met in every run: no." in lines
    assert any(line.startswith("Run 2 of 2: P-single at half of its max rate") for line in lines)


def test_the_single_process_suite_has_its_own_roles() -> None:
    per_service = suite.Suite(data_dir=Path("/nonexistent"))
    together = suite.Suite(data_dir=Path("/nonexistent"), single_process=True)
    assert per_service.roles == ("envoy", "auth", "profile", "offers")
    assert together.roles == ("envoy", "single")
    assert suite.role_of(b"/venv/bin/python\0-m\0services.single\0") == "single"
    assert suite.role_of(b"/venv/bin/python\0-m\0services.profile\0") == "profile"


def test_the_mode_is_the_suites_not_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(suite.SINGLE_PROCESS_VARIABLE, "1")
    assert suite.SINGLE_PROCESS_VARIABLE not in suite.Suite(Path("/nonexistent")).env()
