"""Envoy's view of an open-loop run, second by second (the gateway's timing log).

The bench's suites start with ``P13N_GATEWAY_TIMING_LOG`` in their records directory
(``bench/suite.py``), so Envoy writes one line per data-plane request: when it arrived and
how long it spent before its upstream was sent it (ext_authz, the buffer), in the upstream
(the service) and after it (``gateway/timing_log.py``). A worst second whose latency the
generator saw but Envoy did not hold was spent outside Envoy: in the generator, the kernel
or the connection; one whose upstream time is long was the service's (``bench/tail.py``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from bench.openloop import percentile

LOG_NAME = "envoy-timing.jsonl"
# Envoy writes the log out every 0.5 s (services/supervisor.py): after the run's last
# answer, this long is enough for its line to be on disk.
_FLUSH_WAIT_S = 1.0


def log_path(records: Path) -> Path:
    return records / LOG_NAME


def _ms(values: list[float], p: float) -> float:
    return round(percentile(sorted(values), p) / 1000, 2)


def second_of(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One second's requests as Envoy timed them, in ms (a part with no value: 0)."""

    def part(name: str) -> list[float]:
        return [float(line[name]) for line in lines if line.get(name) is not None]

    total, before, upstream, after = (
        part(name)
        for name in ("total_us", "before_upstream_us", "upstream_us", "after_upstream_us")
    )
    return {
        "requests": len(lines),
        "total_p99_ms": _ms(total, 99),
        "total_max_ms": _ms(total, 100),
        "before_max_ms": _ms(before, 100),
        "upstream_p99_ms": _ms(upstream, 99),
        "upstream_max_ms": _ms(upstream, 100),
        "after_max_ms": _ms(after, 100),
    }


# How far outside the run's window a line is still the run's, counted into its first or
# last second. Early: ``started_at`` is rounded to the millisecond and read a moment after
# the generator's own clock, so its first request can reach Envoy just "before" it (the
# line of a request before the run is far older: the generator takes longer than this to
# start). Late: a request due at the end reaches Envoy after its due time.
EARLY_S = 0.05
LATE_S = 1.0


def by_second(
    lines: list[dict[str, Any]], started_at: float, duration: float
) -> list[dict[str, Any]]:
    """The run's seconds, each with the requests Envoy received in it."""
    count = max(1, math.ceil(duration))
    seconds: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for line in lines:
        offset = float(line["start"]) - started_at
        if -EARLY_S <= offset < duration + LATE_S:
            seconds[min(max(0, math.floor(offset)), count - 1)].append(line)
    return [second_of(found) for found in seconds]


class EnvoyTiming:
    """The requests of a run in the lines Envoy appends to its timing log after ``start()``
    (lines of requests before the run, written out late, are left out by their time)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    def start(self) -> None:
        self._offset = self._path.stat().st_size if self._path.exists() else 0

    def stop(self, started_at: float, duration: float) -> dict[str, Any]:
        """Envoy's view of the run, or a note of why there is none."""
        if not self._path.exists():
            return {"skipped": f"no timing log at {self._path}"}
        time.sleep(_FLUSH_WAIT_S)  # called once every request of the run was answered
        seconds = by_second(self._lines(), started_at, duration)
        return {"requests": sum(s["requests"] for s in seconds), "seconds": seconds}

    def _lines(self) -> list[dict[str, Any]]:
        with self._path.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode()
        # A line Envoy is still writing has no newline yet: it is left out.
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]
