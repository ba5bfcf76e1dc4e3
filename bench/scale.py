"""Scale runs: P's latency at one fixed offered load while one dimension grows.

Each comparison measures both sides close together in time and at the same offered load
(open loop), ``repeat`` times each, interleaved: the dimension switched back and forth
(personalizations) or standing on two suites alike but for it (profiles,
``profiles_side_by_side``), and reports the median p95; wrk's maximum rate and the CPU
per request of every process are kept beside it. The machine's other work during each
point (``other`` CPU) is reported too, because a noisy neighbour shows up as tail latency.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.configure import Configured, configure
from bench.measure import Target, Traffic, closed_loop, open_loop
from bench.preload import Preloaded, ingest_profiles
from bench.procs import peak_rss_bytes, rss_bytes
from bench.suite import Suite
from bench.wrk import Load


def _us(cpu: dict[str, float]) -> dict[str, int]:
    return {name: round(seconds * 1e6) for name, seconds in cpu.items()}


def fixed_point(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Open-loop runs at one rate: median percentiles, every run's p95 and noise."""

    def median(name: str) -> float:
        return round(float(statistics.median(r["latency_ms"][name] for r in runs)), 3)

    return {
        "rate": runs[0]["target_rate"],
        "runs": len(runs),
        "p50_ms": median("p50"),
        "p95_ms": median("p95"),
        "p99_ms": median("p99"),
        "p95_ms_each": [r["latency_ms"]["p95"] for r in runs],
        "other_cpu_s_each": [r["cpu_s"].get("other", 0.0) for r in runs],
        # Each run's longest collector pause and event-loop lag in any service process.
        "gc_max_ms_each": [_worst(r, "gc_max_ms") for r in runs],
        "loop_lag_max_ms_each": [_worst(r, "lag_max_ms") for r in runs],
        "statuses": _merged(r["statuses"] for r in runs),
        "cpu_us_per_request": _us(runs[len(runs) // 2]["cpu_per_request_s"]),
    }


def _worst(run: dict[str, Any], key: str) -> float | None:
    """The highest ``key`` of any second of any process (None: the run recorded none)."""
    values = [row[key] for p in run.get("processes", {}).values() for row in p["seconds"]]
    return max(values) if values else None


def _merged(statuses: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in statuses:
        for status, n in counts.items():
            total[status] = total.get(status, 0) + n
    return total


def max_point(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_req_per_s": row["req_per_s"],
        "cpu_us_per_request": _us(row["cpu_per_request_s"]),
    }


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    return round(a["p95_ms"] / b["p95_ms"], 2) if b["p95_ms"] else None


def personalizations(
    setup: Configured,
    target: Target,
    load: Load,
    traffic: Traffic,
    seconds: float,
    repeat: int,
    restore: int,
) -> dict[str, Any]:
    """P with 1 and with 100 personalizations (3 sections each) on the same profiles.

    The offered load is half of the smaller of the two maximum rates, so that neither
    side is measured saturated; the open-loop runs alternate between the two.
    """
    counts = (1, 100)
    maxima = {}
    for count in counts:
        setup.set_personalizations(count)
        maxima[count] = max_point(closed_loop(target, load, traffic))
    rate = min(m["max_req_per_s"] for m in maxima.values()) / 2
    runs: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    for _ in range(repeat):
        for count in counts:
            setup.set_personalizations(count)
            runs[count].append(open_loop(target, rate, seconds, traffic))
    setup.set_personalizations(restore)
    points = {str(c): maxima[c] | fixed_point(runs[c]) for c in counts}
    return {
        "points": points,
        "p95_ratio_100_over_1": _ratio(points["100"], points["1"]),
        "target": "<= 1.5",
    }


@dataclass(frozen=True)
class Store:
    """A suite measured at one size of its store: its path, and visitors drawn from all of
    its profiles (``traffic.pool``)."""

    suite: Suite
    target: Target
    traffic: Traffic


def profiles_side_by_side(
    small: Store,
    big: Store,
    load: Load,
    rate: float,
    seconds: float,
    repeat: int,
    preload: Preloaded,
) -> dict[str, Any]:
    """``profiles``' comparison on two suites alike but for the size of their stores (the big
    one grown beforehand, ``preload``), run in turn at one rate: ``repeat`` open-loop runs
    each, interleaved, so a slow minute of the machine touches both sizes alike (one suite
    measured before and after its store grew would see two different minutes)."""
    stores = (small, big)
    maxima = [max_point(closed_loop(s.target, load, s.traffic)) for s in stores]
    runs: list[list[dict[str, Any]]] = [[], []]
    for _ in range(repeat):
        for store, its_runs in zip(stores, runs, strict=True):
            its_runs.append(open_loop(store.target, rate, seconds, store.traffic))
    before, after = (m | fixed_point(r) for m, r in zip(maxima, runs, strict=True))
    pids = big.suite.pids()["profile"]
    found = _profiles_found(
        small.traffic.pool, before, big.traffic.pool, after, preload, big.suite, pids
    )
    return found | {"interleaved": True}


def _profiles_found(
    have: int,
    before: dict[str, Any],
    want: int,
    after: dict[str, Any],
    preload: Preloaded,
    suite: Suite,
    pids: list[int],
) -> dict[str, Any]:
    """The comparison of two store sizes, with the bigger store's profile process RSS."""
    return {
        str(have): before,
        str(want): after,
        "p95_ratio": _ratio(after, before),
        "target": "<= 1.25",
        "preload": {
            "records": preload.records,
            "seconds": round(preload.seconds, 1),
            "records_per_s": round(preload.rate, 1),
        },
        "profile_rss_mib": round(sum(rss_bytes(p) for p in pids) / 2**20, 1),
        "profile_peak_rss_mib": round(sum(peak_rss_bytes(p) for p in pids) / 2**20, 1),
        "rss_target_mib": 1024,
        "data_dir_bytes": sum(f.stat().st_size for f in suite.data_dir.glob("*.db*")),
    }


def lists(
    directory: Path,
    load: Load,
    rate: float,
    seconds: float,
    repeat: int,
    pool: int,
    personalizations: int,
) -> dict[str, Any]:
    """A fresh suite, same pool, LIST attributes keeping 10 and then 100 items.

    Each visitor gets 100 product views, so product-fed lists fill to their cap; the
    comparison is 10 against 100 items on otherwise equal stores.
    """
    found: dict[str, Any] = {"pool": pool}
    for items in (10, 100):
        suite = Suite(directory / f"items{items}", records=directory / f"items{items}-records")
        suite.start()
        try:
            found[str(items)] = _list_point(
                suite, items, load, rate, seconds, repeat, pool, personalizations
            )
        finally:
            suite.stop()
    found["p95_ratio_100_over_10"] = _ratio(found["100"], found["10"])
    return found


def _list_point(
    suite: Suite,
    items: int,
    load: Load,
    rate: float,
    seconds: float,
    repeat: int,
    pool: int,
    personalizations: int,
) -> dict[str, Any]:
    setup = configure(suite, list_items=items)
    setup.set_personalizations(personalizations)
    preload = ingest_profiles(suite.data_port, setup, 0, pool, events_per_visitor=100)
    pids = suite.pids()
    roles = ("envoy", "auth", "profile", "offers")
    target = Target("P", suite.data_port, {k: pids[k] for k in roles}, suite.records)
    traffic = Traffic(setup.public_token, pool)
    runs = [open_loop(target, rate, seconds, traffic) for _ in range(repeat)]
    return (
        {"max_items": items, "preload_s": round(preload.seconds, 1)}
        | max_point(closed_loop(target, load, traffic))
        | fixed_point(runs)
    )
