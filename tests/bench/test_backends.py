"""The storage backends' verdicts in the bench report (issue 14)."""

from __future__ import annotations

from typing import Any

from bench import backends


def _results(pg_rate: float, sqlite_rate: float) -> dict[str, Any]:
    rows = {"P": {"median_req_per_s": sqlite_rate}, backends.ONE: {"median_req_per_s": pg_rate}}
    return {"postgres": backends.compare(rows)}


def test_a_ratio_just_under_the_target_is_missed_and_printed_so() -> None:
    # 387 / 487 = 0.7947: two decimals would print 0.80 beside "missed".
    results = _results(387, 487)
    assert results["postgres"]["pg_over_sqlite_met"] is False
    lines = backends.markdown(results)
    assert "P(PostgreSQL) / P(SQLite) = 0.795 (target ≥ 0.8: missed)." in lines


def test_a_ratio_at_the_target_is_met() -> None:
    results = _results(400, 500)
    assert results["postgres"]["pg_over_sqlite_met"] is True
    assert "P(PostgreSQL) / P(SQLite) = 0.800 (target ≥ 0.8: met)." in backends.markdown(results)
