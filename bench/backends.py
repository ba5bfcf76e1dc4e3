"""P on each storage backend in one run: SQLite, PostgreSQL, PostgreSQL with two replicas.

The suite the rest of the bench measures is SQLite's (the default). Beside it run two
more ``p13n up``, configured and preloaded alike, on the run's PostgreSQL database
(``bench/pg.py``), each under its own schema prefix: ``P-pg`` with one process per
service and ``P-pg2`` with ``--replicas 2``. Their P rows are measured in the same
interleaved rounds as P's, so a slow minute of the machine touches all three alike.
``P-pg-single`` (``p13n up --single-process`` on the same server) is measured beside them,
and at half of its own maximum rate before P-pg's: what the half-rate target on PostgreSQL
looks like with the gRPC hops between the services taken out (issue 17's mode).

Targets (issue 14): P(PostgreSQL) ≥ 0.8 x P(SQLite); p95 ≤ 10 ms at half of P-pg's
maximum rate; p95 with 1,000,000 profiles ≤ 1.25 x p95 with 10,000, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import pg, tail
from bench.suite import Suite, venv_bin

ONE, TWO, SINGLE = "P-pg", "P-pg2", "P-pg-single"
# Measured further after the interleaved rounds: at half rate (and P-pg at scale).
KEPT = frozenset({ONE, SINGLE})
# The profile-count comparison's two suites (``store_sides``).
SMALL, BIG = "P-pg-small-store", "P-pg-big-store"
SERVICES = ("auth", "profile", "offers")
PG_OVER_SQLITE_TARGET = 0.8
HALF_RATE_P95_TARGET_MS = 10.0
PROFILES_P95_RATIO_TARGET = 1.25


@functools.cache
def replicas_supported() -> bool:
    """Whether this `p13n up` has ``--replicas``."""
    done = subprocess.run(
        [venv_bin("p13n"), "up", "--help"], capture_output=True, text=True, check=False
    )
    return "--replicas" in done.stdout


@dataclass(frozen=True)
class Side:
    """A suite on PostgreSQL measured beside P: its row name, suite and schema prefix."""

    name: str
    suite: Suite
    url: str
    prefix: str

    def not_on_postgres(self) -> str:
        """Why the started suite is not really on PostgreSQL ('' when it is): a service
        that does not know ``P13N_DATABASE_URL`` keeps its SQLite file and makes no schema."""
        missing = missing_schemas(self.url, self.prefix)
        return (
            f"no schema {', '.join(missing)}: not every service uses PostgreSQL" if missing else ""
        )


def missing_schemas(url: str, prefix: str) -> list[str]:
    """The services' schemas under ``prefix`` that do not exist on ``url``."""
    return asyncio.run(_missing_schemas(url, prefix))


async def _missing_schemas(url: str, prefix: str) -> list[str]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch("SELECT schema_name FROM information_schema.schemata")
    finally:
        await conn.close()
    found = {row["schema_name"] for row in rows}
    return [prefix + name for name in SERVICES if prefix + name not in found]


def sides(work: Path, url: str, notes: list[str]) -> list[Side]:
    """The PostgreSQL suites to measure (not started); two replicas only where supported."""
    records = work / "records"
    one = Suite(work / "suite-pg", extra_env=pg.suite_env(url, "b1_"), records=records / "pg")
    found = [Side(ONE, one, url, "b1_")]
    if replicas_supported():
        two = Suite(
            work / "suite-pg2",
            extra_env=pg.suite_env(url, "b2_"),
            replicas=2,
            records=records / "pg2",
        )
        found.append(Side(TWO, two, url, "b2_"))
    else:
        notes.append(f"{TWO} not measured: this `p13n up` has no --replicas")
    single = Suite(
        work / "suite-pg-single",
        extra_env=pg.suite_env(url, "b3_"),
        single_process=True,
        records=records / "pg-single",
    )
    found.append(Side(SINGLE, single, url, "b3_"))
    return found


def store_sides(like: Side) -> tuple[Side, Side]:
    """Two fresh suites like ``like`` (one process per service, on its database), not
    started: the small and the big store of the profile-count comparison."""
    work = like.suite.data_dir.parent
    records = like.suite.records.parent if like.suite.records else None

    def side(name: str, tag: str, prefix: str) -> Side:
        suite = Suite(
            work / f"suite-pg-{tag}",
            extra_env=pg.suite_env(like.url, prefix),
            records=records / f"pg-{tag}" if records else None,
        )
        return Side(name, suite, like.url, prefix)

    return side(SMALL, "small", "b4_"), side(BIG, "big", "b5_")


def stop_all_but_kept(found: list[Side]) -> None:
    for side in found:
        if side.name not in KEPT:
            side.suite.stop()


def stop(found: list[Side], name: str) -> None:
    for side in found:
        if side.name == name:
            side.suite.stop()


def stop_all(found: list[Side]) -> None:
    for side in found:
        side.suite.stop()


def compare(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """P's maximum rate on each backend and the ratio the target is about; empty when
    PostgreSQL was not measured."""
    rates = {
        name: rows[name]["median_req_per_s"]
        for name in ("P", ONE, TWO, SINGLE)
        if name in rows and "skipped" not in rows[name]
    }
    if ONE not in rates and TWO not in rates:
        return {}
    found: dict[str, Any] = {"req_per_s": {k: round(v, 1) for k, v in rates.items()}}
    if "P" in rates and ONE in rates:
        ratio = rates[ONE] / rates["P"]
        found["pg_over_sqlite"] = round(ratio, 3)
        found["pg_over_sqlite_target"] = f">= {PG_OVER_SQLITE_TARGET}"
        found["pg_over_sqlite_met"] = ratio >= PG_OVER_SQLITE_TARGET
    if ONE in rates and TWO in rates:
        found["two_replicas_over_one"] = round(rates[TWO] / rates[ONE], 3)
    return found


def half_rate_verdict(half: dict[str, Any]) -> dict[str, Any]:
    p95 = half["latency_ms"]["p95"]
    return {"p95_target_ms": HALF_RATE_P95_TARGET_MS, "p95_met": p95 <= HALF_RATE_P95_TARGET_MS}


def _half_rate_lines(half: dict[str, Any]) -> list[str]:
    lat = half["latency_ms"]
    verdict = "met" if half["p95_met"] else "missed"
    return [
        f"{half['path']} at half of its max rate ({half['target_rate']:.0f} req/s for "
        f"{half['duration']:.0f} s): p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms "
        f"(target ≤ {HALF_RATE_P95_TARGET_MS:.0f}: {verdict}), p99 {lat['p99']:.2f} ms; "
        f"statuses {half['statuses']}.",
        "",
        *tail.explain(half),
        *_server_lines(half.get("postgres_activity")),
        "",
    ]


def _server_lines(done: dict[str, float] | None) -> list[str]:
    """What PostgreSQL did over the run besides answering (bench/pg.py ``activity``)."""
    if not done:
        return []
    return [
        f"- PostgreSQL over the run: {done['checkpoints']:.0f} checkpoints "
        f"({done['checkpoint_ms']:,.0f} ms writing and syncing), {done['autovacuums']:.0f} "
        f"autovacuum or autoanalyze runs; {done['commits']:,.0f} commits, "
        f"{done['rollbacks']:,.0f} rollbacks, {done['deadlocks']:.0f} deadlocks; "
        f"{done['blocks_read']:,.0f} blocks read from outside its buffers, "
        f"{done['temp_files']:.0f} temporary files"
    ]


def markdown(results: dict[str, Any]) -> list[str]:
    """The backends section of the report (empty when PostgreSQL was not measured)."""
    found = results.get("postgres")
    if not found:
        return []
    out = ["## Storage backends (issue 14)", ""]
    rates = found["req_per_s"]
    out.append("| P on | req/s |")
    out.append("|---|---:|")
    labels = {"P": "SQLite, one process each", ONE: "PostgreSQL, one process each"}
    labels[TWO] = "PostgreSQL, two replicas each"
    labels[SINGLE] = "PostgreSQL, the single-process mode"
    for name, rate in rates.items():
        out.append(f"| {labels[name]} | {rate:.0f} |")
    out.append("")
    if "pg_over_sqlite" in found:
        verdict = "met" if found["pg_over_sqlite_met"] else "missed"
        out.append(
            # Three decimals: 0.795 printed as 0.80 would read as met.
            f"P(PostgreSQL) / P(SQLite) = {found['pg_over_sqlite']:.3f} "
            f"(target ≥ {PG_OVER_SQLITE_TARGET}: {verdict})."
        )
    if "two_replicas_over_one" in found:
        out.append(f"Two replicas over one, on PostgreSQL: {found['two_replicas_over_one']:.2f}.")
    for key in ("half_rate_postgres", "half_rate_postgres_single"):
        half = results.get(key)
        if half:
            out += _half_rate_lines(half)
    grown = results.get("postgres_profiles")
    if grown and "skipped" not in grown:
        have, want = (k for k in grown if k.isdigit())
        ratio = grown["p95_ratio"]
        met = ratio is not None and ratio <= PROFILES_P95_RATIO_TARGET
        out.append(
            f"{ONE} p95 at {int(have):,} profiles {grown[have]['p95_ms']:.2f} ms, at "
            f"{int(want):,} {grown[want]['p95_ms']:.2f} ms: ratio {ratio} (target ≤ "
            f"{PROFILES_P95_RATIO_TARGET}: {'met' if met else 'missed'}); "
            + (
                "two suites alike but for their stores, run in turn; "
                if grown.get("interleaved")
                else ""
            )
            + f"the store grown in SQL in {grown['preload']['seconds']:.0f} s."
        )
    elif grown:
        out.append(f"{ONE} with more profiles: {grown['skipped']}")
    out.append("")
    return out
