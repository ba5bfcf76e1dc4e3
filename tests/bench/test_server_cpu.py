"""The database's CPU in a bench run on PostgreSQL (``bench.procs.server_cpu_seconds``,
``bench.pg.server_pid``): a server that works in forked processes is counted with its
workers, those alive and those it has already reaped (autovacuum's come and go)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from bench import pg, procs, single
from bench.procs import CpuMeter, ThreadMeter

BURN = 0.4  # CPU seconds each worker spends

# A server in miniature: one worker burns and is reaped, a second burns and stays alive;
# the server itself only waits. It says "ready" once both have burned.
SERVER = f"""
import os, sys, time

def burn():
    began = time.process_time()
    while time.process_time() - began < {BURN}:
        pass

gone = os.fork()
if gone == 0:
    burn()
    os._exit(0)
os.waitpid(gone, 0)
read_end, write_end = os.pipe()
alive = os.fork()
if alive == 0:
    burn()
    os.write(write_end, b"x")
    time.sleep(60)
    os._exit(0)
os.read(read_end, 1)
print("ready", alive, flush=True)
time.sleep(60)
"""


def test_a_servers_cpu_counts_its_workers_alive_and_reaped() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            ready, alive = server.stdout.readline().split()
            assert ready == "ready"
            assert procs.parent_pid(int(alive)) == server.pid
            own = procs.cpu_seconds(server.pid)
            assert own < BURN / 2  # the server's own work is only waiting
            assert procs.server_cpu_seconds(server.pid) >= own + 2 * BURN * 0.9
        finally:
            server.kill()


def test_the_postgresql_server_is_found_and_measured(postgres_url: str) -> None:
    server = pg.server_pid(postgres_url)
    if server is None:
        pytest.fail("the PostgreSQL server of this run is on this machine: it must be found")
    assert Path(f"/proc/{server}/comm").read_text().strip() == "postgres"
    mine, used = asyncio.run(_work_in_postgres(postgres_url, CpuMeter({"postgres": [server]})))
    assert used["postgres"] > 0.1, used
    assert used["postgres"] > 3 * mine, (used, mine)
    # A server works in processes, not in the server process's threads: not by thread.
    threads = ThreadMeter({"postgres": [server]})
    threads.start()
    assert threads.stop(1) == {}


async def _work_in_postgres(url: str, meter: CpuMeter) -> tuple[float, dict[str, float]]:
    """CPU that only a backend spends, measured while its connection is open (as a
    suite's pool keeps them): this process's CPU meanwhile, and the meter's."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        meter.start()
        began = time.process_time()
        total = await conn.fetchval("SELECT sum(i::bigint * i) FROM generate_series(1, 3000000) i")
        mine = time.process_time() - began
        used = meter.stop()
    finally:
        await conn.close()
    assert total > 0
    return mine, used


def test_a_server_on_another_machine_is_not_guessed() -> None:
    """A backend pid seen from here means nothing when the server runs elsewhere: the pid's
    parent must be a postgres process of this machine, or nothing is counted."""
    assert pg.postgres_parent(os.getpid()) is None  # a pid here whose parent is no postgres
    assert pg.postgres_parent(2**22 + 1) is None  # no such process here


def test_the_databases_cpu_is_the_suites() -> None:
    """On SQLite the store's CPU is the profile process's; on PostgreSQL it is the server's,
    which the suite's CPU per request then counts too (bench/single.py)."""
    row = {"cpu_per_request_s": {"profile": 0.001, "postgres": 0.0005, "loadgen": 0.1, "other": 1}}
    assert single.suite_cpu_per_request(row) == pytest.approx(0.0015)


def test_what_the_server_did_beside_a_run_is_counted(postgres_url: str) -> None:
    """``pg.activity_since``: a checkpoint and a rollback made meanwhile are in it."""
    before = pg.activity(postgres_url)
    asyncio.run(_checkpoint_and_roll_back(postgres_url))
    deadline = time.monotonic() + 10  # backends report their counts within a second or so
    done = pg.activity_since(before, postgres_url)
    while (done["checkpoints"] < 1 or done["rollbacks"] < 1) and time.monotonic() < deadline:
        time.sleep(0.2)
        done = pg.activity_since(before, postgres_url)
    assert done["checkpoints"] >= 1, done
    assert done["rollbacks"] >= 1, done


async def _checkpoint_and_roll_back(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("CHECKPOINT")
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("SELECT 1")
        await transaction.rollback()
    finally:
        await conn.close()
