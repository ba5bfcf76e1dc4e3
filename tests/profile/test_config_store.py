"""The configuration store's contract (``config_store``), run against every implementation.

These are the guarantees the handlers rely on and a second backend must keep: a write
block is all or nothing, every configuration write is noticed by the data path, ids of
deleted parent segments never come back, NotFound says what the API says, a name that held
withheld values is never forgotten. Each runs on SQLite and on PostgreSQL (``database_env``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import audit
from services.common.config import Settings
from services.common.errors import NotFound
from services.common.sql import Postgres, Sql, ThreadSqlite, run_to_completion
from services.common.storage import Database
from services.profile import backends, config_rows, realtime_store
from services.profile.config_store import (
    ATTRIBUTES,
    EVENTS,
    SEGMENTS,
    STITCHING_KEYS,
    ConfigStore,
)
from services.profile.sql_config import SqliteConfigStore
from services.profile.store import MIGRATIONS, database_path, open_store

ACCOUNT = "1"
T = TypeVar("T")


class Boom(Exception):
    pass


@dataclass(frozen=True)
class Opened:
    store: ConfigStore
    # Runs a read on a connection of its own: what another process (the data path of
    # another replica) sees.
    peek: Callable[[Callable[[Sql], Coroutine[Any, Any, T]]], Awaitable[T]]


@pytest.fixture
async def opened(tmp_path: Path, database_env: dict[str, str]) -> AsyncIterator[Opened]:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **database_env})
    schema = settings.database_schema("profile")
    url = settings.database_url

    async def peek(work: Callable[[Sql], Coroutine[Any, Any, T]]) -> T:
        if url is None:
            with sqlite3.connect(database_path(tmp_path)) as conn:
                return run_to_completion(work(ThreadSqlite(conn)))
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
        try:
            return await work(Postgres(conn))
        finally:
            await conn.close()

    async with backends.opened(tmp_path, url, schema) as storage:
        yield Opened(storage.configs, peek)


@pytest.fixture
def store(opened: Opened) -> ConfigStore:
    return opened.store


async def _versions(opened: Opened, segment_id: int) -> tuple[tuple[int, float] | None, int]:
    """(config_version, create_time) and the generation, as the data path reads them."""

    async def read(sql: Sql) -> tuple[tuple[int, float] | None, int]:
        return await realtime_store.config_version(
            sql, segment_id
        ), await realtime_store.generation(sql)

    return await opened.peek(read)


async def _segment(store: ConfigStore, name: str = "Shoppers") -> int:
    async with store.writing() as writer:
        created = await writer.create_parent_segment(ACCOUNT, name, "", "td_client_id", 1.0)
    return int(created.id)


async def test_a_block_that_raises_keeps_nothing(store: ConfigStore, opened: Opened) -> None:
    segment_id = await _segment(store)
    before = await _versions(opened, segment_id)

    async def insert_then_fail() -> None:
        async with store.writing() as writer:
            await writer.insert(
                EVENTS, segment_id, pb.EventDefinition(name="view", database="d", table="t")
            )
            await writer.insert(ATTRIBUTES, segment_id, pb.Attribute(name="a", event="view"))
            raise Boom

    with pytest.raises(Boom):
        await insert_then_fail()
    async with store.reading() as reader:
        assert await reader.names(EVENTS, segment_id) == []
        assert await reader.attributes(segment_id) == []
    assert await _versions(opened, segment_id) == before


def _entry(resource_id: str) -> audit.Entry:
    return audit.Entry(
        account_id=ACCOUNT,
        time=1.0,
        actor="users/1",
        action=audit.CREATE,
        resource_type="event_definition",
        resource_id=resource_id,
        parent="",
        before=None,
        after={"name": "view"},
    )


async def test_an_audit_entry_commits_with_its_change_or_not_at_all(
    store: ConfigStore, opened: Opened
) -> None:
    segment_id = await _segment(store)

    async def record_then_fail() -> None:
        async with store.writing() as writer:
            await writer.insert(
                EVENTS, segment_id, pb.EventDefinition(name="view", database="d", table="t")
            )
            await writer.record(_entry("1"))
            raise Boom

    with pytest.raises(Boom):
        await record_then_fail()
    assert await _audited(opened) == []
    async with store.writing() as writer:
        created = await writer.insert(
            EVENTS, segment_id, pb.EventDefinition(name="view", database="d", table="t")
        )
        await writer.record(_entry(created.id))
    assert await _audited(opened) == [(created.id, '{"name": "view"}')]


async def _audited(opened: Opened) -> list[tuple[str, str]]:
    """The stored audit rows (resource id, after), read as another process would."""

    async def read(sql: Sql) -> list[tuple[str, str]]:
        rows = await sql.fetch("SELECT resource_id, after FROM audit_log ORDER BY id")
        return [(r[0], r[1]) for r in rows]

    return await opened.peek(read)


async def test_every_write_is_noticed_by_the_data_path(store: ConfigStore, opened: Opened) -> None:
    segment_id = await _segment(store)
    seen = [await _versions(opened, segment_id)]
    async with store.writing() as writer:
        event = await writer.insert(
            EVENTS, segment_id, pb.EventDefinition(name="view", database="d", table="t")
        )
    seen.append(await _versions(opened, segment_id))
    event.table = "u"
    async with store.writing() as writer:
        updated = await writer.update(EVENTS, segment_id, int(event.id), event)
    seen.append(await _versions(opened, segment_id))
    async with store.writing() as writer:
        await writer.delete(EVENTS, segment_id, int(event.id))
    seen.append(await _versions(opened, segment_id))

    assert updated.table == "u"
    assert updated.id == event.id
    config_versions = [v[0][0] for v in seen if v[0]]
    generations = [v[1] for v in seen]
    assert config_versions == sorted(set(config_versions))  # strictly growing
    assert generations == sorted(set(generations))


async def test_writes_read_back_what_was_stored_with_its_new_id(store: ConfigStore) -> None:
    segment_id = await _segment(store)
    async with store.writing() as writer:
        first = await writer.insert(SEGMENTS, segment_id, pb.Segment(id="99", name="vip"))
        second = await writer.insert(SEGMENTS, segment_id, pb.Segment(name="new"))
    async with store.reading() as reader:
        assert await reader.child(SEGMENTS, segment_id, first.id) == first
        page = await reader.children(SEGMENTS, segment_id, after=0, limit=10)
    assert first.id != "99"
    assert first.name == "vip"
    assert page == [first, second]


async def test_attributes_come_by_name_in_code_point_order(store: ConfigStore) -> None:
    """The order a FailedPrecondition message lists them in, the same on every backend."""
    segment_id = await _segment(store)
    async with store.writing() as writer:
        for name in ["b", "B", "a", "\u00e9", "Z", "a_2", "a2"]:
            await writer.insert(ATTRIBUTES, segment_id, pb.Attribute(name=name, type=pb.IMPORTED))
    async with store.reading() as reader:
        names = [a.name for a in await reader.attributes(segment_id)]
    assert names == ["B", "Z", "a", "a2", "a_2", "b", "\u00e9"]


async def test_a_deleted_parent_segments_id_is_never_given_out_again(store: ConfigStore) -> None:
    first = await _segment(store, "One")
    second = await _segment(store, "Two")
    async with store.writing() as writer:
        await writer.delete_parent_segment(second)
    third = await _segment(store, "Three")
    assert third not in {first, second}
    with pytest.raises(NotFound, match=f"Parent segment '{second}' not found"):
        async with store.reading() as reader:
            await reader.parent_segment(ACCOUNT, str(second))


@pytest.mark.parametrize(
    ("account", "parent", "child", "message"),
    [
        pytest.param("2", "own", None, "Parent segment '{own}' not found", id="other-account"),
        pytest.param(ACCOUNT, "x", None, "Parent segment 'x' not found", id="not-a-number"),
        pytest.param(
            ACCOUNT,
            "own",
            "42",
            "Event definition '42' not found in parent segment {own}",
            id="child",
        ),
    ],
)
async def test_not_found_says_what_the_api_says(
    store: ConfigStore, account: str, parent: str, child: str | None, message: str
) -> None:
    own = str(await _segment(store))
    parent_id = own if parent == "own" else parent

    async def look_up() -> None:
        async with store.reading() as reader:
            segment = await reader.parent_segment(account, parent_id)
            if child is not None:
                await reader.child(EVENTS, int(segment.id), child)

    with pytest.raises(NotFound) as raised:
        await look_up()
    assert str(raised.value) == message.format(own=own)


# -- names that held withheld values -------------------------------------------------------


def _note(level: int) -> pb.Attribute:
    return pb.Attribute(name="note", type=pb.IMPORTED, sensitivity=level)  # type: ignore[arg-type]


def _bought(level: int) -> pb.Attribute:
    attribute = pb.Attribute(name="bought", type=pb.LIST, event="buy")
    attribute.list.aggregations.add(name="card", field="card", sensitivity=level)
    attribute.list.aggregations.add(name="sku", field="sku", sensitivity=pb.NON_SENSITIVE)
    return attribute


async def _remembered(
    store: ConfigStore, segment_id: int
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The remembered names of the segment's attributes and of its stitching keys."""
    async with store.reading() as reader:
        return (
            set(await reader.withheld_names(ATTRIBUTES, segment_id)),
            set(await reader.withheld_names(STITCHING_KEYS, segment_id)),
        )


async def test_withheld_names_are_remembered_through_updates_and_deletes(
    store: ConfigStore,
) -> None:
    segment_id = await _segment(store)
    async with store.writing() as writer:
        note = await writer.insert(ATTRIBUTES, segment_id, _note(pb.SENSITIVE))
        bought = await writer.insert(ATTRIBUTES, segment_id, _bought(pb.SENSITIVE))
        key = await writer.insert(
            STITCHING_KEYS, segment_id, pb.StitchingKey(name="member_id", verified=True)
        )
        await writer.insert(STITCHING_KEYS, segment_id, pb.StitchingKey(name="open_id"))
    remembered = ({("note", ""), ("bought", "card")}, {("member_id", "")})
    assert await _remembered(store, segment_id) == remembered
    async with store.writing() as writer:  # lowered, renamed, deleted: still remembered
        await writer.update(ATTRIBUTES, segment_id, int(note.id), _note(pb.NON_SENSITIVE))
        renamed = _bought(pb.SENSITIVE)
        renamed.name = "bought_old"
        await writer.update(ATTRIBUTES, segment_id, int(bought.id), renamed)
        await writer.delete(ATTRIBUTES, segment_id, int(bought.id))
        await writer.delete(STITCHING_KEYS, segment_id, int(key.id))
    assert await _remembered(store, segment_id) == (
        remembered[0] | {("bought_old", "card")},
        remembered[1],
    )


async def test_withheld_names_are_the_segments_own(store: ConfigStore) -> None:
    first = await _segment(store, "One")
    second = await _segment(store, "Two")
    async with store.writing() as writer:
        await writer.insert(ATTRIBUTES, first, _note(pb.SENSITIVE))
        await writer.insert(SEGMENTS, first, pb.Segment(name="vip", sensitivity=pb.SENSITIVE))
    assert await _remembered(store, second) == (set(), set())
    async with store.reading() as reader:  # segments' members go with them: not remembered
        assert await reader.withheld_names(SEGMENTS, first) == frozenset()


async def test_a_block_that_raises_remembers_nothing(store: ConfigStore) -> None:
    segment_id = await _segment(store)

    async def insert_then_fail() -> None:
        async with store.writing() as writer:
            await writer.insert(ATTRIBUTES, segment_id, _note(pb.SENSITIVE))
            raise Boom

    with pytest.raises(Boom):
        await insert_then_fail()
    assert await _remembered(store, segment_id) == (set(), set())


async def test_the_sqlite_migration_remembers_what_is_withheld_already(tmp_path: Path) -> None:
    """A store made before the memory existed: its withheld names are remembered at once."""
    remembering = next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE withheld_names" in m)
    older: Database = await Database.open(database_path(tmp_path), MIGRATIONS[:remembering])
    await older.close()
    with sqlite3.connect(database_path(tmp_path)) as conn:
        conn.execute(
            "INSERT INTO parent_segments (id, account_id, name, description, reactor_id, "
            "primary_key, create_time) VALUES (1, '1', 'Old', '', '1', 'td_client_id', 0)"
        )
        for attribute in (
            _note(pb.SENSITIVITY_UNSPECIFIED),
            _bought(pb.SENSITIVE),
            pb.Attribute(name="shown", type=pb.SINGLE, sensitivity=pb.NON_SENSITIVE),
        ):
            conn.execute(
                "INSERT INTO attributes (parent_segment_id, name, spec) VALUES (1, ?, ?)",
                (attribute.name, config_rows.attribute_spec_json(attribute)),
            )
        conn.execute(
            "INSERT INTO stitching_keys (parent_segment_id, name, regex, exclusions, "
            "workflow_only, verified) VALUES (1, 'member_id', '', '[]', 0, 1), "
            "(1, 'open_id', '', '[]', 0, 0)"
        )
    db = await open_store(tmp_path)
    try:
        assert await _remembered(SqliteConfigStore(db), 1) == (
            {("note", ""), ("bought", "card")},
            {("member_id", "")},
        )
    finally:
        await db.close()
