"""Profiles in the store: who owns which identity, each profile's state, the merge log, events.

Every function here is a coroutine over ``Sql`` (``services.common.sql``), one statement text
for both backends: on SQLite it runs whole on the database thread through ``ThreadSqlite``
and ``run_to_completion`` (inside a group-commit batch or a ``run_sync`` call), so a
statement costs no trip between the event loop and that thread; on PostgreSQL it runs in the
caller's transaction over asyncpg.

Only storage lives here; what to do (stitching decisions, attribute arithmetic) is decided
by the pure modules and carried out by ``tracking``. Lookups by many (key, value) pairs pass
the pairs as one parameter (SQLite: a JSON array through ``json_each``; PostgreSQL: two text
arrays through ``unnest``) and join them to the table, which keeps the join order
"probe the primary key once per pair" for any number of pairs. Most events carry a single
identity, so a lookup by one pair probes the primary key directly, and a profile comes back
with its identities from one statement (one row per identity).

Imported values and batch memberships are stored per (key, value), not per profile, and are
joined through a profile's identities when it is read: a merge unites identities, and with
them everything imported for any of them, without moving a row.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.common import events, json_text
from services.common.sql import Row, Sql
from services.profile.attributes import ProfileState
from services.profile.stitching import Identity, ProfileIdentities

Pair = tuple[str, str]

# The pairs as a relation j(key, value), joined to ``{table}`` of one parent segment; the
# pairs' parameters come first, then the segment (``_pair_args``). SQLite's CROSS JOIN
# fixes the join order; PostgreSQL plans the join itself (and has no CROSS JOIN ... ON).
_BY_PAIRS = {
    "sqlite": (
        "FROM json_each(?) AS j CROSS JOIN {table} AS t "
        "ON t.parent_segment_id = ? AND t.key = j.value ->> 0 AND t.value = j.value ->> 1"
    ),
    "postgresql": (
        "FROM unnest(?::text[], ?::text[]) AS j(key, value) JOIN {table} AS t "
        "ON t.parent_segment_id = ? AND t.key = j.key AND t.value = j.value"
    ),
}


@dataclass(frozen=True)
class StoredProfile:
    id: int
    canonical_id: str | None
    cluster_size: int
    state: ProfileState
    identities: tuple[Identity, ...]

    def for_stitching(self) -> ProfileIdentities:
        return ProfileIdentities(str(self.id), self.identities, self.cluster_size)

    def label(self) -> str:
        return label(self.canonical_id, self.identities)


def label(canonical_id: str | None, identities: Iterable[Identity]) -> str:
    """How the merge log names a profile: its canonical id, else its oldest identity.

    A profile that never saw a primary-key value has no canonical id; ``key:value`` of its
    oldest identity still lets support find it (GetProfile by that key and value).
    """
    if canonical_id:
        return canonical_id
    oldest = min(identities, key=lambda i: (i.first_seen, i.key, i.value), default=None)
    return f"{oldest.key}:{oldest.value}" if oldest else ""


# A profile and its identities, one row per identity, for the profiles a WHERE picks.
_PROFILE_ROWS = (
    "SELECT p.id, p.canonical_id, p.cluster_size, p.state, i.key, i.value, i.first_seen "
    "FROM profiles AS p JOIN identities AS i ON i.profile_id = p.id "
)
_OWNER_OF_PAIR = (
    _PROFILE_ROWS + "WHERE p.id = (SELECT profile_id FROM identities "
    "WHERE parent_segment_id = ? AND key = ? AND value = ?)"
)


# Built once per dialect: the SQLite path runs these for every event, on the writer's thread.
_OWNERS_OF_PAIRS = {
    dialect: _PROFILE_ROWS
    + "WHERE p.id IN (SELECT t.profile_id "
    + by_pairs.format(table="identities")
    + ") ORDER BY p.id"
    for dialect, by_pairs in _BY_PAIRS.items()
}
_IMPORTED_OF_PAIRS = {
    dialect: "SELECT t.key, t.value, t.attributes " + by_pairs.format(table="imported_values")
    for dialect, by_pairs in _BY_PAIRS.items()
}
_SEGMENTS_OF_PAIRS = {
    dialect: "SELECT DISTINCT t.segment_id " + by_pairs.format(table="segment_members")
    for dialect, by_pairs in _BY_PAIRS.items()
}


def _pair_args(sql: Sql, pairs: Sequence[Pair]) -> tuple[object, ...]:
    """The parameters ``_BY_PAIRS`` takes for ``pairs`` (before the segment's)."""
    if sql.dialect == "postgresql":
        return ([key for key, _ in pairs], [value for _, value in pairs])
    return (json.dumps([[key, value] for key, value in pairs]),)


async def owners(sql: Sql, parent_segment_id: int, pairs: Iterable[Pair]) -> list[StoredProfile]:
    """The profiles owning at least one of ``pairs``, by id."""
    return _profiles(
        await _rows(sql, _OWNER_OF_PAIR, _OWNERS_OF_PAIRS[sql.dialect], parent_segment_id, pairs)
    )


async def locked_owners(
    sql: Sql, parent_segment_id: int, pairs: Sequence[Pair]
) -> list[StoredProfile]:
    """``owners``, locked until the transaction ends: what it returns stays true.

    SQLite: the group-commit writer holds the database's one write lock, so ``owners`` is
    all it takes. PostgreSQL (READ COMMITTED, replicas writing at once): the owning profiles'
    rows are locked ``FOR UPDATE`` in id order, then the owners are read, now that nothing
    can change them; a profile that a concurrent merge gave one of the pairs to
    meanwhile is locked too, and read again, until the owners are all locked. Every write
    of a profile's state or identities holds its row's lock, so the answer is then stable.
    A new pair (owned by nobody) cannot be inserted by another transaction meanwhile: the
    write holds its identifiers' locks (``lock_identities``, taken before this). Locks
    taken out of id order on the second pass may deadlock; PostgreSQL then aborts one
    transaction (40P01), which is run again (``postgres_profile``), as is one whose only
    owner was merged away while it waited (below).
    """
    if sql.dialect != "postgresql":
        return await owners(sql, parent_segment_id, pairs)
    # The first lock by the pairs themselves: one statement fewer than reading first.
    locked = {
        int(r[0])
        for r in await _rows(
            sql, _LOCK_OWNER_OF_PAIR, _LOCK_OWNERS_OF_PAIRS, parent_segment_id, pairs
        )
    }
    if not locked:
        # No owner: the pairs are new, and no other write can insert them (their identifier
        # locks are held). Rarely, the one owner was merged away while this statement waited
        # for its lock: the pairs then belong to the survivor, this write's insert of them
        # fails (unique violation) and the write runs again (``postgres_profile``).
        return []
    while True:
        found = await owners(sql, parent_segment_id, pairs)
        wanted = sorted({p.id for p in found} - locked)
        if not wanted:
            return found
        await sql.fetch(
            "SELECT id FROM profiles WHERE id = ANY(?::bigint[]) ORDER BY id FOR UPDATE", wanted
        )
        locked.update(wanted)


# Rows of identity_locks, numbered 0 to LOCK_STRIPES - 1 (inserted by store.PG_MIGRATIONS).
# The migration has run with 16384: another value needs a migration adding the rows.
LOCK_STRIPES = 16384


def lock_stripe(parent_segment_id: int, key: str, value: str) -> int:
    return zlib.crc32(f"{parent_segment_id}\0{key}\0{value}".encode()) % LOCK_STRIPES


async def lock_identities(sql: Sql, identities: Iterable[tuple[int, str, str]]) -> None:
    """Locks the identifiers a write may stitch, before anything else it locks (PostgreSQL).

    Each (parent segment, key, value) stands for one of ``identity_locks``' rows (a hash
    decides which; two identifiers may share one, which only makes their writes wait for
    each other). ``identities`` are (parent segment, key, value), of every parent segment
    the write stitches for: all taken in one statement, in order, at the start of the write,
    so:

    - two writes that share an identifier run one after the other, and a new identifier is
      inserted by one write at a time (no unique violation to retry);
    - a write that stitches many events (an Ingest request) cannot deadlock with another
      on identifiers they both insert in different orders, which PostgreSQL would only
      break after ``deadlock_timeout`` (a second).

    SQLite's writer is alone: nothing to do.
    """
    if sql.dialect != "postgresql":
        return
    stripes = sorted({lock_stripe(segment, key, value) for segment, key, value in identities})
    if stripes:
        locked = await sql.fetch(
            "SELECT stripe FROM identity_locks WHERE stripe = ANY(?::int[]) "
            "ORDER BY stripe FOR UPDATE",
            stripes,
        )
        if len(locked) != len(stripes):
            _refuse_missing_stripes(len(locked), len(stripes))


async def lock_owners(sql: Sql, parent_segment_id: int, pairs: Sequence[Pair]) -> None:
    """Locks the profiles owning any of ``pairs`` at once, in id order (PostgreSQL).

    For a write that will stitch many events in one transaction (an Ingest request): taken
    one event at a time, two such writes could lock the same profiles in opposite orders
    and deadlock (which PostgreSQL breaks only after ``deadlock_timeout``, a second). Each
    event still takes ``locked_owners``, which finds these locks already held.
    """
    if sql.dialect == "postgresql" and pairs:
        await _rows(sql, _LOCK_OWNER_OF_PAIR, _LOCK_OWNERS_OF_PAIRS, parent_segment_id, pairs)


@dataclass(frozen=True)
class Locked:
    """What ``lock_for_write`` read under its locks (or ``read_for_write`` without them), in
    one round trip."""

    version: tuple[int, float] | None  # the segment's (config_version, create_time); None: gone
    owners: list[StoredProfile]  # as ``locked_owners`` returns them
    imported: dict[Pair, dict[str, object]]  # as ``imported_records``, when asked for
    members: dict[Pair, set[int]]  # batch segments by pair, when asked for
    revisions: dict[int, int]  # each owner's revision, by profile id (``write_tracked``)

    def segment_ids(self, pairs: Iterable[Pair]) -> set[int]:
        """As ``segment_ids`` answers for ``pairs`` (each asked for, or an owner's)."""
        return {segment for pair in pairs for segment in self.members.get(pair, ())}


async def lock_for_write(
    sql: Sql,
    parent_segment_id: int,
    identities: Iterable[Pair],
    pairs: Sequence[Pair],
    *,
    imported: bool,
    members: bool,
) -> Locked:
    """``lock_identities`` for ``identities``, then ``locked_owners`` for ``pairs``, with the
    segment's configuration version (read by the statement that takes the identifier
    locks, so as of before it waits for them, as ``ConfigCache.get`` read it before) and,
    when asked for, the imported values and batch memberships of ``pairs`` and of the
    owners' identities: one call of the ``lock_for_write`` function
    (``store.LOCK_FOR_WRITE``), PostgreSQL only.

    The locks and their order are those of the two calls it stands for, so the two ways
    of writing serialize with each other (an Ingest request still takes them one by one).
    """
    stripes = sorted({lock_stripe(parent_segment_id, key, value) for key, value in identities})
    rows = await sql.fetch(
        "SELECT * FROM lock_for_write(?, ?::int[], ?::text[], ?::text[], ?, ?)",
        parent_segment_id,
        stripes,
        [key for key, _ in pairs],
        [value for _, value in pairs],
        imported,
        members,
    )
    if rows[0]["stripes_locked"] != len(stripes):
        _refuse_missing_stripes(rows[0]["stripes_locked"], len(stripes))
    return _write_inputs(rows)


async def read_for_write(
    sql: Sql, parent_segment_id: int, pairs: Sequence[Pair], *, imported: bool, members: bool
) -> Locked:
    """What ``lock_for_write`` reads for ``pairs``, without taking any lock, as of one
    moment (PostgreSQL only): for a write that commits only if none of it has changed
    since (``write_tracked`` with the owner's revision)."""
    rows = await sql.fetch(
        "SELECT * FROM read_for_write(?, ?::text[], ?::text[], ?, ?)",
        parent_segment_id,
        [key for key, _ in pairs],
        [value for _, value in pairs],
        imported,
        members,
    )
    return _write_inputs(rows)


def _write_inputs(rows: Sequence[Row]) -> Locked:
    """``lock_for_write``'s or ``read_for_write``'s rows: the configuration's first."""
    config, *rest = rows
    version = config["config_version"]
    found: dict[Pair, dict[str, object]] = {}
    memberships: dict[Pair, set[int]] = {}
    revisions: dict[int, int] = {}
    profile_rows: list[ProfileRow] = []
    for row in rest:
        pair = (row["key"], row["value"])
        if row["kind"] == "profile":
            profile_rows.append(tuple(row[column] for column in _PROFILE_COLUMNS))
            revisions[int(row["profile_id"])] = int(row["revision"])
        if row["attributes"] is not None:
            found[pair] = json.loads(row["attributes"])
        if row["segment_ids"] is not None:
            memberships[pair] = set(row["segment_ids"])
    return Locked(
        None if version is None else (int(version), float(config["create_time"])),
        _profiles(profile_rows),
        found,
        memberships,
        revisions,
    )


# ``lock_for_write``'s columns of a profile row, in ``_PROFILE_ROWS``' order (``_profiles``).
_PROFILE_COLUMNS = (
    "profile_id",
    "canonical_id",
    "cluster_size",
    "state",
    "key",
    "value",
    "first_seen",
)


def _refuse_missing_stripes(locked: int, wanted: int) -> None:
    # A missing row locks nothing: writes would stitch unserialized. Refuse instead.
    raise RuntimeError(
        f"identity_locks has {locked} of the {wanted} stripes this write "
        f"locks: it must hold stripes 0 to {LOCK_STRIPES - 1} (store.PG_MIGRATIONS)"
    )


_LOCK_OWNER_OF_PAIR = (
    "SELECT id FROM profiles WHERE id = (SELECT profile_id FROM identities "
    "WHERE parent_segment_id = ? AND key = ? AND value = ?) FOR UPDATE"
)
_LOCK_OWNERS_OF_PAIRS = (
    "SELECT id FROM profiles WHERE id IN (SELECT t.profile_id "
    + _BY_PAIRS["postgresql"].format(table="identities")
    + ") ORDER BY id FOR UPDATE"
)


async def _rows(
    sql: Sql,
    one_pair_sql: str,
    pairs_sql: str,
    parent_segment_id: int,
    pairs: Iterable[Pair],
) -> Sequence[Row]:
    """Rows for ``pairs``: the usual single pair probes the key directly (``one_pair_sql``
    takes segment, key, value); several go through ``_BY_PAIRS`` (``pairs_sql`` takes the
    pairs' parameters, then the segment)."""
    wanted = list(pairs)
    if len(wanted) == 1:
        ((key, value),) = wanted
        return await sql.fetch(one_pair_sql, parent_segment_id, key, value)
    return await sql.fetch(pairs_sql, *_pair_args(sql, wanted), parent_segment_id)


# A row of ``_PROFILE_ROWS``' columns: a result row, or one made of ``lock_for_write``'s.
ProfileRow = Row | tuple[Any, ...]


def _profiles(rows: Iterable[ProfileRow]) -> list[StoredProfile]:
    """Profiles from ``_PROFILE_ROWS`` rows, in the order the rows name them."""
    grouped: dict[int, tuple[ProfileRow, list[Identity]]] = {}
    for row in rows:
        profile = grouped.setdefault(int(row[0]), (row, []))
        profile[1].append(Identity(row[4], row[5], float(row[6])))
    return [
        StoredProfile(
            id=int(row[0]),
            canonical_id=row[1],
            cluster_size=int(row[2]),
            state=ProfileState.from_json(json_text.loads(row[3])),
            identities=tuple(sorted(identities)),
        )
        for row, identities in grouped.values()
    ]


async def owner_of(sql: Sql, parent_segment_id: int, key: str, value: str) -> StoredProfile | None:
    found = await owners(sql, parent_segment_id, [(key, value)])
    return found[0] if found else None


async def imported_records(
    sql: Sql, parent_segment_id: int, pairs: Iterable[Pair]
) -> dict[Pair, dict[str, object]]:
    """Imported attribute values by the (key, value) they were imported for."""
    rows = await _rows(
        sql,
        "SELECT key, value, attributes FROM imported_values "
        "WHERE parent_segment_id = ? AND key = ? AND value = ?",
        _IMPORTED_OF_PAIRS[sql.dialect],
        parent_segment_id,
        pairs,
    )
    return {(row[0], row[1]): json.loads(row[2]) for row in rows}


async def segment_ids(sql: Sql, parent_segment_id: int, pairs: Iterable[Pair]) -> set[int]:
    """The batch segments any of ``pairs`` was imported into."""
    rows = await _rows(
        sql,
        "SELECT segment_id FROM segment_members "
        "WHERE parent_segment_id = ? AND key = ? AND value = ?",
        _SEGMENTS_OF_PAIRS[sql.dialect],
        parent_segment_id,
        pairs,
    )
    return {int(row[0]) for row in rows}


async def batch_first_seen(sql: Sql, parent_segment_id: int, key: str, value: str) -> float | None:
    """When a key value was first imported (attributes or membership); None if never."""
    rows = await sql.fetch(
        "SELECT min(update_time) FROM imported_values "
        "WHERE parent_segment_id = ? AND key = ? AND value = ? "
        "UNION ALL SELECT min(add_time) FROM segment_members "
        "WHERE parent_segment_id = ? AND key = ? AND value = ?",
        *(parent_segment_id, key, value) * 2,
    )
    times = [float(row[0]) for row in rows if row[0] is not None]
    return min(times) if times else None


def _state_json(state: ProfileState) -> str:
    # Compact: 9 % fewer bytes a row than json.dumps' default (measured on the bench's store),
    # so fewer pages to write, log and checkpoint; json_text.loads reads every form written.
    return json_text.dumps(state.to_json())


async def create(
    sql: Sql,
    parent_segment_id: int,
    canonical_id: str | None,
    state: ProfileState,
    now: float,
) -> int:
    created = await sql.fetchval(
        "INSERT INTO profiles (parent_segment_id, canonical_id, cluster_size, state, update_time) "
        "VALUES (?, ?, 1, ?, ?) RETURNING id",
        parent_segment_id,
        canonical_id,
        _state_json(state),
        now,
    )
    return int(created)


async def save(
    sql: Sql,
    profile_id: int,
    canonical_id: str | None,
    cluster_size: int,
    state: ProfileState,
    now: float,
) -> None:
    await sql.execute(
        "UPDATE profiles SET canonical_id = ?, cluster_size = ?, state = ?, update_time = ?, "
        "revision = revision + 1 WHERE id = ?",
        canonical_id,
        cluster_size,
        _state_json(state),
        now,
        profile_id,
    )


async def absorb(sql: Sql, survivor: int, absorbed: Sequence[int]) -> None:
    """Moves the absorbed profiles' identities to the survivor and deletes them."""
    wanted: object
    if sql.dialect == "postgresql":
        among, wanted = "= ANY(?::bigint[])", list(absorbed)
    else:
        among, wanted = "IN (SELECT value FROM json_each(?))", json.dumps(list(absorbed))
    await sql.execute(
        f"UPDATE identities SET profile_id = ? WHERE profile_id {among}", survivor, wanted
    )
    await sql.execute(f"DELETE FROM profiles WHERE id {among}", wanted)


_ATTACH = (
    "INSERT INTO identities (parent_segment_id, key, value, profile_id, first_seen) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _in_key_order(identities: Iterable[Identity]) -> list[Identity]:
    """New identities in the order of the identities' primary key: two writes inserting the
    same two new identifiers wait for each other on the first instead of deadlocking on
    the second (which PostgreSQL would only break after ``deadlock_timeout``, a second)."""
    return sorted(identities, key=lambda i: (i.key, i.value))


async def attach(
    sql: Sql,
    parent_segment_id: int,
    profile_id: int,
    identities: Iterable[Identity],
) -> None:
    rows = [
        (parent_segment_id, i.key, i.value, profile_id, i.first_seen)
        for i in _in_key_order(identities)
    ]
    if len(rows) == 1:  # the usual case: one statement, not a batch of one
        await sql.execute(_ATTACH, *rows[0])
    elif rows:
        await sql.executemany(
            _ATTACH,
            rows,
        )


async def log_merge(
    sql: Sql,
    parent_segment_id: int,
    *,
    time: float,
    outcome: str,
    surviving: str,
    absorbed: Sequence[str],
    linking: Sequence[Identity],
    reason: str,
) -> None:
    await sql.execute(
        "INSERT INTO merge_log (parent_segment_id, time, outcome, surviving_profile, "
        "absorbed_profiles, linking_values, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        parent_segment_id,
        time,
        outcome,
        surviving,
        json.dumps(list(absorbed)),
        json.dumps([list(i) for i in linking]),
        reason,
    )


async def merge_log_page(sql: Sql, parent_segment_id: int, before: int, size: int) -> Sequence[Row]:
    """Up to ``size + 1`` entries, newest first, with ids below ``before`` (0: from the top)."""
    if before:
        return await sql.fetch(
            "SELECT * FROM merge_log WHERE parent_segment_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT ?",
            parent_segment_id,
            before,
            size + 1,
        )
    return await sql.fetch(
        "SELECT * FROM merge_log WHERE parent_segment_id = ? ORDER BY id DESC LIMIT ?",
        parent_segment_id,
        size + 1,
    )


async def count_skipped(sql: Sql, parent_segment_id: int, attribute: str) -> int:
    """Counts one value not written for being over 500 bytes; returns the running count."""
    return await _count(sql, "skipped_values", "attribute", parent_segment_id, attribute)


async def count_unproven(sql: Sql, parent_segment_id: int, key: str) -> int:
    """Counts one verified identifier left out for want of a valid proof; the running count."""
    return await _count(sql, "unproven_identifiers", "key", parent_segment_id, key)


async def _count(sql: Sql, table: str, column: str, segment: int, name: str) -> int:
    # ``table`` and ``column`` are the two constants above, never input.
    count = await sql.fetchval(
        f"INSERT INTO {table} (parent_segment_id, {column}, count) VALUES (?, ?, 1) "
        f"ON CONFLICT (parent_segment_id, {column}) DO UPDATE SET count = {table}.count + 1 "
        "RETURNING count",
        segment,
        name,
    )
    return int(count or 0)


async def store_events(
    sql: Sql,
    account_id: str,
    database: str,
    table: str,
    now: float,
    stored: Sequence[tuple[events.Event, str]],
) -> None:
    """Appends events (decoded, JSON body) to ``database.table`` at server time ``now``."""
    rows = [(account_id, database, table, now, events.client_time(e), body) for e, body in stored]
    if len(rows) == 1:  # a Track: one statement, not a batch of one
        await sql.execute(_STORE_EVENT, *rows[0])
    else:
        await sql.executemany(_STORE_EVENT, rows)


_EVENT_COLUMNS = "events (account_id, database, table_name, time, client_time, body)"
_STORE_EVENT = f"INSERT INTO {_EVENT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?)"


# A Track's writes on PostgreSQL in one statement (``write_tracked``): the profile, saved
# only while its revision is the one the write read (or created), and only while the
# segment's configuration is the one the write decided with (for a locked Track, read
# under every lock it holds, as ``realtime.still_current`` reads it for other writes);
# then the event and the profile's new identities, which select from ``target``, so they
# go in only with the profile. The statement writes all of it or nothing, and answers how
# many profiles it wrote.
_CONFIG_UNCHANGED = (
    "EXISTS (SELECT 1 FROM parent_segments WHERE id = ? AND config_version = ? AND create_time = ?)"
)
_TRACKED = (
    "WITH target AS ({profile} RETURNING id), "
    f"stored AS (INSERT INTO {_EVENT_COLUMNS} "
    "SELECT ?, ?, ?, ?::float8, ?::text, ? FROM target), "
    "attached AS (INSERT INTO identities "
    "(parent_segment_id, key, value, profile_id, first_seen) "
    "SELECT ?::bigint, n.key, n.value, target.id, n.first_seen "
    "FROM target, unnest(?::text[], ?::text[], ?::float8[]) AS n(key, value, first_seen)) "
    "SELECT count(*) FROM target"
)
_TRACKED_SAVE = _TRACKED.format(
    profile="UPDATE profiles SET canonical_id = ?, cluster_size = ?, state = ?, update_time = ?, "
    "revision = revision + 1 WHERE id = ? AND revision = ? AND " + _CONFIG_UNCHANGED
)
_TRACKED_CREATE = _TRACKED.format(
    profile="INSERT INTO profiles "
    "(parent_segment_id, canonical_id, cluster_size, state, update_time) "
    "SELECT ?::bigint, ?, 1, ?, ?::float8 WHERE " + _CONFIG_UNCHANGED
)


async def write_tracked(
    sql: Sql,
    parent_segment_id: int,
    version: tuple[int, float],
    account_id: str,
    database: str,
    table: str,
    event: tuple[events.Event, str],
    target: tuple[int, int] | None,
    profile: tuple[str | None, int, ProfileState],
    attach: Sequence[Identity],
    now: float,
) -> bool:
    """``store_events`` of one event, ``save`` of ``target`` ((profile id, the revision
    the write read); ``create`` when None) with ``profile`` (canonical id, cluster size,
    state) and ``attach`` of its new identities, in one statement (PostgreSQL), if the
    segment's configuration is still ``version`` (config_version, create_time) and the
    target's revision unchanged; whether it wrote (else it wrote nothing)."""
    canonical_id, cluster_size, state = profile
    unchanged = (parent_segment_id, *version)
    attach = _in_key_order(attach)
    written: tuple[object, ...]
    if target is None:
        written = (parent_segment_id, canonical_id, _state_json(state), now)
        query = _TRACKED_CREATE
    else:
        written = (canonical_id, cluster_size, _state_json(state), now, *target)
        query = _TRACKED_SAVE
    count = await sql.fetchval(
        query,
        *written,
        *unchanged,
        account_id,
        database,
        table,
        now,
        events.client_time(event[0]),
        event[1],
        parent_segment_id,
        [i.key for i in attach],
        [i.value for i in attach],
        [i.first_seen for i in attach],
    )
    return bool(count)
