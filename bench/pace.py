"""The machine's pace beside a run: the CPU one fixed piece of pure Python takes.

A virtual machine's cores can run slower for seconds at a time without the hypervisor
counting it as steal (a neighbour on the host's core, its caches). Measured on this kind of
machine (2 vCPUs under KVM, nothing else running, session of 2026-12-06): a loop of 20,000
iterations, timed every few milliseconds, took 560-620 µs of CPU in some seconds and up to
1,290 µs in others, back to back or after a pause alike. Every process of a run slows in
such a second, so a run whose requests all cost more CPU than the run before may have had
a slower machine, not dearer code.

``Pace`` runs a small process of its own beside a run (its own interpreter lock: it never
delays the load generator) that does ``unit`` every ``interval`` and prints the CPU each
took (``time.thread_time``) with the wall-clock time it ended. ``summary`` gives a run's
median and slowest unit against its fastest (the machine at its best in that run);
``in_second`` the units of one second, for the tail's worst seconds (``bench/tail.py``).
It costs one unit (about 0.6 ms of CPU) every 100 ms: under 1 % of a core.

``python -m bench.pace --interval 0.1`` prints ``<time> <µs>`` lines until stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from typing import Any

ITERATIONS = 20_000
INTERVAL = 0.1


def unit() -> int:
    """The fixed piece of work: integer arithmetic in the interpreter, no allocation that
    grows, no I/O."""
    total = 0
    for i in range(ITERATIONS):
        total += i * i % 7
    return total


def _sample_forever(interval: float) -> None:
    while True:
        started = time.thread_time()
        unit()
        took = time.thread_time() - started
        print(f"{time.time():.3f} {took * 1e6:.0f}", flush=True)
        time.sleep(interval)


class Pace:
    """Samples of ``unit`` from a process of its own, between ``start`` and ``stop``."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self._interval = interval
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.pace", f"--interval={self._interval}"],
            stdout=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> list[tuple[float, float]]:
        """``(ended at, µs of CPU)`` for every unit done."""
        assert self._process is not None
        self._process.terminate()
        out, _ = self._process.communicate(timeout=10)
        samples = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 2:  # a line cut by the signal is dropped
                samples.append((float(fields[0]), float(fields[1])))
        return samples


def summary(samples: list[tuple[float, float]]) -> dict[str, Any] | None:
    """A run's units: the fastest, the median and the slowest, in µs of CPU, and the
    median and slowest as multiples of the fastest."""
    if not samples:
        return None
    costs = sorted(cost for _, cost in samples)
    fastest, median = costs[0], statistics.median(costs)
    return {
        "units": len(costs),
        "fastest_us": fastest,
        "median_us": median,
        "slowest_us": costs[-1],
        "median_x": round(median / fastest, 2),
        "slowest_x": round(costs[-1] / fastest, 2),
    }


def in_second(samples: list[tuple[float, float]], start: float) -> dict[str, float] | None:
    """The median unit of the second starting at ``start`` (wall clock), in µs and as a
    multiple of the run's fastest; None when no unit ended in it."""
    if not samples:
        return None
    costs = sorted(cost for ended, cost in samples if start <= ended < start + 1.0)
    if not costs:
        return None
    fastest = min(cost for _, cost in samples)
    median = statistics.median(costs)
    return {"median_us": median, "x": round(median / fastest, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=INTERVAL)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        _sample_forever(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
