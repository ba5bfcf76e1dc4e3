"""The in-process measure of the offers handlers (``python -m bench.offers_cpu``) still runs.

Like the smoke run, it checks that the measure works, never how fast anything is.
"""

from __future__ import annotations

import re

from support.bench_module import run_module


def test_every_path_is_measured_on_answers_that_render_the_benchs_sections() -> None:
    done = run_module("bench.offers_cpu", "--count", "20", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.findall(
        r"^ *([a-z-]+): +([\d.]+) µs .* answers of ([\d,]+) bytes", done.stdout, re.M
    )
    assert [path for path, _, _ in found] == ["public", "private-http", "private"]
    for path, micros, size in found:
        assert float(micros) > 0, path
        # The full visitor's LISTs rendered into many sections, not an empty answer.
        assert int(size.replace(",", "")) > 1000, path
