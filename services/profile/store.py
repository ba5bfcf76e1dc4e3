"""The profile service's durable state: configuration, events, profiles, imports, merges.

Configuration changes bump the parent segment's ``config_version`` (callers cache what they
derive from a configuration per version) and the global ``generation`` (the auth service's
preflight table list). Events of every ``db.table`` share one physical table, indexed by
``(account_id, database, table_name)``: a table is a name that event definitions refer to,
not DDL, and two accounts may both have a ``shop_db.page_views``.

The same tables live in SQLite (``MIGRATIONS``, the embedded default) or in PostgreSQL
(``PG_MIGRATIONS``, in schema ``settings.database_schema("profile")``); each backend has its
own list of versions. PostgreSQL's starts at today's shape: there is no older one to move
from. Column types keep the parameters the same Python types on both (INTEGER 0/1 flags,
TEXT JSON), so one statement text serves both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import asyncpg

from services.common import audit, postgres
from services.common.checkpoints import CheckpointPolicy
from services.common.storage import Database, Tuning
from services.profile.profiles import LOCK_STRIPES

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
    # 2: the data path. Identities, imported values and memberships are keyed by
    # (parent segment, key, value) so that one indexed probe answers "who owns this value";
    # imported values and memberships are not attached to profiles but joined through the
    # profile's identities when it is read, so merges never have to move them.
    """
    CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      account_id TEXT NOT NULL,
      database TEXT NOT NULL,
      table_name TEXT NOT NULL,
      time REAL NOT NULL,
      client_time TEXT,
      body TEXT NOT NULL
    );
    CREATE INDEX events_by_table ON events (account_id, database, table_name, id);
    CREATE TABLE profiles (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      canonical_id TEXT,
      cluster_size INTEGER NOT NULL,
      state TEXT NOT NULL,
      update_time REAL NOT NULL
    );
    CREATE INDEX profiles_by_segment ON profiles (parent_segment_id);
    CREATE TABLE identities (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      first_seen REAL NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value)
    ) WITHOUT ROWID;
    CREATE INDEX identities_by_profile ON identities (profile_id);
    CREATE TABLE imported_values (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      attributes TEXT NOT NULL,
      update_time REAL NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value)
    ) WITHOUT ROWID;
    CREATE TABLE segment_members (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
      add_time REAL NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value, segment_id)
    ) WITHOUT ROWID;
    CREATE INDEX segment_members_by_segment ON segment_members (segment_id);
    CREATE TABLE merge_log (
      id INTEGER PRIMARY KEY,
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      time REAL NOT NULL,
      outcome TEXT NOT NULL,
      surviving_profile TEXT NOT NULL,
      absorbed_profiles TEXT NOT NULL,
      linking_values TEXT NOT NULL,
      reason TEXT NOT NULL
    );
    CREATE INDEX merge_log_by_segment ON merge_log (parent_segment_id, id);
    CREATE TABLE skipped_values (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      attribute TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (parent_segment_id, attribute)
    ) WITHOUT ROWID
    """,
    # Ids of deleted parent segments are never given out again: tokens, services and
    # personalizations elsewhere name a segment by id (and its reactor id is its id).
    """
    CREATE TABLE retired_parent_segment_ids (id INTEGER PRIMARY KEY)
    """,
    # Verified identifiers (issue 13): a key whose values count on the public path only with
    # a proof, and how many values arrived there without a valid one (never the values).
    """
    ALTER TABLE stitching_keys ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE unproven_identifiers (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (parent_segment_id, key)
    ) WITHOUT ROWID
    """,
    # Every admin change, in the transaction that makes it (services.common.audit).
    audit.MIGRATION,
    # Names that have held withheld values (issue 13): imported values, profile state and
    # identities are kept by attribute, aggregation and key name and outlive their
    # configuration, so re-creating a name as NON_SENSITIVE or unverified is a lowering
    # (services.profile.sensitivity). ``part`` is the aggregation, '' for the attribute or
    # key itself. Seeded from what is withheld now; the store adds to it on every write.
    """
    CREATE TABLE withheld_names (
      parent_segment_id INTEGER NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      part TEXT NOT NULL,
      PRIMARY KEY (parent_segment_id, kind, name, part)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO withheld_names
      SELECT parent_segment_id, 'stitching_keys', name, '' FROM stitching_keys WHERE verified;
    INSERT OR IGNORE INTO withheld_names
      SELECT parent_segment_id, 'attributes', name, '' FROM attributes
      WHERE json_extract(spec, '$.type') IS NOT 'LIST'
        AND json_extract(spec, '$.sensitivity') IS NOT 'NON_SENSITIVE';
    INSERT OR IGNORE INTO withheld_names
      SELECT a.parent_segment_id, 'attributes', a.name, json_extract(g.value, '$.name')
      FROM attributes AS a, json_each(a.spec, '$.list.aggregations') AS g
      WHERE json_extract(a.spec, '$.type') = 'LIST'
        AND json_extract(g.value, '$.sensitivity') IS NOT 'NON_SENSITIVE'
    """,
    # A profile's revision, moved by every write of its row (PostgreSQL's optimistic
    # Tracks compare it, ``tracking.track_unlocked``; kept here so both backends share
    # ``profiles.save``'s text and schema).
    """
    ALTER TABLE profiles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0
    """,
]


# Everything a Track reads before it decides, under its locks, in one round trip
# (``profiles.lock_for_write``). The same locks as ``lock_identities`` and then
# ``locked_owners``, in the same order; a function because each of its statements takes a
# new snapshot (READ COMMITTED), so the owners read after their locks are taken are
# current, which one plain statement could not give. Its tables are found through the
# caller's search_path (the pool's schema), like every other statement's.
#
# Rows by kind: 'config' (always one: the segment's version, read as the identifier locks
# are asked for, NULL when the segment is gone; how many of the stripes were locked),
# 'profile' (one per identity of each owner, by profile id), 'pair' (each pair asked for,
# when one of them has no owner). A 'profile' or 'pair' row carries its pair's imported
# values and batch segments when asked for.
#
# Every lookup by pair is a LATERAL subquery with OFFSET 0 (a probe of the primary key
# per pair), and the function keeps generic plans: left to choose, PostgreSQL planned
# every call afresh (a generic plan never looked cheaper, unnest's row count being
# unknown to it), which cost more than the round trips saved; and a generic plan without
# OFFSET 0 hash-joins the segment's whole table against the pairs.
LOCK_FOR_WRITE = """
CREATE FUNCTION lock_for_write(
  segment BIGINT, stripes INTEGER[], keys TEXT[], vals TEXT[],
  with_imported BOOLEAN, with_members BOOLEAN
) RETURNS TABLE (
  kind TEXT, config_version INTEGER, create_time DOUBLE PRECISION, stripes_locked INTEGER,
  profile_id BIGINT, canonical_id TEXT, cluster_size INTEGER, state TEXT,
  key TEXT, value TEXT, first_seen DOUBLE PRECISION, attributes TEXT, segment_ids BIGINT[]
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  locked BIGINT[];
  owning BIGINT[];
  matched INTEGER := 0;
  missing BIGINT[];
BEGIN
  RETURN QUERY SELECT 'config'::TEXT, p.config_version, p.create_time,
      (SELECT count(*)::INTEGER FROM (SELECT 1 FROM identity_locks
        WHERE stripe = ANY(stripes) ORDER BY stripe FOR UPDATE) AS l),
      NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::TEXT, NULL::TEXT, NULL::TEXT,
      NULL::DOUBLE PRECISION, NULL::TEXT, NULL::BIGINT[]
    FROM (SELECT 1) AS one LEFT JOIN parent_segments AS p ON p.id = segment;
  -- The owners, locked by the pairs; then read again under their locks (a concurrent
  -- merge may have moved a pair meanwhile: its new owner is locked too).
  IF cardinality(keys) = 1 THEN  -- the usual event: probes of primary keys alone
    SELECT ARRAY[p.id] INTO locked FROM profiles AS p
      WHERE p.id = (SELECT i.profile_id FROM identities AS i
        WHERE i.parent_segment_id = segment AND i.key = keys[1] AND i.value = vals[1])
      FOR UPDATE;
  ELSE
    SELECT array_agg(l.id) INTO locked FROM (
      SELECT p.id FROM profiles AS p WHERE p.id IN (
        SELECT i.profile_id FROM unnest(keys, vals) AS j(k, v) CROSS JOIN LATERAL (
          SELECT i.profile_id FROM identities AS i
          WHERE i.parent_segment_id = segment AND i.key = j.k AND i.value = j.v OFFSET 0) AS i)
      ORDER BY p.id FOR UPDATE) AS l;
  END IF;
  IF locked IS NOT NULL THEN
    LOOP
      IF cardinality(keys) = 1 THEN
        owning := ARRAY(SELECT i.profile_id FROM identities AS i
          WHERE i.parent_segment_id = segment AND i.key = keys[1] AND i.value = vals[1]);
        matched := cardinality(owning);
      ELSE
        SELECT coalesce(array_agg(DISTINCT i.profile_id), '{}'), count(*) INTO owning, matched
          FROM unnest(keys, vals) AS j(k, v) CROSS JOIN LATERAL (
            SELECT i.profile_id FROM identities AS i
            WHERE i.parent_segment_id = segment AND i.key = j.k AND i.value = j.v OFFSET 0) AS i;
      END IF;
      EXIT WHEN owning <@ locked;
      SELECT array_agg(o ORDER BY o) INTO missing FROM unnest(owning) AS o
        WHERE o <> ALL(locked);
      PERFORM 1 FROM profiles WHERE id = ANY(missing) ORDER BY id FOR UPDATE;
      locked := locked || missing;
    END LOOP;
    RETURN QUERY SELECT 'profile'::TEXT, NULL::INTEGER, NULL::DOUBLE PRECISION,
        NULL::INTEGER, p.id, p.canonical_id, p.cluster_size, p.state, i.key, i.value,
        i.first_seen, t.attributes, m.segment_ids
      FROM profiles AS p CROSS JOIN LATERAL (SELECT * FROM identities AS i
        WHERE i.profile_id = p.id OFFSET 0) AS i
      LEFT JOIN LATERAL (SELECT t.attributes FROM imported_values AS t
        WHERE with_imported AND t.parent_segment_id = segment AND t.key = i.key
        AND t.value = i.value OFFSET 0) AS t ON TRUE
      LEFT JOIN LATERAL (SELECT array_agg(m.segment_id) AS segment_ids
        FROM segment_members AS m WHERE with_members AND m.parent_segment_id = segment
        AND m.key = i.key AND m.value = i.value) AS m ON TRUE
      WHERE p.id = ANY(owning) ORDER BY p.id;
  END IF;
  IF (with_imported OR with_members) AND matched < cardinality(keys) THEN
    RETURN QUERY SELECT 'pair'::TEXT, NULL::INTEGER, NULL::DOUBLE PRECISION,
        NULL::INTEGER, NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::TEXT, j.k, j.v,
        NULL::DOUBLE PRECISION, t.attributes, m.segment_ids
      FROM unnest(keys, vals) AS j(k, v)
      LEFT JOIN LATERAL (SELECT t.attributes FROM imported_values AS t
        WHERE with_imported AND t.parent_segment_id = segment AND t.key = j.k
        AND t.value = j.v OFFSET 0) AS t ON TRUE
      LEFT JOIN LATERAL (SELECT array_agg(m.segment_id) AS segment_ids
        FROM segment_members AS m WHERE with_members AND m.parent_segment_id = segment
        AND m.key = j.k AND m.value = j.v) AS m ON TRUE;
  END IF;
END
$$
"""

# The columns ``lock_for_write`` and ``read_for_write`` return since ``READ_FOR_WRITE``.
_WRITE_INPUT_COLUMNS = """
  kind TEXT, config_version INTEGER, create_time DOUBLE PRECISION, stripes_locked INTEGER,
  profile_id BIGINT, canonical_id TEXT, cluster_size INTEGER, state TEXT,
  key TEXT, value TEXT, first_seen DOUBLE PRECISION, attributes TEXT, segment_ids BIGINT[],
  revision BIGINT
"""

# Optimistic Tracks (``tracking.track_unlocked``): a Track that reads without locks and
# writes in one statement that commits only if nothing it decided on has changed. It needs:
#
# - ``profiles.revision``, moved by every write of a profile's row (``profiles.save``,
#   ``profiles.write_tracked``), which is what that statement compares; a merge saves its
#   survivor and deletes the absorbed, so moving identities moves a revision too;
# - ``read_for_write``: what ``lock_for_write`` reads, without its locks, in one snapshot
#   (STABLE: every query of the function sees the calling statement's snapshot, so a
#   profile's state, revision and identities are of one moment);
# - ``lock_for_write`` answering the revisions too, so the locked Track writes with the
#   same statement. Its locks are unchanged; the reads both share are ``write_inputs``.
READ_FOR_WRITE = f"""
ALTER TABLE profiles ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
DROP FUNCTION lock_for_write(BIGINT, INTEGER[], TEXT[], TEXT[], BOOLEAN, BOOLEAN);
CREATE FUNCTION write_inputs(
  segment BIGINT, keys TEXT[], vals TEXT[], owning BIGINT[], matched INTEGER,
  with_imported BOOLEAN, with_members BOOLEAN
) RETURNS TABLE ({_WRITE_INPUT_COLUMNS})
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  IF owning IS NOT NULL THEN
    RETURN QUERY SELECT 'profile'::TEXT, NULL::INTEGER, NULL::DOUBLE PRECISION,
        NULL::INTEGER, p.id, p.canonical_id, p.cluster_size, p.state, i.key, i.value,
        i.first_seen, t.attributes, m.segment_ids, p.revision
      FROM profiles AS p CROSS JOIN LATERAL (SELECT * FROM identities AS i
        WHERE i.profile_id = p.id OFFSET 0) AS i
      LEFT JOIN LATERAL (SELECT t.attributes FROM imported_values AS t
        WHERE with_imported AND t.parent_segment_id = segment AND t.key = i.key
        AND t.value = i.value OFFSET 0) AS t ON TRUE
      LEFT JOIN LATERAL (SELECT array_agg(m.segment_id) AS segment_ids
        FROM segment_members AS m WHERE with_members AND m.parent_segment_id = segment
        AND m.key = i.key AND m.value = i.value) AS m ON TRUE
      WHERE p.id = ANY(owning) ORDER BY p.id;
  END IF;
  IF (with_imported OR with_members) AND matched < cardinality(keys) THEN
    RETURN QUERY SELECT 'pair'::TEXT, NULL::INTEGER, NULL::DOUBLE PRECISION,
        NULL::INTEGER, NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::TEXT, j.k, j.v,
        NULL::DOUBLE PRECISION, t.attributes, m.segment_ids, NULL::BIGINT
      FROM unnest(keys, vals) AS j(k, v)
      LEFT JOIN LATERAL (SELECT t.attributes FROM imported_values AS t
        WHERE with_imported AND t.parent_segment_id = segment AND t.key = j.k
        AND t.value = j.v OFFSET 0) AS t ON TRUE
      LEFT JOIN LATERAL (SELECT array_agg(m.segment_id) AS segment_ids
        FROM segment_members AS m WHERE with_members AND m.parent_segment_id = segment
        AND m.key = j.k AND m.value = j.v) AS m ON TRUE;
  END IF;
END
$$;
CREATE FUNCTION lock_for_write(
  segment BIGINT, stripes INTEGER[], keys TEXT[], vals TEXT[],
  with_imported BOOLEAN, with_members BOOLEAN
) RETURNS TABLE ({_WRITE_INPUT_COLUMNS})
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  locked BIGINT[];
  owning BIGINT[];
  matched INTEGER := 0;
  missing BIGINT[];
BEGIN
  RETURN QUERY SELECT 'config'::TEXT, p.config_version, p.create_time,
      (SELECT count(*)::INTEGER FROM (SELECT 1 FROM identity_locks
        WHERE stripe = ANY(stripes) ORDER BY stripe FOR UPDATE) AS l),
      NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::TEXT, NULL::TEXT, NULL::TEXT,
      NULL::DOUBLE PRECISION, NULL::TEXT, NULL::BIGINT[], NULL::BIGINT
    FROM (SELECT 1) AS one LEFT JOIN parent_segments AS p ON p.id = segment;
  -- The owners, locked by the pairs; then read again under their locks (a concurrent
  -- merge may have moved a pair meanwhile: its new owner is locked too).
  IF cardinality(keys) = 1 THEN  -- the usual event: probes of primary keys alone
    SELECT ARRAY[p.id] INTO locked FROM profiles AS p
      WHERE p.id = (SELECT i.profile_id FROM identities AS i
        WHERE i.parent_segment_id = segment AND i.key = keys[1] AND i.value = vals[1])
      FOR UPDATE;
  ELSE
    SELECT array_agg(l.id) INTO locked FROM (
      SELECT p.id FROM profiles AS p WHERE p.id IN (
        SELECT i.profile_id FROM unnest(keys, vals) AS j(k, v) CROSS JOIN LATERAL (
          SELECT i.profile_id FROM identities AS i
          WHERE i.parent_segment_id = segment AND i.key = j.k AND i.value = j.v OFFSET 0) AS i)
      ORDER BY p.id FOR UPDATE) AS l;
  END IF;
  IF locked IS NOT NULL THEN
    LOOP
      IF cardinality(keys) = 1 THEN
        owning := ARRAY(SELECT i.profile_id FROM identities AS i
          WHERE i.parent_segment_id = segment AND i.key = keys[1] AND i.value = vals[1]);
        matched := cardinality(owning);
      ELSE
        SELECT coalesce(array_agg(DISTINCT i.profile_id), '{{}}'), count(*) INTO owning, matched
          FROM unnest(keys, vals) AS j(k, v) CROSS JOIN LATERAL (
            SELECT i.profile_id FROM identities AS i
            WHERE i.parent_segment_id = segment AND i.key = j.k AND i.value = j.v OFFSET 0) AS i;
      END IF;
      EXIT WHEN owning <@ locked;
      SELECT array_agg(o ORDER BY o) INTO missing FROM unnest(owning) AS o
        WHERE o <> ALL(locked);
      PERFORM 1 FROM profiles WHERE id = ANY(missing) ORDER BY id FOR UPDATE;
      locked := locked || missing;
    END LOOP;
  END IF;
  RETURN QUERY SELECT * FROM write_inputs(
    segment, keys, vals, owning, matched, with_imported, with_members);
END
$$;
CREATE FUNCTION read_for_write(
  segment BIGINT, keys TEXT[], vals TEXT[], with_imported BOOLEAN, with_members BOOLEAN
) RETURNS TABLE ({_WRITE_INPUT_COLUMNS})
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  owning BIGINT[];
  matched INTEGER;
BEGIN
  RETURN QUERY SELECT 'config'::TEXT, p.config_version, p.create_time, 0,
      NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::TEXT, NULL::TEXT, NULL::TEXT,
      NULL::DOUBLE PRECISION, NULL::TEXT, NULL::BIGINT[], NULL::BIGINT
    FROM (SELECT 1) AS one LEFT JOIN parent_segments AS p ON p.id = segment;
  IF cardinality(keys) = 1 THEN
    owning := ARRAY(SELECT i.profile_id FROM identities AS i
      WHERE i.parent_segment_id = segment AND i.key = keys[1] AND i.value = vals[1]);
    matched := cardinality(owning);
  ELSE
    SELECT array_agg(DISTINCT i.profile_id), count(*) INTO owning, matched
      FROM unnest(keys, vals) AS j(k, v) CROSS JOIN LATERAL (
        SELECT i.profile_id FROM identities AS i
        WHERE i.parent_segment_id = segment AND i.key = j.k AND i.value = j.v OFFSET 0) AS i;
  END IF;
  RETURN QUERY SELECT * FROM write_inputs(
    segment, keys, vals, owning, matched, with_imported, with_members);
END
$$
"""


PG_MIGRATIONS = [
    """
    CREATE TABLE parent_segments (
      id BIGINT PRIMARY KEY,
      account_id TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      reactor_id TEXT NOT NULL UNIQUE,
      primary_key TEXT NOT NULL,
      config_version INTEGER NOT NULL DEFAULT 1,
      create_time DOUBLE PRECISION NOT NULL
    );
    CREATE UNIQUE INDEX parent_segments_name ON parent_segments (account_id, name);
    CREATE TABLE event_definitions (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      database TEXT NOT NULL,
      table_name TEXT NOT NULL,
      filters TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE INDEX event_definitions_by_table ON event_definitions (database, table_name);
    CREATE TABLE attributes (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      spec TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE stitching_keys (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      regex TEXT NOT NULL,
      exclusions TEXT NOT NULL,
      workflow_only INTEGER NOT NULL,
      verified INTEGER NOT NULL DEFAULT 0,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE segments (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      sensitivity TEXT NOT NULL,
      UNIQUE (parent_segment_id, name)
    );
    CREATE TABLE generation (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      value BIGINT NOT NULL
    );
    INSERT INTO generation (id, value) VALUES (1, 0);
    CREATE TABLE retired_parent_segment_ids (id BIGINT PRIMARY KEY);
    CREATE TABLE withheld_names (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      part TEXT NOT NULL,
      PRIMARY KEY (parent_segment_id, kind, name, part)
    );
    CREATE TABLE events (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      account_id TEXT NOT NULL,
      database TEXT NOT NULL,
      table_name TEXT NOT NULL,
      time DOUBLE PRECISION NOT NULL,
      client_time TEXT,
      body TEXT NOT NULL
    );
    CREATE INDEX events_by_table ON events (account_id, database, table_name, id);
    CREATE TABLE profiles (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      canonical_id TEXT,
      cluster_size INTEGER NOT NULL,
      state TEXT NOT NULL,
      update_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX profiles_by_segment ON profiles (parent_segment_id);
    CREATE TABLE identities (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      profile_id BIGINT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      first_seen DOUBLE PRECISION NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value)
    );
    CREATE INDEX identities_by_profile ON identities (profile_id);
    CREATE TABLE imported_values (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      attributes TEXT NOT NULL,
      update_time DOUBLE PRECISION NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value)
    );
    CREATE TABLE segment_members (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      segment_id BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
      add_time DOUBLE PRECISION NOT NULL,
      PRIMARY KEY (parent_segment_id, key, value, segment_id)
    );
    CREATE INDEX segment_members_by_segment ON segment_members (segment_id);
    CREATE TABLE merge_log (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      time DOUBLE PRECISION NOT NULL,
      outcome TEXT NOT NULL,
      surviving_profile TEXT NOT NULL,
      absorbed_profiles TEXT NOT NULL,
      linking_values TEXT NOT NULL,
      reason TEXT NOT NULL
    );
    CREATE INDEX merge_log_by_segment ON merge_log (parent_segment_id, id);
    CREATE TABLE skipped_values (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      attribute TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (parent_segment_id, attribute)
    );
    CREATE TABLE unproven_identifiers (
      parent_segment_id BIGINT NOT NULL REFERENCES parent_segments(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (parent_segment_id, key)
    )
    """,
    audit.PG_MIGRATION,
    # Row locks standing for identifiers (``profiles.lock_identities``): a write locks the
    # stripes of its identifiers first, in order, so two writes that share one wait for
    # each other there instead of deadlocking later. Rows, not advisory locks: CockroachDB
    # and YugabyteDB lock rows the same way.
    f"""
    CREATE TABLE identity_locks (stripe INTEGER PRIMARY KEY);
    INSERT INTO identity_locks (stripe) SELECT generate_series(0, {LOCK_STRIPES - 1})
    """,
    LOCK_FOR_WRITE,
    READ_FOR_WRITE,
]

# Connections per process: a Track holds one for its transaction, so this bounds how many
# run at once (PostgreSQL shares one WAL flush among the commits that arrive together).
PG_POOL_SIZE = 20


def database_path(data_dir: Path) -> Path:
    return data_dir / "profile.db"


# The hot store: every Track and Ingest record writes here. Checkpoints run beside the
# group-commit writer instead of inside its COMMIT, and the page cache holds the interior
# pages of the profile, identity and import B-trees of a large store (docs/decisions.md,
# "Profile store at a million profiles", has the measurements).
TUNING = Tuning(cache_kib=64 * 1024, checkpoints=CheckpointPolicy())


async def open_store(data_dir: Path, *, loop_writes: bool = False) -> Database:
    """The store; ``loop_writes`` for a writer that runs its batches on the event loop's
    thread (``GroupCommit(on_loop=True)``)."""
    tuning = dataclasses.replace(TUNING, loop_writes=loop_writes)
    return await Database.open(database_path(data_dir), MIGRATIONS, tuning)


async def open_pool(url: str, schema: str) -> asyncpg.Pool:
    """The profile schema's pool, migrated (replicas may start together)."""
    return await postgres.open_pool(
        url, schema, PG_MIGRATIONS, max_size=PG_POOL_SIZE, application="p13n-profile"
    )
