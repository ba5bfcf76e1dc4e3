"""CPU and statements per Track through the profile store: a figure a busy machine keeps.

    python -m bench.pg_write_cost [--writes 3000] [--clients 16] [--visitors 1000]
                                  [--backends sqlite,postgresql] [--repeat 3]

Wall-clock throughput moves with whatever else the machine runs; the CPU a write costs
does not (much). Each backend gets a fresh store configured as the bench's shop
(``bench/workload.py``: 10 event definitions, 30 attributes, IMPORTED ones among them),
``--visitors`` visitors made by one Track each, then ``--writes`` Tracks of returning
visitors (page and product views, as wrk sends them) from ``--clients`` concurrent tasks,
through ``SqlProfileStore`` in this process (no gRPC). Per write it prints:

- ``process_us``: this process's CPU (the profile service's share: asyncpg or the SQLite
  thread, stitching, attribute arithmetic);
- ``server_us`` (PostgreSQL): the CPU of the pool's server backends, from /proc (the
  server must run on this machine);
- ``statements``: statements sent per write (asyncpg's query logger: BEGIN, COMMIT and the
  pool's reset query count, a statement's Parse on a statement-cache miss does not),
  with the most frequent statement texts.

The PostgreSQL store is a fresh schema in a database of its own on the server of
``P13N_TEST_POSTGRES_URL`` (or 127.0.0.1:5432), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from p13n.profile.v1 import realtime_config_pb2 as pb

from bench import workload
from bench.pg_writes import scratch_database
from services.common import events
from services.profile import backends
from services.profile.config_store import ATTRIBUTES, EVENTS, ConfigStore
from services.profile.realtime import ConfigCache
from services.profile.sql_profile import SqlProfileStore

ACCOUNT = "bench"
_TICK = os.sysconf("SC_CLK_TCK")


async def _configure(configs: ConfigStore) -> str:
    async with configs.writing() as writer:
        ps = await writer.create_parent_segment(ACCOUNT, "Shoppers", "", "td_client_id", 1.0)
        segment = int(ps.id)
        for definition in workload.EVENTS:
            await writer.insert(
                EVENTS, segment, json_format.ParseDict(definition, pb.EventDefinition())
            )
        for attribute in workload.attributes():
            await writer.insert(
                ATTRIBUTES, segment, json_format.ParseDict(attribute, pb.Attribute())
            )
    return ps.id


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process on this machine (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class _Counter:
    """Statements sent on the pool's connections (asyncpg's query logger)."""

    def __init__(self) -> None:
        self.texts: collections.Counter[str] = collections.Counter()
        self.on = False

    def __call__(self, record: Any) -> None:
        if self.on:
            self.texts[" ".join(record.query.split())[:90]] += 1


async def _tracks(
    store: SqlProfileStore, ps: str, visitors: list[int], clients: int, seed: int
) -> None:
    queue = collections.deque(visitors)

    async def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        while queue:
            n = queue.popleft()
            table, body = workload.event(n, rng)
            await store.track(
                ACCOUNT,
                ps,
                workload.DATABASE,
                table,
                (body, events.encode(body)),
                time.time(),
                None,
            )

    await asyncio.gather(*(client(c) for c in range(clients)))


async def _measure(backend: str, args: argparse.Namespace, url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        schema = f"cost_{secrets.token_hex(4)}"
        async with backends.opened(Path(directory), url, schema) as storage:
            ps = await _configure(storage.configs)
            store = SqlProfileStore(storage.transactions, ConfigCache())
            rng = random.Random(1)
            await _tracks(store, ps, list(range(args.visitors)), args.clients, 0)  # preload
            counter, pids = _Counter(), []
            if storage.pool is not None:
                # Every connection the run will use exists once the preload ran with as
                # many clients as the pool has connections at most.
                for holder in storage.pool._holders:  # noqa: SLF001
                    conn = holder._con  # noqa: SLF001
                    if conn is not None:
                        conn.add_query_logger(counter)
                        pids.append(conn.get_server_pid())
            runs = []
            for run in range(args.repeat):
                wanted = [rng.randrange(args.visitors) for _ in range(args.writes)]
                counter.texts.clear()
                counter.on = True
                process, server = time.process_time(), sum(map(_cpu_seconds, pids))
                began = time.perf_counter()
                await _tracks(store, ps, wanted, args.clients, run + 1)
                elapsed = time.perf_counter() - began
                process = time.process_time() - process
                server = sum(map(_cpu_seconds, pids)) - server
                await asyncio.sleep(0)  # the logger's callbacks are scheduled, not run
                counter.on = False
                runs.append(
                    {
                        "process_us": round(process / args.writes * 1e6),
                        "server_us": round(server / args.writes * 1e6) if pids else None,
                        "statements": round(sum(counter.texts.values()) / args.writes, 2),
                        "writes_per_s": round(args.writes / elapsed),
                    }
                )
            top = [
                [round(count / args.writes, 2), text]
                for text, count in counter.texts.most_common(12)
            ]
            return {"backend": backend, "runs": runs, "last_run_statements": top}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    chosen = args.backends.split(",")
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if "postgresql" in chosen:
            url = await stack.enter_async_context(scratch_database())
        for backend in chosen:
            result = await _measure(backend, args, url if backend == "postgresql" else None)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
