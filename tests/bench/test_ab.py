"""The A/B runner (``python -m bench.ab``) still runs: suites that differ in one variable,
each driven in turn. Like the smoke run, it checks that the measure works, never speed."""

from __future__ import annotations

import re

from support.bench_module import run_module


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
