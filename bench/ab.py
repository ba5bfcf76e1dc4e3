"""Suites that differ in their environment only, driven in turn at one open-loop rate.

``python -m bench.ab --rate 190 --runs 3 [--single-process] '{}' '{"NAME": "value"}' ...``
``python -m bench.ab --flat-out --runs 4 [--single-process] '{"PYTHONPATH": "/tmp/base"}' '{}'``

Each argument is a JSON object of environment variables for one ``p13n up`` (``{}``: as it
ships). Every suite is started, configured and preloaded as ``make bench`` does its own
(``--profiles``, 20 personalizations), then the suites take turns: run 1 of suite A, run 1
of suite B, ..., run 2 of suite A, ..., so a slow minute of the machine touches them alike.
Each run prints its latencies and each process's CPU per request; with ``--flat-out``,
wrk drives each suite at full speed instead (the maximum rate, as ``make bench`` measures
it), and each run prints its rate and CPU per request.

It is how a lever is measured before it is built: a change reachable through an
environment variable (or a temporary patch that reads one) against the code as it is, on
the same machine in the same minutes. ``docs/performance.md`` ("Levers measured and not
taken") lists what it measured. A change that is code, not a setting, is measured against
the code before it by running one suite from a checkout of it: ``git worktree add /tmp/base
HEAD`` and the variant ``{"PYTHONPATH": "/tmp/base"}`` (its modules come first on the path).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.configure import configure
from bench.measure import Target, Traffic, closed_loop, open_loop
from bench.preload import import_attributes, ingest_profiles
from bench.suite import Suite
from bench.wrk import Load


def _prepared(suite: Suite, profiles: int) -> tuple[Target, Traffic]:
    """Started, configured and preloaded as ``make bench`` does; the path answers 200."""
    suite.start()
    setup = configure(suite)
    ingest_profiles(suite.data_port, setup, 0, profiles)
    import_attributes(setup, 0, profiles)
    setup.set_personalizations(20)
    setup.first_answer(suite)
    pids = suite.pids()
    target = Target("ab", suite.data_port, {role: pids[role] for role in suite.roles})
    return target, Traffic(setup.public_token, profiles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="a JSON object of environment variables")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--rate", type=float, help="requests a second, open loop")
    how.add_argument("--flat-out", action="store_true", help="wrk at full speed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=None, help="seconds (20; flat out 10)")
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--single-process", action="store_true")
    args = parser.parse_args(argv)
    variants = [json.loads(text) for text in args.variants]
    work = Path(tempfile.mkdtemp(prefix="p13n-ab-"))
    suites = [
        Suite(work / f"suite-{n}", extra_env=env, single_process=args.single_process)
        for n, env in enumerate(variants)
    ]
    try:
        prepared = [_prepared(suite, args.profiles) for suite in suites]
        for run in range(1, args.runs + 1):
            for env, (target, traffic) in zip(variants, prepared, strict=True):
                print(
                    f"run {run} {json.dumps(env)}: {_measured(target, traffic, args)}", flush=True
                )
    finally:
        for suite in suites:
            suite.stop()
    return 0


def _measured(target: Target, traffic: Traffic, args: argparse.Namespace) -> str:
    """One run: flat out its rate, paced its latencies; and each process's CPU a request."""
    if args.flat_out:
        found = closed_loop(target, Load(duration=args.duration or 10.0), traffic)
        head = f"{found['requests'] / found['seconds']:.0f} req/s"
    else:
        found = open_loop(target, args.rate, args.duration or 20.0, traffic)
        latency = found["latency_ms"]
        head = f"p50 {latency['p50']:.2f} p95 {latency['p95']:.2f} p99 {latency['p99']:.2f} ms"
    cpu = {k: round(v * 1e6) for k, v in found["cpu_per_request_s"].items()}
    return f"{head}; CPU µs per request {cpu}"


if __name__ == "__main__":
    sys.exit(main())
