"""The group-commit writer over a real SQLite file: shared commits, isolation of failures.

A "gate" unit holds the writer inside a batch until the test opens it, so that the units
submitted meanwhile are known to form the next batch: no sleeps, no timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from services.common.storage import Database, Tuning
from services.profile.group_commit import GroupCommit

MIGRATIONS = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
    "CREATE TABLE rows (name TEXT PRIMARY KEY, parent INTEGER REFERENCES parent(id))"
]


# Every test runs with batches of synchronous units on the database thread (one process per
# service) and on the event loop's thread (the single-process mode): the same semantics.
@pytest.fixture(params=[False, True], ids=["on-thread", "on-loop"])
def on_loop(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def db(tmp_path: Path, on_loop: bool) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "x.db", MIGRATIONS, Tuning(loop_writes=on_loop))
    yield database
    await database.close()


@pytest.fixture
async def writer(db: Database, on_loop: bool) -> AsyncIterator[GroupCommit]:
    commit = GroupCommit(db, on_loop=on_loop)
    commit.start()
    yield commit
    await commit.close()


def committed(path: Path) -> list[str]:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(path) as other:
        return sorted(r[0] for r in other.execute("SELECT name FROM rows"))


def insert(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
    async def work(conn: aiosqlite.Connection) -> str:
        await conn.execute("INSERT INTO rows (name) VALUES (?)", (name,))
        if fail:
            raise ValueError(f"{name} refused")
        return name

    return work


class Gate:
    """A unit that keeps its batch open until ``open()``."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, _conn: aiosqlite.Connection) -> None:
        self.entered.set()
        await self.release.wait()

    def open(self) -> None:
        self.release.set()


@contextlib.asynccontextmanager
async def next_batch(writer: GroupCommit) -> AsyncIterator[None]:
    """Holds the writer inside a gate's batch: the units submitted in the block form the next
    batch, which runs once the block ends (after one loop turn to let them enqueue)."""
    gate = Gate()
    held = asyncio.create_task(writer.run(gate))
    await gate.entered.wait()
    yield
    await asyncio.sleep(0)  # let the tasks enqueue (no timing: a single loop turn)
    gate.open()
    await held


async def test_a_result_is_returned_only_once_committed(
    writer: GroupCommit, tmp_path: Path
) -> None:
    for n in range(3):
        name = await writer.run(insert(f"r{n}"))
        # Another connection sees the row at the moment its unit returns.
        assert name in committed(tmp_path / "x.db")


async def test_units_waiting_together_share_one_transaction(writer: GroupCommit) -> None:
    async with next_batch(writer):
        batches = writer.batches
        waiting = [asyncio.create_task(writer.run(insert(f"r{n}"))) for n in range(20)]
    assert await asyncio.gather(*waiting) == [f"r{n}" for n in range(20)]
    assert writer.batches == batches + 2  # the gate's batch, then all twenty at once


async def test_a_failing_unit_fails_alone(writer: GroupCommit, tmp_path: Path) -> None:
    async with next_batch(writer):
        good1 = asyncio.create_task(writer.run(insert("a")))
        bad = asyncio.create_task(writer.run(insert("b", fail=True)))
        good2 = asyncio.create_task(writer.run(insert("c")))
    assert await good1 == "a"
    assert await good2 == "c"
    with pytest.raises(ValueError, match="b refused"):
        await bad
    assert committed(tmp_path / "x.db") == ["a", "c"]


async def test_a_failed_commit_fails_the_whole_batch_and_the_writer_recovers(
    writer: GroupCommit, tmp_path: Path
) -> None:
    async def breaks_commit(conn: aiosqlite.Connection) -> None:
        # A deferred foreign key violation is only detected by COMMIT.
        await conn.execute("PRAGMA defer_foreign_keys = ON")
        await conn.execute("INSERT INTO rows (name, parent) VALUES ('orphan', 42)")

    async with next_batch(writer):
        good = asyncio.create_task(writer.run(insert("a")))
        bad = asyncio.create_task(writer.run(breaks_commit))
    for unit in (good, bad):
        with pytest.raises(sqlite3.IntegrityError):
            await unit
    assert committed(tmp_path / "x.db") == []
    assert await writer.run(insert("after")) == "after"
    assert committed(tmp_path / "x.db") == ["after"]


async def test_a_caller_that_gave_up_before_its_turn_writes_nothing(
    writer: GroupCommit, tmp_path: Path
) -> None:
    gate = Gate()
    held = asyncio.create_task(writer.run(gate))
    await gate.entered.wait()
    abandoned = asyncio.create_task(writer.run(insert("gone")))
    expired = asyncio.create_task(writer.run(insert("late"), remaining=0))
    kept = asyncio.create_task(writer.run(insert("kept")))
    await asyncio.sleep(0)
    abandoned.cancel()
    gate.open()
    await held
    assert await kept == "kept"
    for unit in (abandoned, expired):
        with pytest.raises(asyncio.CancelledError):
            await unit
    assert committed(tmp_path / "x.db") == ["kept"]


async def test_closing_fails_queued_units(db: Database) -> None:
    commit = GroupCommit(db)
    commit.start()
    gate = Gate()
    held = asyncio.create_task(commit.run(gate))
    await gate.entered.wait()
    queued = asyncio.create_task(commit.run(insert("never")))
    await asyncio.sleep(0)
    await commit.close()
    for unit in (held, queued):
        with pytest.raises(Exception, match="shutting down"):
            await unit


def insert_sync(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
    def work(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO rows (name) VALUES (?)", (name,))
        if fail:
            raise ValueError(f"{name} refused")
        return name

    return work


async def test_synchronous_units_share_one_transaction_and_fail_alone(
    writer: GroupCommit, tmp_path: Path
) -> None:
    async with next_batch(writer):
        batches = writer.batches
        good1 = asyncio.create_task(writer.run_sync(insert_sync("a")))
        bad = asyncio.create_task(writer.run_sync(insert_sync("b", fail=True)))
        good2 = asyncio.create_task(writer.run_sync(insert_sync("c")))
    assert await good1 == "a"
    assert await good2 == "c"
    with pytest.raises(ValueError, match="b refused"):
        await bad
    assert writer.batches == batches + 2  # the gate's batch, then the three on the thread
    assert committed(tmp_path / "x.db") == ["a", "c"]
    # Alone, a synchronous unit is answered once committed.
    assert await writer.run_sync(insert_sync("d")) == "d"
    assert "d" in committed(tmp_path / "x.db")


async def test_a_batch_mixing_both_kinds_commits_once(writer: GroupCommit, tmp_path: Path) -> None:
    async with next_batch(writer):
        batches = writer.batches
        units = [
            asyncio.create_task(writer.run_sync(insert_sync("s1"))),
            asyncio.create_task(writer.run(insert("a1"))),
            asyncio.create_task(writer.run_sync(insert_sync("s2", fail=True))),
        ]
    assert await units[0] == "s1"
    assert await units[1] == "a1"
    with pytest.raises(ValueError, match="s2 refused"):
        await units[2]
    assert writer.batches == batches + 2
    assert committed(tmp_path / "x.db") == ["a1", "s1"]


async def test_a_failed_commit_of_synchronous_units_fails_them_all(
    writer: GroupCommit, tmp_path: Path
) -> None:
    def breaks_commit(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO rows (name, parent) VALUES ('orphan', 42)")

    async with next_batch(writer):
        good = asyncio.create_task(writer.run_sync(insert_sync("a")))
        bad = asyncio.create_task(writer.run_sync(breaks_commit))
    for unit in (good, bad):
        with pytest.raises(sqlite3.IntegrityError):
            await unit
    assert committed(tmp_path / "x.db") == []
    assert await writer.run_sync(insert_sync("after")) == "after"
    assert committed(tmp_path / "x.db") == ["after"]


async def test_a_batch_of_synchronous_units_runs_where_the_mode_says(
    writer: GroupCommit, on_loop: bool
) -> None:
    def where(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO rows (name) VALUES ('where')")
        return threading.get_ident()

    ran_on_loop = await writer.run_sync(where) == threading.get_ident()
    assert ran_on_loop == on_loop
