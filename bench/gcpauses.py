"""Garbage-collector pauses of the services in steady state, under the public path's load.

    python -m bench.gcpauses [--profiles 10000] [--rate 200] [--warmup 10] [--seconds 30]

Starts the suite as ``bench.run`` does (``p13n up``, the bench's configuration, profiles
through the Ingest API, 20 personalizations) with ``bench/gcpause`` on its ``PYTHONPATH``,
drives P with the open-loop generator for ``--warmup`` seconds, then for ``--seconds`` more,
and reports every collection each service process made in that second window: how many per
generation, and how long they paused the process (the event loop included), with the
open-loop latencies of the same window. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bench import gcpause
from bench.configure import configure
from bench.measure import Target, Traffic, open_loop
from bench.preload import import_attributes, ingest_profiles
from bench.suite import Suite

SERVICES = ("auth", "profile", "offers")


def _summary(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    found: dict[str, Any] = {
        "tracked_objects_by_generation": report["tracked"],
        "frozen": report["frozen"],
        "threshold": report["threshold"],
    }
    for generation in range(3):
        # The hook keeps, per 100 ms, each generation's count, total and longest pause.
        rows = [bucket["gc"][generation] for bucket in report["buckets"]]
        count = sum(row[0] for row in rows)
        if not count:
            found[f"gen{generation}"] = {"count": 0}
            continue
        total_ms = sum(row[1] for row in rows) * 1e3
        found[f"gen{generation}"] = {
            "count": count,
            "per_s": round(count / seconds, 2),
            "mean_ms": round(total_ms / count, 3),
            "max_ms": round(max(row[2] for row in rows) * 1e3, 3),
            "total_ms": round(total_ms, 1),
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gcpauses", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s on P")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p13n-gc-") as work:
        out = Path(work) / "gc"
        suite = Suite(Path(work) / "suite", extra_env=gcpause.env(out))
        try:
            suite.start()
            setup = configure(suite)
            ingest_profiles(suite.data_port, setup, 0, args.profiles)
            import_attributes(setup, 0, args.profiles)
            setup.set_personalizations(20)
            pids = suite.pids()
            target = Target("P", suite.data_port, {k: pids[k] for k in ("envoy", *SERVICES)})
            traffic = Traffic(setup.public_token, args.profiles)
            open_loop(target, args.rate, args.warmup, traffic)
            for name in SERVICES:
                gcpause.read(out, pids[name][0])  # the window starts now
            load = open_loop(target, args.rate, args.seconds, traffic)
            reports = {name: gcpause.read(out, pids[name][0]) for name in SERVICES}
        finally:
            suite.stop()
    print(
        json.dumps(
            {
                "rate": args.rate,
                "seconds": args.seconds,
                "open_loop": {k: load[k] for k in load if k not in ("cpu_s", "cpu_per_request_s")},
                **{name: _summary(reports[name], args.seconds) for name in SERVICES},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
