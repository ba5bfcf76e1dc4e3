"""The personalization store's contract, on SQLite and on PostgreSQL (``database_env``);
and, on PostgreSQL, what two stores on one schema (two replicas) see of each other."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest
from p13n.auth.v1 import identity_pb2
from support.frozen_proxy import frozen_proxy
from support.listening import HeldReconnects, terminate_listeners

from services.common import audit, identity, postgres
from services.common.config import Settings
from services.common.errors import NotFound
from services.common.storage import open_database
from services.offers.following import Follower
from services.offers.store import MIGRATIONS, PG_MIGRATIONS, Draft, PersonalizationStore

SECTIONS = [{"name": "Welcome", "payload": [{"name": "hello", "static": "Hi"}]}]
DELIVERY_BOUND = 1.0  # seconds: a change through one replica is served by all within it


def draft(name: str = "Homepage", description: str = "first") -> Draft:
    return Draft(name, description, ["page_view"], SECTIONS)


@contextlib.asynccontextmanager
async def opened(data_dir: Path, env: Mapping[str, str]) -> AsyncIterator[PersonalizationStore]:
    store = await PersonalizationStore.open(
        Settings.from_env({"P13N_DATA_DIR": str(data_dir), **env})
    )
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(
    tmp_path: Path, database_env: dict[str, str]
) -> AsyncIterator[PersonalizationStore]:
    async with opened(tmp_path, database_env) as opened_store:
        yield opened_store


@pytest.fixture(autouse=True)
def an_editor() -> None:
    """Writes are audited in the name of the request's caller."""
    identity.current.set(identity_pb2.Identity(account_id="7", user_id="3"))


async def test_each_backend_is_the_one_the_settings_name(
    store: PersonalizationStore, database_env: dict[str, str]
) -> None:
    expected = "postgresql" if "P13N_DATABASE_URL" in database_env else "sqlite"
    assert store.backend.dialect == expected


async def test_create_read_update_delete_with_an_audit_entry_each(
    store: PersonalizationStore,
) -> None:
    async with store.writing("1") as writer:
        created = await writer.insert(draft())
        await writer.audit(audit.CREATE, None, created)
    assert created.id.isdigit()
    assert created.parent_segment_id == "1"
    assert created.trigger_events == ("page_view",)
    assert created.sections == tuple(SECTIONS)
    assert await store.record("1", created.id) == created
    with pytest.raises(NotFound):
        await store.record("2", created.id)  # another parent segment's id names nothing here

    async with store.writing("1") as writer:
        updated = await writer.update(created.id, draft(description="second"))
        await writer.audit(audit.UPDATE, created, updated)
    assert (updated.id, updated.description) == (created.id, "second")
    assert updated.create_time == created.create_time
    assert updated.update_time >= created.update_time

    async with store.writing("1") as writer:
        await writer.delete(created.id)
        await writer.audit(audit.DELETE, updated, None)
    assert await store.records("1") == []
    with pytest.raises(NotFound):
        await store.record("1", created.id)

    async with store.backend.reading() as sql:
        logged = await audit.entries(sql, audit.Filter("7"), 0, 10)
    assert [(e.action, e.resource_id, e.actor) for e in logged] == [
        (audit.CREATE, created.id, "users/3"),
        (audit.UPDATE, created.id, "users/3"),
        (audit.DELETE, created.id, "users/3"),
    ]
    assert logged[1].before["description"] == "first"
    assert logged[1].after["description"] == "second"


async def test_pages_run_oldest_first_within_one_parent_segment(
    store: PersonalizationStore,
) -> None:
    ids = []
    for n in range(5):
        async with store.writing("1") as writer:
            ids.append((await writer.insert(draft(f"p{n}"))).id)
        async with store.writing("2") as writer:
            await writer.insert(draft(f"other{n}"))
    first = await store.page("1", 0, 3)
    assert [r.id for r in first] == ids[:3]
    rest = await store.page("1", int(first[-1].id), 3)
    assert [r.id for r in rest] == ids[3:]
    assert [r.name for r in await store.records("1")] == [f"p{n}" for n in range(5)]


async def test_every_committed_write_raises_its_parent_segments_revision_by_one(
    store: PersonalizationStore,
) -> None:
    assert store.revision("1") == 0
    assert (await store.snapshot("1")).revision == 0
    async with store.writing("1") as writer:
        created = await writer.insert(draft())
    assert store.revision("1") == 1
    async with store.writing("1") as writer:
        await writer.update(created.id, draft(description="again"))
    assert store.revision("1") == 2
    assert store.revision("2") == 0  # one parent segment's write leaves the others alone
    snapshot = await store.snapshot("1")
    assert snapshot.revision == 2
    assert [r.description for r in snapshot.records] == ["again"]


async def test_a_write_that_fails_changes_neither_rows_nor_revision(
    store: PersonalizationStore,
) -> None:
    async def insert_then_fail() -> None:
        async with store.writing("1") as writer:
            await writer.insert(draft())
            raise RuntimeError("validation failed after the insert")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    assert store.revision("1") == 0
    snapshot = await store.snapshot("1")
    assert (snapshot.revision, snapshot.records) == (0, [])
    async with store.backend.reading() as sql:
        assert await audit.entries(sql, audit.Filter("7"), 0, 10) == []


# Two replicas: PostgreSQL only.


async def test_a_second_store_writing_the_same_parent_segment_waits_and_sees_the_first(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Both check names against ``records()`` before inserting: the revision row's lock
    makes the second see the first's insert, so two replicas cannot save one name twice."""
    async with opened(tmp_path, postgres_env) as a, opened(tmp_path, postgres_env) as b:
        first_inserted = asyncio.Event()
        release_first = asyncio.Event()

        async def first() -> None:
            async with a.writing("1") as writer:
                await writer.insert(draft("Taken"))
                first_inserted.set()
                await release_first.wait()

        async def second() -> list[str]:
            async with b.writing("1") as writer:
                return [r.name for r in await writer.records()]

        first_task = asyncio.create_task(first())
        await first_inserted.wait()
        second_task = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not second_task.done()  # waiting for the first's row lock
        release_first.set()
        await first_task
        assert await second_task == ["Taken"]
        assert (a.revision("1"), b.revision("1")) == (1, 2)


async def wait_for(check: Callable[[], bool], bound: float) -> float:
    """Seconds until ``check()`` holds; fails once ``bound`` has passed."""
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        assert elapsed < bound, f"still not true after {elapsed:.2f} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("listen", "interval"),
    [
        pytest.param(True, 3600.0, id="notification-alone"),
        pytest.param(False, 0.25, id="version-check-alone"),
    ],
)
async def test_a_write_through_one_store_reaches_the_other_by_either_path(
    tmp_path: Path, postgres_env: dict[str, str], listen: bool, interval: float
) -> None:
    async with opened(tmp_path, postgres_env) as a, opened(tmp_path, postgres_env) as b:
        follower = Follower(b, postgres_env["P13N_DATABASE_URL"], listen=listen, interval=interval)
        await follower.start()
        try:
            await b.snapshot("1")  # b has compiled parent segment 1: it follows it
            async with a.writing("1") as writer:
                await writer.insert(draft())
            await wait_for(lambda: b.revision("1") == 1, DELIVERY_BOUND)
        finally:
            await follower.close()


async def test_a_reconnected_listener_checks_for_what_it_missed(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_env["P13N_DATABASE_URL"]
    held = HeldReconnects(monkeypatch)
    async with opened(tmp_path, postgres_env) as a, opened(tmp_path, postgres_env) as b:
        follower = Follower(b, url, interval=3600.0)  # only the reconnect can catch it
        await follower.start()
        try:
            await b.snapshot("1")
            assert await terminate_listeners(url, b.backend.channel or "") == 1
            await held.until_waiting(1)
            async with a.writing("1") as writer:
                await writer.insert(draft())  # notified to no one
            await asyncio.sleep(0.2)
            assert b.revision("1") == 0
            held.release()
            await wait_for(lambda: b.revision("1") == 1, DELIVERY_BOUND)
        finally:
            await follower.close()


async def test_an_offers_db_from_before_revisions_opens_and_counts_from_zero(
    tmp_path: Path,
) -> None:
    older = await open_database(tmp_path / "offers.db", MIGRATIONS[:2])
    await older.execute(
        "INSERT INTO personalizations (parent_segment_id, name, description, trigger_events, "
        "sections, create_time, update_time) VALUES ('1', 'Old', '', '[]', '[]', 1.0, 1.0)"
    )
    await older.close()
    async with opened(tmp_path, {}) as store:
        snapshot = await store.snapshot("1")
        assert (snapshot.revision, [r.name for r in snapshot.records]) == (0, ["Old"])
        async with store.writing("1") as writer:
            await writer.insert(draft())
        assert store.revision("1") == 1


async def test_the_version_check_outlives_a_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores on one SQLite file stand in for two replicas: only the check links them."""
    async with opened(tmp_path, {}) as a, opened(tmp_path, {}) as b:
        check = b.check_revisions
        failures = 0

        async def fails_once() -> None:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise OSError("connection refused")
            await check()

        monkeypatch.setattr(b, "check_revisions", fails_once)
        follower = Follower(b, "", listen=False, interval=0.05)
        await follower.start()
        try:
            await b.snapshot("1")
            async with a.writing("1") as writer:
                await writer.insert(draft())
            await wait_for(lambda: b.revision("1") == 1, DELIVERY_BOUND)
            assert failures == 1
        finally:
            await follower.close()


@pytest.mark.parametrize("listen", [True, False], ids=["listening", "version-check-alone"])
async def test_a_replica_whose_connections_froze_catches_up_within_seconds(
    tmp_path: Path,
    postgres_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    listen: bool,
) -> None:
    """B's connections go silent with no reset (a failover, a forgetful NAT) while new ones
    work: its version check and its listener give them up and B catches up."""
    monkeypatch.setattr(postgres, "COMMAND_TIMEOUT", 1.0)
    monkeypatch.setattr(postgres, "PING_INTERVAL", 0.3)
    monkeypatch.setattr(postgres, "PING_TIMEOUT", 0.5)
    url = postgres_env["P13N_DATABASE_URL"]
    async with frozen_proxy(url) as (proxy, proxied):
        env_b = {**postgres_env, "P13N_DATABASE_URL": proxied}
        async with opened(tmp_path, postgres_env) as a, opened(tmp_path, env_b) as b:
            follower = Follower(b, proxied, listen=listen, interval=0.05)
            await follower.start()
            try:
                await b.snapshot("1")
                await asyncio.sleep(0.2)  # a check or two on B's pool
                assert proxy.freeze() >= 1
                async with a.writing("1") as writer:
                    await writer.insert(draft())
                # CHECK_TIMEOUT (2 s) + COMMAND_TIMEOUT (1 s) + a check at most, listening
                # or not: the first check abandoned must not wait on its dead connection.
                await wait_for(lambda: b.revision("1") == 1, 6.0)
            finally:
                await follower.close()


async def test_a_replica_follows_only_the_parent_segments_it_compiled(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Notifications of writes elsewhere do not make B check segments it never served."""
    async with opened(tmp_path, postgres_env) as a, opened(tmp_path, postgres_env) as b:
        follower = Follower(b, postgres_env["P13N_DATABASE_URL"], interval=3600.0)
        await follower.start()
        try:
            await b.snapshot("1")
            for segment in ("2", "1"):
                async with a.writing(segment) as writer:
                    await writer.insert(draft())
            await wait_for(lambda: b.revision("1") == 1, DELIVERY_BOUND)
            assert b.revisions.segments() == ["1"]
        finally:
            await follower.close()


async def test_the_postgresql_migrations_match_sqlites_one_for_one_and_upgrade_the_first(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    schema = settings.database_schema("offers")
    url = postgres_env["P13N_DATABASE_URL"]
    # A schema made before the lists matched: its migration 1 made the revisions table too.
    first = [PG_MIGRATIONS[0] + PG_MIGRATIONS[2], PG_MIGRATIONS[1]]
    await (await postgres.open_pool(url, schema, first)).close()
    async with opened(tmp_path, postgres_env) as store:
        async with store.writing("1") as writer:
            await writer.insert(draft())
        assert (await store.snapshot("1")).revision == 1
