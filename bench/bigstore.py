"""A real profile store with many profiles, built in minutes, and the Track unit timed on it.

    python -m bench.bigstore build DIR --profiles 1000000     # about 4 minutes, 1.9 GB
    python -m bench.bigstore track DIR [--pool N] [--settings old|new] [--rate N]
                                       [--cache-kib N] [--mmap-mib N] [--autocheckpoint N]

``build`` makes ``DIR/profile.db`` as the benchmark's preload would: the bench's
configuration (``bench/workload.py``) through the real ``ConfigServicer``, imported attributes
for the first 10,000 visitors through the real import unit, and one product view per visitor
through ``tracking.ingest``, the unit the Ingest API runs, 500 records a unit. Only the
build's own durability is relaxed (``synchronous=OFF``, thousands of records a transaction),
which changes how fast the file is written, not what is in it. ``track`` writes to the
store, so time each run on a fresh copy of it.

``track`` runs Track units for random visitors of the pool (60 % page views, 40 % product
views, as in the load) in group-commit batches through ``group_commit.run_sync_batch`` on a
plain ``sqlite3`` connection: exactly what the database thread runs. ``--settings new``
opens the store as the profile service does (``store.TUNING``: its page cache, and its
checkpoint thread running beside the batches); ``old`` with SQLite's defaults (checkpoints
inside COMMIT). ``--rate`` paces the batches (flat out by default) and then reports, per
batch, the time from when it was due to the end of its COMMIT. It prints JSON: the time of
each Track unit (configuration, reads, stitching, attribute arithmetic, writes; not the
COMMIT), the COMMIT's, the serving thread's read syscalls per unit (pages SQLite's cache did
not hold) and the process's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import random
import resource
import sqlite3
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import config_service_pb2 as config_api
from p13n.profile.v1 import parent_segment_pb2
from p13n.profile.v1 import profile_service_pb2 as api
from p13n.profile.v1 import realtime_config_pb2 as pb

from bench import workload
from services.common import audit, events, storage
from services.common import identity as identities
from services.common.checkpoints import Checkpointer
from services.common.sql import AsyncSqlite, ThreadSqlite, run_to_completion
from services.profile import group_commit, imports, tracking
from services.profile.config_rules import FLAG_SENSITIVITY
from services.profile.config_service import ConfigServicer
from services.profile.realtime import ConfigCache
from services.profile.sql_config import SqliteConfigStore
from services.profile.store import MIGRATIONS, TUNING, database_path

ACCOUNT = "bench"
# Who the built store's imports are by, in its audit log (one entry per unit of rows).
BUILDER = audit.Author(ACCOUNT, "bench")
IMPORTED = 10_000  # the bench imports attributes for its first 10,000 visitors
UNIT = 500  # records per ingest unit, the Ingest API's maximum
UNITS_PER_TRANSACTION = 40


async def _flags(_account_id: str) -> frozenset[str]:
    return frozenset({FLAG_SENSITIVITY})


async def _references(_parent_segment_id: str, **_reference: str) -> list[str]:
    return []


async def _configure(path: Path) -> str:
    """The bench's parent segment, through the config service's own handlers."""
    db = await storage.Database.open(path, MIGRATIONS)
    identities.current.set(identity_pb2.Identity(account_id=ACCOUNT))
    config = ConfigServicer(SqliteConfigStore(db), _flags, _references)
    try:
        ps = await config.CreateParentSegment(
            config_api.CreateParentSegmentRequest(
                parent_segment=parent_segment_pb2.ParentSegment(
                    name="Shoppers", primary_key="td_client_id"
                )
            ),
            None,
        )
        for key in ("email", "user_id"):
            await config.CreateStitchingKey(
                config_api.CreateStitchingKeyRequest(
                    parent_segment_id=ps.id, stitching_key=pb.StitchingKey(name=key)
                ),
                None,
            )
        for event in workload.EVENTS:
            await config.CreateEventDefinition(
                config_api.CreateEventDefinitionRequest(
                    parent_segment_id=ps.id,
                    event=json_format.ParseDict(event, pb.EventDefinition()),
                ),
                None,
            )
        for attribute in workload.attributes():
            await config.CreateAttribute(
                config_api.CreateAttributeRequest(
                    parent_segment_id=ps.id,
                    attribute=json_format.ParseDict(attribute, pb.Attribute()),
                ),
                None,
            )
        await _import(db, ps.id)
    finally:
        await db.close()
    return str(ps.id)


async def _import(db: storage.Database, ps: str) -> None:
    tiers = ["bronze", "silver", "gold", "platinum"]
    configs = ConfigCache()
    for first in range(0, IMPORTED, UNIT):
        records = [
            api.ImportRecord(
                value=workload.client_id(n),
                attributes=events.to_struct(
                    {
                        "loyalty_tier": tiers[n % 4],
                        "lifetime_value": n % 1000 * 10,
                        "preferred_store": f"store-{n % 50:02d}",
                        "churn_score": n % 100 / 100,
                        "segment_label": "frequent" if n % 3 else "new",
                    }
                ),
            )
            for n in range(first, first + UNIT)
        ]
        async with db.transaction() as conn:
            await imports.import_attributes(
                AsyncSqlite(conn), configs, BUILDER, ps, "td_client_id", records, time.time()
            )


def _track_unit(conn: sqlite3.Connection, **unit: Any) -> Any:
    """``tracking.track`` as the group-commit writer runs it: whole, on the database thread."""
    return run_to_completion(tracking.track(ThreadSqlite(conn), **unit))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def build(directory: Path, profiles: int) -> None:
    path = database_path(directory)
    if path.exists():
        raise SystemExit(f"{path} exists; build into an empty directory")
    began = time.perf_counter()
    _configure_sync = asyncio.run(_configure(path))
    ps = _configure_sync
    conn = _connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    configs = ConfigCache()
    rng = random.Random(7)
    done = 0
    while done < profiles:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(UNITS_PER_TRANSACTION):
            if done >= profiles:
                break
            stop = min(profiles, done + UNIT)
            records = [
                events.checked(events.to_struct(workload.product_event(n, rng)))
                for n in range(done, stop)
            ]
            run_to_completion(
                tracking.ingest(
                    ThreadSqlite(conn),
                    configs,
                    ACCOUNT,
                    workload.DATABASE,
                    workload.PRODUCT_TABLE,
                    records,
                    time.time(),
                )
            )
            done = stop
        conn.execute("COMMIT")
        if done % 100_000 == 0 or done == profiles:
            print(f"{done:>9,} profiles  {time.perf_counter() - began:7.1f} s", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    (directory / "bigstore.json").write_text(
        json.dumps({"parent_segment_id": ps, "profiles": profiles})
    )
    size = sum(f.stat().st_size for f in directory.glob("profile.db*"))
    print(
        f"built {profiles:,} profiles in {time.perf_counter() - began:.1f} s; {size / 2**20:,.0f} MiB"
    )


def _io() -> dict[str, int]:
    """Read and write syscalls and bytes of this thread so far (not the checkpoint thread's)."""
    io = Path(f"/proc/self/task/{threading.get_native_id()}/io")
    fields = dict(line.split(": ") for line in io.read_text().splitlines())
    return {name: int(fields[name]) for name in ("syscr", "syscw", "rchar", "wchar")}


def _rss() -> dict[str, float]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) / 1024
    return found


def _summary(values: list[float], digits: int) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {
        "mean": round(statistics.fmean(values), digits),
        "p50": round(q[49], digits),
        "p95": round(q[94], digits),
        "p99": round(q[98], digits),
        "p99.9": round(statistics.quantiles(values, n=1000)[998], digits),
        "max": round(max(values), digits),
    }


def _tuned(path: Path, args: argparse.Namespace) -> tuple[sqlite3.Connection, Checkpointer | None]:
    """The connection Track runs on, tuned as ``args`` asks, and its checkpoint thread if any."""
    conn = _connect(path)
    # "old": SQLite's defaults, checkpoints inside COMMIT; "new": the profile store's tuning,
    # with its checkpoint thread running beside the batches.
    tuning = TUNING if args.settings == "new" else storage.Tuning()
    if tuning.checkpoints is not None and args.checkpoint_interval:
        policy = dataclasses.replace(tuning.checkpoints, interval=args.checkpoint_interval)
        tuning = dataclasses.replace(tuning, checkpoints=policy)
    storage.configure(conn, tuning)
    checkpointer = None
    if tuning.checkpoints is not None:
        checkpointer = Checkpointer(path, tuning.checkpoints)
        checkpointer.start()
    if args.cache_kib is not None:
        conn.execute(f"PRAGMA cache_size = -{args.cache_kib}")
    if args.mmap_mib is not None:
        conn.execute(f"PRAGMA mmap_size = {args.mmap_mib * 2**20}")
    if args.autocheckpoint is not None:
        conn.execute(f"PRAGMA wal_autocheckpoint = {args.autocheckpoint}")
    return conn, checkpointer


def track(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    meta = json.loads((directory / "bigstore.json").read_text())
    ps, pool = meta["parent_segment_id"], args.pool or meta["profiles"]
    path = database_path(directory)
    conn, checkpointer = _tuned(path, args)
    settings = {
        name: conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("cache_size", "mmap_size", "wal_autocheckpoint", "synchronous", "journal_mode")
    }
    configs = ConfigCache()
    rng = random.Random(args.seed)
    unit_us: list[float] = []
    commit_ms: list[float] = []
    late_ms: list[float] = []  # paced runs: from when a batch was due to its COMMIT's end

    def timed(work: Any) -> Any:
        def run(c: sqlite3.Connection) -> Any:
            began = time.perf_counter()
            try:
                return work(c)
            finally:
                unit_us.append((time.perf_counter() - began) * 1e6)

        return run

    def batches(count: int, rate: float = 0.0) -> None:
        start = time.perf_counter()
        for n in range(count // args.batch):
            due = start
            if rate:  # paced: batch n is due at start + n * batch / rate
                due = start + n * args.batch / rate
                time.sleep(max(0.0, due - time.perf_counter()))
            works = []
            for _ in range(args.batch):
                table, body = workload.event(rng.randrange(pool), rng)
                works.append(
                    timed(
                        functools.partial(
                            _track_unit,
                            configs=configs,
                            parent_segment_id=ps,
                            database=workload.DATABASE,
                            table=table,
                            event=events.checked(events.to_struct(body)),
                            now=time.time(),
                            account_id=ACCOUNT,
                        )
                    )
                )
            began = time.perf_counter()
            before = checkpointer.before_write if checkpointer else None
            outcomes = group_commit.run_sync_batch(conn, works, before)
            ended = time.perf_counter()
            total = (ended - began) * 1e3
            commit_ms.append(total - sum(unit_us[-len(works) :]) / 1e3)
            if rate:
                late_ms.append((ended - due) * 1e3)
            failed = [value for ok, value in outcomes if not ok]
            if failed:
                raise failed[0]

    batches(args.warmup)
    unit_us.clear()
    commit_ms.clear()
    io0 = _io()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    batches(args.events, args.rate)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    io = {name: (value - io0[name]) / len(unit_us) for name, value in _io().items()}
    wal = path.with_name(path.name + "-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    if checkpointer is not None:
        checkpointer.stop()
        settings["checkpoint_passes"] = checkpointer.passes
        settings["writer_catch_ups"] = checkpointer.catch_ups
    conn.close()
    return {
        "pool": pool,
        "events": len(unit_us),
        "batch": args.batch,
        "settings": settings,
        "track_us": _summary(unit_us, 1),
        "commit_ms": _summary(commit_ms, 2),
        **({"paced_ms": _summary(late_ms, 2), "rate": args.rate} if args.rate else {}),
        "cpu_us_per_event": round(cpu / len(unit_us) * 1e6, 1),
        # read syscalls per event: pages SQLite's cache did not hold
        "per_event": {name: round(value, 2) for name, value in io.items()},
        "wall_s": round(wall, 1),
        "wal_mib_at_end": round(wal_bytes / 2**20, 1),
        "rss_mib": {k: round(v, 1) for k, v in _rss().items()},
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bigstore", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("build")
    made.add_argument("directory", type=Path)
    made.add_argument("--profiles", type=int, default=1_000_000)
    timed = commands.add_parser("track")
    timed.add_argument("directory", type=Path)
    timed.add_argument("--pool", type=int, default=0, help="visitors drawn from (0: all)")
    timed.add_argument("--events", type=int, default=20_000)
    timed.add_argument("--warmup", type=int, default=20_000)
    timed.add_argument("--batch", type=int, default=4, help="Track units per transaction")
    timed.add_argument("--settings", choices=("old", "new"), default="new")
    timed.add_argument("--cache-kib", type=int, default=None)
    timed.add_argument("--mmap-mib", type=int, default=None)
    timed.add_argument("--autocheckpoint", type=int, default=None)
    timed.add_argument("--seed", type=int, default=1)
    timed.add_argument("--checkpoint-interval", type=float, default=0.0)
    timed.add_argument("--rate", type=float, default=0.0, help="events/s, paced (0: flat out)")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    if args.command == "build":
        build(args.directory, args.profiles)
    else:
        print(json.dumps(track(args.directory, args), indent=1))


if __name__ == "__main__":
    main()
