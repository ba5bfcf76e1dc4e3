"""The profile store's write transactions on PostgreSQL: what happens around a write.

A write reads its configuration before it waits for its locks; a configuration change or
a deleted parent segment committed meanwhile must still be applied to it. A server that
refuses connections or shuts down is UNAVAILABLE, a write that conflicts on every try too,
and a retried write logs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from services.profile import backends, batch_store, profiles, proofs, tracking
from services.profile.config_store import ATTRIBUTES, EVENTS, STITCHING_KEYS
from services.profile.postgres_profile import PostgresTransactions


@contextlib.asynccontextmanager
async def _paused_at(monkeypatch: pytest.MonkeyPatch, name: str) -> AsyncIterator[asyncio.Event]:
    """Holds the next call of ``profiles.<name>`` until the block ends; yields the event set
    once a write is held there."""
    gate, reached = asyncio.Event(), asyncio.Event()
    original = getattr(profiles, name)

    async def paused(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(profiles, name, original)  # only the first call
        reached.set()
        await gate.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(profiles, name, paused)
    try:
        yield reached
    finally:
        gate.set()


def _locked_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Track runs locked (``tracking._track_postgres``), none unlocked first."""

    async def declined(*_args: Any, **_kwargs: Any) -> None:
        return None

    monkeypatch.setattr(tracking, "track_unlocked", declined)


# Where a Track is held while another replica changes something: before it takes its locks
# (a locked Track), before it reads unlocked, and between that read and its write.
TRACK_PAUSES = ["lock_for_write", "read_for_write", "write_tracked"]


def _track_paused_at(monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    if name == "lock_for_write":
        _locked_only(monkeypatch)
    return _paused_at(monkeypatch, name)


async def _make_verified(storage: backends.Storage, ps: str, name: str) -> None:
    async with storage.configs.writing() as writer:
        keys = await writer.children(STITCHING_KEYS, int(ps), 0, 10)
        (key,) = [k for k in keys if k.name == name]
        key.verified = True
        await writer.update(STITCHING_KEYS, int(ps), int(key.id), key)


async def _identities(storage: backends.Storage) -> list[tuple[str, str]]:
    found = await fleet.rows(storage, "SELECT key, value FROM identities ORDER BY 1, 2")
    return [(r[0], r[1]) for r in found]


@pytest.mark.parametrize("pause", TRACK_PAUSES)
async def test_a_key_made_verified_while_a_track_waits_applies_to_it(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pause: str
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a, keys=("member_id",))
        await fleet.track(b, ps, {"td_client_id": "warm"}, time.time())  # b caches the config
        claim: events.Event = {"td_client_id": "attacker", "member_id": "M-1001"}
        async with _track_paused_at(monkeypatch, pause) as reached:
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
        async with _paused_at(monkeypatch, "lock_identities") as reached:
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
        async with _paused_at(monkeypatch, "lock_identities") as reached:
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


@pytest.mark.parametrize("pause", TRACK_PAUSES)
@pytest.mark.parametrize("visitor", ["new", "known"])
async def test_a_track_whose_parent_segment_is_deleted_meanwhile_is_not_found(
    tmp_path: Path,
    postgres_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    visitor: str,
    pause: str,
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((_, a), (b, _)):
        ps = await fleet.shop(a)
        await fleet.track(b, ps, {"td_client_id": "known"}, time.time())
        async with _track_paused_at(monkeypatch, pause) as reached:
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
    original = profiles.write_tracked
    writes: list[int] = []

    async def changed_once(*args: Any) -> bool:
        writes.append(1)
        if len(writes) == 1:
            return False  # as if another replica changed the configuration meanwhile
        return bool(await original(*args))

    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage, keys=("member_id",))
        await _make_verified(storage, ps, "member_id")
        monkeypatch.setattr(profiles, "write_tracked", changed_once)
        claim: events.Event = {"td_client_id": "c", "member_id": "M-1"}
        with caplog.at_level(logging.WARNING, logger="services.profile.tracking"):
            await fleet.track(store, ps, claim, time.time(), proofs.UNPROVABLE)

    assert len(writes) == 2  # the write ran twice
    warnings = [r.getMessage() for r in caplog.records if "member_id" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].endswith("(1 so far)")


async def test_a_write_whose_identifier_has_no_lock_row_is_refused(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing row of identity_locks would lock nothing: the write must not go on."""
    _locked_only(monkeypatch)
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


@contextlib.asynccontextmanager
async def _statements_sent(storage: backends.Storage) -> AsyncIterator[list[str]]:
    """The first word of each statement the pool's next connection sends (the pool is LIFO:
    the next write takes the connection released last)."""
    sent: list[str] = []
    assert storage.pool is not None
    async with storage.pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query.split()[0]))
    yield sent


async def _sent_by(sent: list[str], write: Any) -> list[str]:
    await asyncio.sleep(0)  # the logger's calls are scheduled
    sent.clear()
    await write
    await asyncio.sleep(0)
    return list(sent)


async def test_a_track_costs_two_statements_new_visitor_or_returning(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Each statement is a round trip, paid in CPU by the service and by the server alike:
    the read (``profiles.read_for_write``) and the write (``profiles.write_tracked``), no
    BEGIN, no COMMIT, no lock, and nothing when the connection goes back to the pool
    (asyncpg's default reset would be a third)."""
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)
        await fleet.track(store, ps, {"td_client_id": "warm"}, time.time())  # config cached
        async with _statements_sent(storage) as sent:
            per_track = [
                await _sent_by(sent, fleet.track(store, ps, {"td_client_id": v}, time.time()))
                for v in ("new", "new", "warm")
            ]

    assert per_track == [["SELECT", "WITH"]] * 3
    assert _locked_after_unlocked(storage) == 1  # warm's, before the configuration was cached


async def test_a_track_that_merges_runs_locked_in_one_transaction(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)
        await fleet.track(store, ps, {"td_client_id": "a"}, time.time())
        await fleet.track(store, ps, {"td_client_id": "b", "user_id": "u"}, time.time())
        linking: events.Event = {"td_client_id": "a", "user_id": "u"}
        async with _statements_sent(storage) as sent:
            statements = await _sent_by(sent, fleet.track(store, ps, linking, time.time()))
        owners = await fleet.rows(storage, "SELECT DISTINCT profile_id FROM identities")

    assert statements[:3] == ["SELECT", "BEGIN;", "SELECT"]  # read, then lock_for_write
    assert statements[-2:] == ["WITH", "COMMIT;"]
    assert len(owners) == 1


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


# A Track that read unlocked and meets another replica's write before its own: it must
# write nothing, then run locked and count every event (no lost update, no split visitor).


def _views(answer: Any) -> object:
    return json.loads(answer.attributes_json)["views"]


async def _track_meanwhile(
    monkeypatch: pytest.MonkeyPatch, held: tuple[fleet.Replica, str, events.Event], meanwhile: Any
) -> tuple[Any, int]:
    """``held``'s Track (replica, segment, event), held between its unlocked read and its
    write while ``meanwhile`` is awaited: its answer, and whether it then ran locked (1)."""
    (store, storage), ps, event = held
    before = _locked_after_unlocked(storage)
    async with _paused_at(monkeypatch, "write_tracked") as reached:
        write = asyncio.create_task(fleet.track(store, ps, event, time.time()))
        await reached.wait()
        await meanwhile
    answer = await write
    return answer, _locked_after_unlocked(storage) - before


def _locked_after_unlocked(storage: backends.Storage) -> int:
    assert isinstance(storage.transactions, PostgresTransactions)
    return storage.transactions.locked_after_unlocked


async def test_a_profile_written_between_an_unlocked_read_and_its_write_loses_no_update(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((a, _), held):
        b, b_storage = held
        ps = await fleet.shop(b_storage)
        await fleet.track(b, ps, {"td_client_id": "v"}, time.time())
        other = fleet.track(a, ps, {"td_client_id": "v"}, time.time())
        answer, locked = await _track_meanwhile(
            monkeypatch, (held, ps, {"td_client_id": "v"}), other
        )
        stored = await fleet.rows(b_storage, "SELECT count(*) FROM events")

    assert _views(answer) == 3
    assert stored == [(3,)]
    assert locked == 1


async def test_a_new_visitor_created_by_another_replica_meanwhile_is_one_profile(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((a, _), held):
        b, b_storage = held
        ps = await fleet.shop(b_storage)
        await fleet.track(a, ps, {"td_client_id": "warm"}, time.time())  # configs cached
        await fleet.track(b, ps, {"td_client_id": "warm"}, time.time())
        other = fleet.track(a, ps, {"td_client_id": "new"}, time.time())
        answer, locked = await _track_meanwhile(
            monkeypatch, (held, ps, {"td_client_id": "new"}), other
        )
        owners = await fleet.rows(
            b_storage, "SELECT profile_id FROM identities WHERE value = 'new'"
        )
        profiles_stored = await fleet.rows(b_storage, "SELECT count(*) FROM profiles")

    assert _views(answer) == 2
    assert len(owners) == 1
    assert profiles_stored == [(2,)]  # warm and new
    assert locked == 1


async def test_a_profile_merged_away_meanwhile_is_written_to_its_survivor(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as ((a, _), held):
        b, b_storage = held
        ps = await fleet.shop(b_storage)
        await fleet.track(b, ps, {"td_client_id": "x"}, time.time())
        await fleet.track(a, ps, {"td_client_id": "y", "user_id": "u"}, time.time())
        merge = fleet.track(a, ps, {"td_client_id": "x", "user_id": "u"}, time.time())
        answer, locked = await _track_meanwhile(
            monkeypatch, (held, ps, {"td_client_id": "x"}), merge
        )
        owners = await fleet.rows(b_storage, "SELECT DISTINCT profile_id FROM identities")

    assert _views(answer) == 4  # x, y, the merging event and this one, on one profile
    assert len(owners) == 1
    assert locked == 1
