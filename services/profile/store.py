"""The profile service's durable state: configuration, events, profiles, imports, merges.

Configuration changes bump the parent segment's ``config_version`` (callers cache what they
derive from a configuration per version) and the global ``generation`` (the auth service's
preflight table list). Events of every ``db.table`` share one physical table, indexed by
``(database, table_name)``: a table is a name that event definitions refer to, not DDL.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from services.common.storage import Database

MIGRATIONS = [
    """
    CREATE TABLE parent_segments (
      id INTEGER PRIMARY KEY,
      account_id TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      reactor_id TEXT NOT NULL UNIQUE,
      primary_key TEXT NOT NULL,
      config_version INTEGER NOT NULL DEFAULT 1,
      create_time REAL NOT NULL
    );
    CREATE UNIQUE INDEX parent_segments_name ON parent_segments (account_id, name);
    CREATE TABLE event_definitions (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      database TEXT NOT NULL,
      table_name TEXT NOT NULL,
      filters TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE INDEX event_definitions_by_table ON event_definitions (database, table_name);
    CREATE TABLE attributes (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      spec TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE stitching_keys (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      regex TEXT NOT NULL,
      exclusions TEXT NOT NULL,
      workflow_only INTEGER NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE segments (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      sensitivity TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE generation (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      value INTEGER NOT NULL
    );
    INSERT INTO generation (id, value) VALUES (1, 0)
    """,
]


def database_path(data_dir: Path) -> Path:
    return data_dir / "profile.db"


async def open_store(data_dir: Path) -> Database:
    return await Database.open(database_path(data_dir), MIGRATIONS)


async def config_changed(db: aiosqlite.Connection, parent_segment_id: int) -> None:
    """Marks a parent segment's configuration as changed (call inside the transaction)."""
    await db.execute(
        "UPDATE parent_segments SET config_version = config_version + 1 WHERE id = ?",
        (parent_segment_id,),
    )
    await db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
