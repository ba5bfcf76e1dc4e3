"""The bench's smoke mode, run as CI runs it: every step once, on tiny loads.

It checks that the bench still works end to end (suite up, configuration through the
admin API, floors, wrk, reports), never how fast anything is. It needs Debian's ``wrk``,
which .ci/run installs, as it installs Chromium for the browser tests, and PostgreSQL for
the P rows on that backend (the run makes its database beside this test run's).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import backends, single

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One smoke run for the module: its results and the markdown report."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run", "--smoke", "--half-rate-runs", "2"),
            *("--out", str(out), "--name", "smoke"),
        ],
        cwd=ROOT,
        env={**os.environ, "P13N_BENCH_POSTGRES_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads((out / "smoke.json").read_text())
    results["markdown"] = (out / "smoke.md").read_text()
    return results


def test_smoke_run_measures_every_path_and_writes_its_reports(smoke: dict[str, Any]) -> None:
    results = smoke
    for path in ("F1", "F2", "F2h", "F3", "F3r", "T", "P-plain", "P"):
        row = results["rows"][path]
        assert "skipped" not in row, (path, row)
        assert row["requests"] > 0, path
        assert sum(row["errors"].values()) == 0, (path, row["errors"])
        assert set(row["cpu_per_request_s"]) >= {"envoy", "loadgen"}, path
    assert set(results["rows"]["P"]["cpu_per_request_s"]) >= {"auth", "profile", "offers"}
    # P again on a suite without internal TLS, and what mutual TLS costs between the two.
    plain = results["rows"]["P-plain"]
    assert "skipped" not in plain
    assert plain["requests"] > 0
    assert sum(plain["errors"].values()) == 0, plain["errors"]
    assert set(results["mtls"]) >= {"P_req_per_s", "P_plain_req_per_s", "drop", "cpu_added"}
    # Envoy's upstream handshakes to the services, read from its admin stats.
    assert sum(results["mtls"]["ciphers"].values()) > 0, results["mtls"]
    # The configured path really personalizes: rendered sections, and sensitive ones as {}.
    offers = results["sample_answer"]["offers"]
    assert {} in offers.values()
    assert any(offer.get("attributes") for offer in offers.values())
    half = results["half_rate"]
    assert half["path"] == "P"
    assert set(half["statuses"]) == {"200"}, half["statuses"]
    # The half-rate run explains its tail: latencies and every role's CPU second by second.
    assert sum(second["requests"] for second in half["timeline"]) == half["statuses"]["200"]
    assert {"envoy", "auth", "profile", "offers", "loadgen", "machine"} <= set(
        half["cpu_timeline"][0]
    )
    assert "Generator lag: schedule p99" in results["markdown"]
    assert "| F1 Envoy direct_response |" in results["markdown"]
    assert "The gRPC hop: F2 " in results["markdown"]
    # Where a request's CPU went inside each process, by thread, at both rates: the
    # services' Python threads named by the bench hook (bench/gcpause).
    for run in (results["rows"]["P"], half):
        assert set(run["threads"]) >= {"envoy", "auth", "profile", "offers"}, run["threads"]
        assert {"main", "grpc.aio poller"} <= set(run["threads"]["offers"]), run["threads"]
    assert "aiosqlite" in half["threads"]["profile"], half["threads"]["profile"]
    assert "### P: CPU and context switches per request, by thread" in results["markdown"]
    assert "the suite's CPU per request over the run: " in results["markdown"]
    _assert_stalls_recorded(half)
    # The real Envoy timed every request of the run in its timing log (gateway/timing_log.py).
    envoy = half["envoy"]
    assert envoy["requests"] == half["requests"], envoy
    assert all(s["upstream_max_ms"] > 0 for s in envoy["seconds"] if s["requests"]), envoy
    assert "  - Envoy's view: " in results["markdown"]
    # Consecutive half-rate runs at one rate, each judged on its own.
    runs = results["half_rate_runs"]
    assert len(runs) == 2
    assert runs[0]["target_rate"] == runs[1]["target_rate"]
    assert all(isinstance(run["met"], bool) for run in runs)
    assert "Targets met in every run: " in results["markdown"]
    assert results["markdown"].count("  - explained by: ") >= 2
    assert "loop lag p99" in results["markdown"]


def _assert_stalls_recorded(
    half: dict[str, Any], writer: bool = True, profile_in: str = "profile"
) -> None:
    """Every service process of the run recorded its collections and loop lag (bench/gcpause),
    the process that runs profile (``profile_in``) its writer's batches (on SQLite), over
    the run and per second."""
    processes = half["processes"]
    services = {"single"} if profile_in == "single" else {"auth", "profile", "offers"}
    assert set(processes) == services, set(processes)
    for label, found in processes.items():
        collections = sum(generation["count"] for generation in found["gc"].values())
        assert collections >= 1, (label, found["gc"])
        lag = found["loop_lag_ms"]
        assert lag["samples"] >= 10, (label, lag)  # a probe every 50 ms, over 2 s
        assert 0 <= lag["p50"] <= lag["max"], (label, lag)
        assert len(found["seconds"]) == math.ceil(half["duration"]), label
        assert all(row["lag_max_ms"] >= 0 and row["gc_ms"] >= 0 for row in found["seconds"])
    if writer:
        batches = processes[profile_in]["writer"]
        assert 1 <= batches["batches"] <= batches["units"], batches
        assert batches["queue_wait_ms"]["max"] >= 0
    else:
        assert (
            "writer" not in processes[profile_in] or processes[profile_in]["writer"]["units"] == 0
        )


def _assert_measured(row: dict[str, Any]) -> None:
    assert "skipped" not in row, row
    assert row["requests"] > 0
    assert sum(row["errors"].values()) == 0, row["errors"]
    assert set(row["cpu_per_request_s"]) >= {"envoy", "auth", "profile", "offers"}


def test_smoke_run_measures_p_on_postgresql_beside_sqlite(smoke: dict[str, Any]) -> None:
    assert [n for n in smoke["notes"] if "not measured" in n] == []
    rows = smoke["rows"]
    names = [backends.ONE, backends.TWO]
    for name in names:
        _assert_measured(rows[name])
    single_on_pg = rows[backends.SINGLE]
    assert "skipped" not in single_on_pg, single_on_pg
    assert sum(single_on_pg["errors"].values()) == 0, single_on_pg["errors"]
    # The database's own CPU is the suite's too (bench/pg.py server_pid).
    assert set(single_on_pg["cpu_per_request_s"]) == {
        "envoy",
        "single",
        "postgres",
        "loadgen",
        "other",
    }
    for name in names:
        assert rows[name]["cpu_per_request_s"]["postgres"] > 0, rows[name]["cpu_per_request_s"]
    assert set(smoke["postgres"]["req_per_s"]) == {"P", *names, backends.SINGLE}
    assert isinstance(smoke["postgres"]["pg_over_sqlite_met"], bool)
    half = smoke["half_rate_postgres"]
    assert half["path"] == backends.ONE
    assert set(half["statuses"]) == {"200"}, half["statuses"]
    _assert_stalls_recorded(half, writer=False)  # PostgreSQL: a transaction per write
    assert half["postgres_activity"]["commits"] > 0, half["postgres_activity"]
    single_half = smoke["half_rate_postgres_single"]
    assert single_half["path"] == backends.SINGLE
    assert set(single_half["statuses"]) == {"200"}, single_half["statuses"]
    assert isinstance(single_half["p95_met"], bool)
    # 200 against 2,000 profiles: two fresh suites like P-pg, the second's store grown in SQL
    # (bench/pg.py), driven in turn.
    grown = smoke["postgres_profiles"]
    assert "skipped" not in grown, grown
    assert grown["interleaved"] is True
    assert grown["preload"]["records"] == 1_800
    for point in ("200", "2000"):
        assert set(grown[point]["statuses"]) == {"200"}, grown[point]
    assert "## Storage backends (issue 14)" in smoke["markdown"]
    assert "| PostgreSQL, the single-process mode |" in smoke["markdown"]
    assert f"{backends.SINGLE} at half of its max rate" in smoke["markdown"]


def test_smoke_run_measures_p_in_the_single_process_mode_beside_p(smoke: dict[str, Any]) -> None:
    row = smoke["rows"][single.NAME]
    assert "skipped" not in row, row
    assert row["requests"] > 0
    assert sum(row["errors"].values()) == 0, row["errors"]
    # Its own roles: profile and offers are one process.
    assert set(row["cpu_per_request_s"]) == {"envoy", "single", "loadgen", "other"}
    # The same answer as P's, but for the values: sections rendered and redacted alike.
    found = smoke["single_process"]
    assert found["same_shape_as_P"] is True
    assert found["sample_answer_shape"] == single.shape(smoke["sample_answer"])
    assert None in found["sample_answer_shape"].values()  # a redacted section
    # Issue 17's two targets, from this run's figures: met or not, never how fast.
    cpu = found["cpu_per_request_us"]
    assert cpu["P"] > 0
    assert cpu[single.NAME] > 0
    assert found["cpu_ratio"] == pytest.approx(cpu[single.NAME] / cpu["P"], abs=0.01)
    assert isinstance(found["cpu_ratio_met"], bool)
    assert isinstance(found["over_f2_met"], bool)
    assert set(found["cpu_per_request_us_by_process"][single.NAME]) == {"envoy", "single"}
    # At half of its own maximum rate, as often as P, each run explained like P's.
    runs = smoke["half_rate_single_runs"]
    assert len(runs) == len(smoke["half_rate_runs"]) == 2
    assert runs[0]["target_rate"] == runs[1]["target_rate"]
    assert runs[0]["target_rate"] == pytest.approx(row["median_req_per_s"] / 2, abs=0.1)
    for run in runs:
        assert run["path"] == single.NAME
        assert set(run["statuses"]) == {"200"}, run["statuses"]
        assert isinstance(run["met"], bool)
        assert {"envoy", "single", "loadgen", "machine"} <= set(run["cpu_timeline"][0])
        _assert_stalls_recorded(run, profile_in="single")
    assert found["half_rate_met_every_run"] == all(run["met"] for run in runs)
    markdown = smoke["markdown"]
    assert "## Single-process mode (issue 17)" in markdown
    assert f"{single.NAME} / P = " in markdown
    assert f"{single.NAME} / F2 = " in markdown
    assert f"Run 2 of 2: {single.NAME} at half of its max rate" in markdown
