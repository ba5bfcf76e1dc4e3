"""The per-call cost of a trivial grpc.aio call (``python -m bench.grpc_rate_cost``) still runs.

Like the smoke run, it checks that the measure works, never how fast anything is.
"""

from __future__ import annotations

import re

from support.bench_module import run_module


def test_both_regimes_are_measured_with_the_servers_threads_by_role() -> None:
    done = run_module("bench.grpc_rate_cost", "--calls", "100", "--repeat", "1", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = re.findall(
        r"^  (paced at 200/s, one at a time|flat out, 8 in flight): server (\d+) µs CPU and "
        r"([\d.]+) context switches per call \((.*)\); client (\d+) µs",
        done.stdout,
        re.M,
    )
    assert [line[0] for line in lines] == [
        "paced at 200/s, one at a time",
        "flat out, 8 in flight",
    ], done.stdout
    for _, _, switches, roles, _ in lines:
        # The event loop sleeps between paced calls: each one wakes it at least once.
        assert "event loop" in roles, roles
        assert "grpc.aio poller" in roles, roles
        assert float(switches) > 0
    paced_roles = dict(
        (role, float(n)) for role, n in re.findall(r"([a-z. ]+?) ([\d.]+)(?:, |$)", lines[0][3])
    )
    assert paced_roles["event loop"] >= 1, paced_roles
    assert re.search(r"paced over flat out, CPU per call: server [\d.]+, both [\d.]+", done.stdout)
