"""The A/B runner (``python -m bench.ab``) still runs: suites that differ in one variable,
each driven in turn. Like the smoke run, it checks that the measure works, never speed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from support.bench_module import ROOT, run_module


def test_each_variant_is_driven_in_turn_with_its_own_environment() -> None:
    variants = ["{}", '{"P13N_LOG_LEVEL": "ERROR"}']
    done = run_module(
        "bench.ab",
        *variants,
        *("--rate", "20", "--runs", "2", "--duration", "1", "--profiles", "50"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = re.findall(
        r"^run (\d) (\{.*?\}): p50 [\d.]+ p95 [\d.]+ p99 [\d.]+ ms; CPU", done.stdout, re.M
    )
    assert runs == [
        ("1", "{}"),
        ("1", '{"P13N_LOG_LEVEL": "ERROR"}'),
        ("2", "{}"),
        ("2", '{"P13N_LOG_LEVEL": "ERROR"}'),
    ], done.stdout
    assert "'profile': " in done.stdout  # each process's CPU per request


def test_flat_out_a_variant_runs_the_checkout_on_its_path(tmp_path: Path) -> None:
    # A variant on another checkout of the code (here a copy of this one that leaves a mark
    # when the single process starts) runs that checkout's modules, not those of the
    # directory the bench was started from.
    checkout, mark = tmp_path / "checkout", tmp_path / "ran"
    shutil.copytree(ROOT / "services", checkout / "services")
    entry = checkout / "services" / "single" / "__main__.py"
    entry.write_text(f"open({str(mark)!r}, 'w').close()\n" + entry.read_text())
    done = run_module(
        "bench.ab",
        json.dumps({"PYTHONPATH": str(checkout)}),
        *("--flat-out", "--single-process", "--runs", "1", "--duration", "1"),
        *("--profiles", "50"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.search(r"^run 1 \{.*\}: \d+ req/s; CPU µs per request \{'envoy'", done.stdout, re.M)
    assert mark.exists()
