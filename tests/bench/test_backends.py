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


def test_a_half_rate_run_on_postgresql_says_what_the_server_did_beside() -> None:
    half = {
        "path": backends.ONE,
        "target_rate": 140.0,
        "duration": 20.0,
        "latency_ms": {"p50": 9.0, "p95": 47.0, "p99": 81.0},
        "statuses": {"200": 2800},
        "postgres_activity": {
            "checkpoints": 1.0,
            "checkpoint_ms": 2345.0,
            "autovacuums": 2.0,
            "commits": 5600.0,
            "rollbacks": 3.0,
            "deadlocks": 0.0,
            "blocks_read": 12.0,
            "temp_files": 0.0,
        },
        **backends.half_rate_verdict({"latency_ms": {"p95": 47.0}}),
    }
    results = _results(400, 500) | {"half_rate_postgres": half}
    assert (
        "- PostgreSQL over the run: 1 checkpoints (2,345 ms writing and syncing), 2 autovacuum "
        "or autoanalyze runs; 5,600 commits, 3 rollbacks, 0 deadlocks; 12 blocks read from "
        "outside its buffers, 0 temporary files"
    ) in backends.markdown(results)
