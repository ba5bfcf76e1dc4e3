"""The bench's hook in a real process: collections, event-loop lag, the profile writer's
batches, the SQLite checkpoints and the profile's writes on PostgreSQL are recorded, in
buckets of the wall clock, and read back on SIGUSR2.

It wraps private names of the product (``GroupCommit._queue`` and ``._commit``), the
``Checkpointer``'s ``run_once`` and ``before_write`` and ``PostgresTransactions``' ``write``
and ``write_unlocked``: this test fails if they change under it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import gcpause, sqlcount, stalls

ROOT = Path(__file__).resolve().parents[2]

# A service in miniature: the real GroupCommit (on a stand-in database), a loop blocked
# for 120 ms (longer than the probe's 50 ms, so one probe is late by at least 70 ms) and a
# full collection, then idle until stopped.
PROCESS = """
import asyncio, gc, sys, time
import uvloop
from services.profile.group_commit import GroupCommit

class Database:
    before_write = None
    async def run_sync(self, fn, works, before):
        await asyncio.sleep(0.01)
        return [(True, None) for _ in works]

async def main():
    writer = GroupCommit(Database())
    writer.start()
    first = asyncio.ensure_future(writer.run_sync(lambda conn: None))
    await asyncio.sleep(0.002)  # the first unit's 10-ms commit has begun: the rest queue
    await asyncio.gather(first, *(writer.run_sync(lambda conn: None) for _ in range(5)))
    await asyncio.sleep(0.2)
    time.sleep(0.12)
    gc.collect()
    await asyncio.sleep(0.2)
    print("ready", flush=True)
    await asyncio.sleep(60)

uvloop.run(main())
"""


def _report_of(out: Path, script: str, *args: str) -> tuple[dict[str, Any], float]:
    """What the hook recorded in ``script`` (run hooked, into ``out``) once it prints
    "ready", and when it started."""
    env = {**os.environ, **gcpause.env(out)}
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        assert gcpause.records_into(process.pid, out)
        return gcpause.read(out, process.pid), started
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_the_hook_records_collections_loop_lag_and_the_writers_batches(tmp_path: Path) -> None:
    report, started = _report_of(tmp_path, PROCESS)
    assert report["writer_wrapped"] is True
    found = stalls.summary(report, started, time.time() - started + 1)
    assert found["gc"]["gen2"]["count"] >= 1
    assert found["gc"]["gen2"]["max_ms"] > 0
    lag = found["loop_lag_ms"]
    assert lag["samples"] >= 5
    assert lag["max"] >= 60.0  # the 120-ms block
    assert lag["p50"] < 20.0  # and otherwise on time
    writer = found["writer"]
    # The first unit commits alone; the five queued behind it go in the next batch.
    assert (writer["batches"], writer["units"], writer["max_batch"]) == (2, 6, 5)
    assert writer["queue_wait_ms"]["max"] >= 5.0  # queued behind a 10-ms commit
    assert sum(row["units"] for row in found["seconds"]) == 6


# A store in miniature: a WAL database with checkpoints off its writer (the product's own
# open), some writes for the background passes to copy, and one catch-up asked of the writer.
CHECKPOINTS = """
import asyncio, sqlite3, sys
from pathlib import Path
import uvloop
from services.common.checkpoints import CheckpointPolicy, Checkpointer

async def main():
    path = Path(sys.argv[1])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (v BLOB)")
    checkpointer = Checkpointer(path, CheckpointPolicy(interval=0.02))
    checkpointer.start()
    for _ in range(20):
        conn.execute("INSERT INTO t VALUES (randomblob(8192))")
        await asyncio.sleep(0.01)
    checkpointer._help_wanted = True
    checkpointer.before_write(conn)
    checkpointer.before_write(conn)  # nothing wanted now: runs nothing, records nothing
    await asyncio.sleep(0.1)
    checkpointer.stop()
    print("ready", flush=True)
    await asyncio.sleep(60)

uvloop.run(main())
"""


def test_the_hook_records_checkpoint_passes_and_the_writers_catch_ups(tmp_path: Path) -> None:
    report, started = _report_of(tmp_path / "out", CHECKPOINTS, str(tmp_path / "store.db"))
    assert report["checkpoints_wrapped"] is True
    found = stalls.summary(report, started, time.time() - started + 1)
    checkpoints = found["checkpoints"]
    assert checkpoints["passes"] >= 5  # every 20 ms for about 0.3 s
    assert checkpoints["pass_ms"]["max"] > 0
    assert checkpoints["catch_ups"] == 1
    assert sum(row["checkpoint_passes"] for row in found["seconds"]) == checkpoints["passes"]


# A profile store on PostgreSQL in miniature: the real PostgresTransactions on a stand-in
# pool whose connections answer after 10 ms: a locked write and an unlocked one.
PG_WRITES = """
import asyncio, contextlib
import uvloop
from services.profile.postgres_profile import PostgresTransactions

class Connection:
    def transaction(self):
        return contextlib.nullcontext()

class Pool:
    @contextlib.asynccontextmanager
    async def acquire(self):
        await asyncio.sleep(0.01)
        yield Connection()

async def main():
    store = PostgresTransactions(Pool())
    async def work(sql):
        return "written"
    assert await store.write(work) == "written"
    assert await store.write_unlocked(work) == "written"
    print("ready", flush=True)
    await asyncio.sleep(60)

uvloop.run(main())
"""


def test_the_hook_records_each_profile_write_on_postgresql(tmp_path: Path) -> None:
    report, started = _report_of(tmp_path, PG_WRITES)
    assert report["pg_writes_wrapped"] is True
    found = stalls.summary(report, started, time.time() - started + 1)
    writes = found["pg_write_ms"]
    assert writes["samples"] == 2
    assert writes["max"] >= 10.0  # each waited 10 ms for a connection
    assert sum(row["pg_writes"] for row in found["seconds"]) == 2


def test_a_process_without_the_hook_is_not_signalled(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not gcpause.records_into(process.pid, tmp_path)
        assert stalls.labelled({"relay": [process.pid]}, tmp_path) == {}
    finally:
        process.kill()
        process.wait()


def test_a_hooked_process_that_execs_another_program_is_not_signalled(tmp_path: Path) -> None:
    """As ``envoy``'s Python wrapper does: same pid, another executable, no handler."""
    env = {**os.environ, **gcpause.env(tmp_path)}
    code = "import os; os.execv('/bin/sleep', ['sleep', '30'])"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{process.pid}/exe") != "/usr/bin/sleep":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert (tmp_path / f"{process.pid}.hooked").exists()
        assert not gcpause.records_into(process.pid, tmp_path)
    finally:
        process.kill()
        process.wait()


def test_the_sqlite_counter_behind_it_on_the_path_still_runs(tmp_path: Path) -> None:
    """Python imports one ``sitecustomize``: this one runs ``bench/sqlcount``'s after it."""
    counts = sqlcount.env(tmp_path / "counts")
    env = {**os.environ, **counts, **gcpause.env(tmp_path / "gc", counts["PYTHONPATH"])}
    code = "import signal; print(signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"


def test_the_hook_names_each_thread_after_what_it_runs(tmp_path: Path) -> None:
    """Python 3.11 leaves every thread with the process's name; ``ThreadMeter`` groups the
    threads of a process by the names the hook gives them."""
    code = (
        "import threading, time\n"
        "def _connection_worker_thread(): time.sleep(30)\n"
        "def _poll_wrapper(): time.sleep(30)\n"
        "def busy(): time.sleep(30)\n"
        "threading.Thread(target=_connection_worker_thread, daemon=True).start()\n"
        "threading.Thread(target=_poll_wrapper, daemon=True).start()\n"
        "threading.Thread(target=busy, name='checkpoint profile.db', daemon=True).start()\n"
        "threading.Thread(target=busy, daemon=True).start()\n"
        "print('ready', flush=True); time.sleep(30)\n"
    )
    env = {**os.environ, **gcpause.env(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        expected = {"aiosqlite", "grpc.aio poller", "checkpoint prof", "busy"}
        # A thread names itself once it runs, which can be just after start() returned.
        deadline = time.monotonic() + 5
        while (names := _thread_names(process.pid)) != expected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert names == expected
    finally:
        process.kill()
        process.communicate()


def _thread_names(pid: int) -> set[str]:
    """The names of a process's threads but its first, as /proc gives them."""
    return {
        (task / "comm").read_text().strip()
        for task in Path(f"/proc/{pid}/task").iterdir()
        if int(task.name) != pid
    }
