"""Where a request's CPU goes inside each process, by thread, at P's maximum rate and at half
of it (issue 17: a request cost more CPU at half rate than flat out).

``bench.procs.ThreadMeter`` measures every load run: per process, per thread group, the CPU
and the context switches per request. This puts the maximum-rate run (``rows``) beside the
first half-rate run of the same path, so the difference shows where it is: which threads
cost more per request when requests come one at a time, and how often each was woken.
"""

from __future__ import annotations

from typing import Any

# (row name, the results key of its half-rate runs)
PATHS = (("P", "half_rate_runs"), ("P-single", "half_rate_single_runs"))


def _cell(found: dict[str, float] | None) -> str:
    if not found:
        return "— | —"
    return f"{found['cpu_us']:.0f} | {found['switches']:.1f}"


def table(at_max: dict[str, Any], at_half: dict[str, Any]) -> list[str]:
    """Markdown rows: process, thread, then CPU µs and switches per request at each rate."""
    rows, totals = [], {"max": [0.0, 0.0], "half": [0.0, 0.0]}
    for role in sorted((at_max.keys() | at_half.keys()) - {"loadgen", "other"}):
        max_threads, half_threads = at_max.get(role, {}), at_half.get(role, {})
        for group in sorted(max_threads.keys() | half_threads.keys()):
            found = {"max": max_threads.get(group), "half": half_threads.get(group)}
            for rate, measured in found.items():
                if measured:
                    totals[rate][0] += measured["cpu_us"]
                    totals[rate][1] += measured["switches"]
            rows.append(f"| {role} | {group} | {_cell(found['max'])} | {_cell(found['half'])} |")
    (max_us, max_switches), (half_us, half_switches) = totals["max"], totals["half"]
    return [
        "| process | thread | µs at max | switches at max | µs at half | switches at half |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        f"| all | | {max_us:.0f} | {max_switches:.1f} | {half_us:.0f} | {half_switches:.1f} |",
    ]


def section(results: dict[str, Any]) -> list[str]:
    """For P and P-single where both runs measured threads; empty otherwise."""
    out: list[str] = []
    for name, half_key in PATHS:
        row, halves = results.get("rows", {}).get(name, {}), results.get(half_key) or []
        if not halves and name == "P" and results.get("half_rate"):
            halves = [results["half_rate"]]
        if "threads" not in row or not halves or "threads" not in halves[0]:
            continue
        half = halves[0]
        out += [
            f"### {name}: CPU and context switches per request, by thread",
            "",
            f"At its maximum rate ({row['median_req_per_s']:.0f} req/s, closed loop) and at "
            f"half of it ({half['target_rate']:.0f} req/s, open loop, the first run). A "
            "thread's switches are the times it slept or was preempted: at half rate nearly "
            "each is a wake-up.",
            "",
            *table(row["threads"], half["threads"]),
            "",
        ]
    return out
