"""The profile store's write transactions on PostgreSQL: what happens around a write.

A write reads its configuration before it waits for its locks; a configuration change or
a deleted parent segment committed meanwhile must still be applied to it. A server that
refuses connections or shuts down is UNAVAILABLE, a write that conflicts on every try too,
and a retried write logs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from p13n.profile.v1 import profile_service_pb2 as api
from p13n.profile.v1 import realtime_config_pb2 as pb
from support import profile_replicas as fleet
from support.profile_replicas import ACCOUNT

from services.common import audit, events, postgres
from services.common.errors import InvalidArgument, NotFound, Unavailable
from services.common.sql import Postgres, Sql
from services.profile import backends, batch_store, profiles, proofs, realtime, tracking
from services.profile.config_store import ATTRIBUTES, EVENTS, STITCHING_KEYS
from services.profile.realtime import ConfigChanged


@contextlib.asynccontextmanager
async def _paused_before_locking(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncio.Event]:
    """Holds the next write that takes identifier locks just before it takes them, until the
    block ends; yields the event set once it is held there. (A Track takes them with
    ``lock_for_write``, an Ingest request with ``lock_identities``.)"""
    gate, reached = asyncio.Event(), asyncio.Event()
    originals = {name: getattr(profiles, name) for name in ("lock_identities", "lock_for_write")}

    def pausing(name: str) -> Any:
        async def paused(*args: Any, **kwargs: Any) -> Any:
            for each, original in originals.items():  # only the first write
                monkeypatch.setattr(profiles, each, original)
            reached.set()
            await gate.wait()
            return await originals[name](*args, **kwargs)

        return paused

    for name in originals:
        monkeypatch.setattr(profiles, name, pausing(name))
    try:
        yield reached
    finally:
        gate.set()


async def _make_verified(storage: backends.Storage, ps: str, name: str) -> None:
    async with storage.configs.writing() as writer:
        keys = await writer.children(STITCHING_KEYS, int(ps), 0, 10)
        (key,) = [k for k in keys if k.name == name]
        key.verified = True
        await writer.update(STITCHING_KEYS, int(ps), int(key.id), key)


async def _identities(storage: backends.Storage) -> list[tuple[str, str]]:
    found = await fleet.rows(storage, "SELECT key, value FROM identities ORDER BY 1, 2")
    return [(r[0], r[1]) for r in found]


async def test_a_key_made_verified_while_a_track_waits_for_its_locks_applies_to_it(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a, keys=("member_id",))
        await fleet.track(b, ps, {"td_client_id": "warm"}, time.time())  # b caches the config
        claim: events.Event = {"td_client_id": "attacker", "member_id": "M-1001"}
        async with _paused_before_locking(monkeypatch) as reached:
            write = asyncio.create_task(fleet.track(b, ps, claim, time.time(), proofs.UNPROVABLE))
            await reached.wait()
            await _make_verified(a, ps, "member_id")  # acknowledged before b's write locks
        await write
        stored = await _identities(a)

    assert stored == [("td_client_id", "attacker"), ("td_client_id", "warm")]


async def test_a_key_made_verified_while_an_ingest_waits_for_its_locks_applies_to_it(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a, keys=("member_id",))
        await fleet.track(b, ps, {"td_client_id": "warm"}, time.time())
        claim: events.Event = {"td_client_id": "attacker", "member_id": "M-1001"}
        async with _paused_before_locking(monkeypatch) as reached:
            write = asyncio.create_task(
                b.ingest(
                    ACCOUNT,
                    "shop",
                    "views",
                    [(claim, events.encode(claim))],
                    time.time(),
                    None,
                    proofs.UNPROVABLE,
                )
            )
            await reached.wait()
            await _make_verified(a, ps, "member_id")
        await write
        stored = await _identities(a)
        bodies = [r[0] for r in await fleet.rows(a, "SELECT body FROM events ORDER BY id")]

    assert stored == [("td_client_id", "attacker"), ("td_client_id", "warm")]
    assert "M-1001" not in bodies[-1]  # an unproven claim is not stored either


async def test_an_event_table_added_to_another_segment_while_an_ingest_waits_applies_to_it(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        await fleet.shop(a)
        other = await fleet.shop(a, name="Others")
        async with a.configs.writing() as writer:  # ``other`` has no event on shop.orders
            await writer.insert(
                EVENTS, int(other), pb.EventDefinition(name="buy", database="shop", table="orders")
            )
        first = await fleet.shop(a, name="Buyers")
        async with a.configs.writing() as writer:
            await writer.insert(
                EVENTS, int(first), pb.EventDefinition(name="buy", database="shop", table="carts")
            )
        record: events.Event = {"td_client_id": "c1"}
        async with _paused_before_locking(monkeypatch) as reached:
            write = asyncio.create_task(
                b.ingest(
                    ACCOUNT, "shop", "orders", [(record, events.encode(record))], time.time(), None
                )
            )
            await reached.wait()
            async with a.configs.writing() as writer:  # now a second segment takes the table
                await writer.insert(
                    EVENTS,
                    int(first),
                    pb.EventDefinition(name="order", database="shop", table="orders"),
                )
        await write
        segments = await fleet.rows(a, "SELECT parent_segment_id FROM profiles ORDER BY 1")

    assert [r[0] for r in segments] == sorted([int(other), int(first)])


@pytest.mark.parametrize("visitor", ["new", "known"])
async def test_a_track_whose_parent_segment_is_deleted_meanwhile_is_not_found(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, visitor: str
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a)
        await fleet.track(b, ps, {"td_client_id": "known"}, time.time())
        async with _paused_before_locking(monkeypatch) as reached:
            write = asyncio.create_task(fleet.track(b, ps, {"td_client_id": visitor}, time.time()))
            await reached.wait()
            async with a.configs.writing() as writer:
                await writer.delete_parent_segment(int(ps))
        with pytest.raises(NotFound, match=rf"^Parent segment '{ps}' not found$"):
            await write


@pytest.mark.parametrize(
    "refusal",
    [
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),  # 53300
        asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash"),
        asyncpg.ConnectionFailureError("connection failure"),  # 08006
        asyncpg.ConnectionDoesNotExistError("connection does not exist"),  # 08003
    ],
    ids=type,
)
async def test_a_server_that_refuses_or_shuts_down_is_unavailable(
    tmp_path: Path, postgres_env: dict[str, str], refusal: Exception
) -> None:
    async def refused(sql: Sql) -> None:
        await sql.fetchval("SELECT 1")
        raise refusal

    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((_, storage),):
        with pytest.raises(Unavailable, match=r"^The profile store is unavailable; retry shortly$"):
            await storage.transactions.write(refused)
        with pytest.raises(Unavailable, match=r"^The profile store is unavailable; retry shortly$"):
            await storage.transactions.read(refused)


async def test_an_error_of_the_statement_itself_is_not_an_outage(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async def wrong(sql: Sql) -> None:
        await sql.fetchval("SELECT * FROM no_such_table")

    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((_, storage),):
        with pytest.raises(asyncpg.UndefinedTableError):
            await storage.transactions.write(wrong)


async def test_a_write_that_conflicts_on_every_try_is_unavailable_after_the_last(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    tries = 0

    async def conflicting(sql: Sql) -> None:
        nonlocal tries
        tries += 1
        await sql.fetchval("SELECT 1")
        raise asyncpg.DeadlockDetectedError("deadlock detected")

    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((_, storage),):
        with pytest.raises(Unavailable, match=r"^The profile store is busy; retry shortly$"):
            await storage.transactions.write(conflicting)

    assert tries == postgres.MAX_ATTEMPTS == 12


async def test_a_write_run_again_logs_its_warnings_once(
    tmp_path: Path,
    postgres_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = realtime.still_current
    checks: list[int] = []

    async def changed_once(sql: Sql, config: Any, *committed: Any) -> None:
        checks.append(1)
        if len(checks) == 1:
            raise ConfigChanged("as if another replica changed it")
        await original(sql, config, *committed)

    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage, keys=("member_id",))
        await _make_verified(storage, ps, "member_id")
        monkeypatch.setattr(tracking, "still_current", changed_once)
        claim: events.Event = {"td_client_id": "c", "member_id": "M-1"}
        with caplog.at_level(logging.WARNING, logger="services.profile.tracking"):
            await fleet.track(store, ps, claim, time.time(), proofs.UNPROVABLE)

    assert len(checks) == 2  # the write ran twice
    warnings = [r.getMessage() for r in caplog.records if "member_id" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].endswith("(1 so far)")


async def test_a_write_whose_identifier_has_no_lock_row_is_refused(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """A missing row of identity_locks would lock nothing: the write must not go on."""
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)

        async def drop_stripe(sql: Sql) -> None:
            stripe = profiles.lock_stripe(int(ps), "td_client_id", "c1")
            await sql.execute("DELETE FROM identity_locks WHERE stripe = ?", stripe)

        await storage.transactions.write(drop_stripe)
        with pytest.raises(RuntimeError, match=r"^identity_locks has 0 of the 1 stripes"):
            await fleet.track(store, ps, {"td_client_id": "c1"}, time.time())
        stored = await fleet.rows(storage, "SELECT count(*) FROM events")

    assert stored == [(0,)]


async def test_an_attribute_deleted_while_an_import_runs_is_not_imported(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a)
        async with a.configs.writing() as writer:
            tier = await writer.insert(
                ATTRIBUTES, int(ps), pb.Attribute(name="tier", type=pb.IMPORTED)
            )
        gate, reached = asyncio.Event(), asyncio.Event()
        original = batch_store.write_imported_values

        async def paused(*args: Any) -> None:
            monkeypatch.setattr(batch_store, "write_imported_values", original)
            reached.set()
            await gate.wait()
            await original(*args)

        monkeypatch.setattr(batch_store, "write_imported_values", paused)
        record = api.ImportRecord(value="c1")
        record.attributes.update({"tier": "gold"})
        write = asyncio.create_task(
            b.import_attributes(audit.operator(ACCOUNT), ps, "td_client_id", [record], 1.0)
        )
        await reached.wait()
        async with a.configs.writing() as writer:
            await writer.delete(ATTRIBUTES, int(ps), int(tier.id))
        gate.set()
        with pytest.raises(InvalidArgument, match="'tier' is not an IMPORTED attribute"):
            await write
        stored = await fleet.rows(a, "SELECT count(*) FROM imported_values")

    assert stored == [(0,)]


async def test_a_track_costs_four_statements_new_visitor_or_returning(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Each statement is a round trip, paid in CPU by the service and by the server alike:
    BEGIN, the locks and reads (``profiles.lock_for_write``), the writes
    (``profiles.write_tracked``), COMMIT, and nothing when the connection goes back to the
    pool (asyncpg's default reset would be a fifth)."""
    sent: list[str] = []
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)
        await fleet.track(store, ps, {"td_client_id": "warm"}, time.time())  # config cached
        assert storage.pool is not None
        async with storage.pool.acquire() as conn:  # the next write's (the pool is LIFO)
            conn.add_query_logger(lambda record: sent.append(record.query.split()[0]))
        per_track = []
        for visitor in ("new", "new", "warm"):
            await asyncio.sleep(0)  # the logger's calls are scheduled
            sent.clear()
            await fleet.track(store, ps, {"td_client_id": visitor}, time.time())
            await asyncio.sleep(0)
            per_track.append(list(sent))

    assert per_track == [["BEGIN;", "SELECT", "WITH", "COMMIT;"]] * 3


async def _until_waiting_for_a_lock(storage: backends.Storage, pid: int) -> None:
    assert storage.pool is not None
    for _ in range(1000):
        # Each statement its own transaction: pg_stat_activity is read afresh.
        waits = await storage.pool.fetchval(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waits == "Lock":
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


async def test_lock_for_write_locks_the_profile_a_merge_gave_a_pair_while_it_waited(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """The owners are locked, then read again under their locks: a pair that a concurrent
    merge moved to another profile meanwhile brings that profile's lock too, and the
    owners returned are the current ones."""
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)
        for visitor in ("a", "c", "w"):
            await fleet.track(store, ps, {"td_client_id": visitor}, time.time())
        ids = {
            r[0]: r[1]
            for r in await fleet.rows(
                storage, "SELECT value, profile_id FROM identities WHERE key = 'td_client_id'"
            )
        }
        assert storage.pool is not None
        async with (
            storage.pool.acquire() as merging,
            storage.pool.acquire() as waiting,
            merging.transaction(),
        ):
            # Another write merges c's profile into w's, and holds its locks.
            await merging.execute("SELECT 1 FROM profiles WHERE id = $1 FOR UPDATE", ids["c"])
            await merging.execute(
                "UPDATE identities SET profile_id = $1 WHERE profile_id = $2", ids["w"], ids["c"]
            )
            await merging.execute("DELETE FROM profiles WHERE id = $1", ids["c"])
            async with waiting.transaction():
                pairs = [("td_client_id", "a"), ("td_client_id", "c")]
                call = asyncio.create_task(
                    profiles.lock_for_write(
                        Postgres(waiting), int(ps), pairs, pairs, imported=True, members=True
                    )
                )
                # Until the call waits for c's profile, which it found first.
                await _until_waiting_for_a_lock(storage, waiting.get_server_pid())
                await merging.execute("COMMIT")
                locked = await call
                with pytest.raises(asyncpg.LockNotAvailableError):
                    async with storage.pool.acquire() as other, other.transaction():
                        await other.execute(
                            "SELECT 1 FROM profiles WHERE id = $1 FOR UPDATE NOWAIT", ids["w"]
                        )
            await merging.execute("BEGIN")  # for the transaction block's own COMMIT

    assert [(p.id, [i.value for i in p.identities]) for p in locked.owners] == sorted(
        [(ids["a"], ["a"]), (ids["w"], ["c", "w"])]
    )
