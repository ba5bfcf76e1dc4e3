"""Profiles in the store: who owns which identity, each profile's state, the merge log, events.

Every function here is synchronous and takes a plain ``sqlite3`` connection: it runs on the
database thread, inside a group-commit batch or a ``run_sync`` call (``storage.run_sync``),
so a statement costs no trip between the event loop and that thread.

Only storage lives here; what to do (stitching decisions, attribute arithmetic) is decided
by the pure modules and carried out by ``tracking``. Lookups by many (key, value) pairs pass the
pairs as one JSON parameter and ``CROSS JOIN`` them to the table, which keeps the join order
"probe the primary key once per pair" for any number of pairs. Most events carry a single
identity, so a lookup by one pair probes the primary key directly, and a profile comes back
with its identities from one statement (one row per identity).

Imported values and batch memberships are stored per (key, value), not per profile, and are
joined through a profile's identities when it is read: a merge unites identities, and with
them everything imported for any of them, without moving a row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.common import events
from services.common.storage import query_all, query_one
from services.profile.attributes import ProfileState
from services.profile.stitching import Identity, ProfileIdentities

Pair = tuple[str, str]

_BY_PAIRS = (
    "FROM json_each(?) AS j CROSS JOIN {table} AS t "
    "ON t.parent_segment_id = ? AND t.key = j.value ->> 0 AND t.value = j.value ->> 1"
)


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
_OWNERS_OF_PAIRS = (
    _PROFILE_ROWS
    + "WHERE p.id IN (SELECT t.profile_id "
    + _BY_PAIRS.format(table="identities")
    + ") ORDER BY p.id"
)


def _pairs(pairs: Iterable[Pair]) -> str:
    return json.dumps([[key, value] for key, value in pairs])


def owners(
    conn: sqlite3.Connection, parent_segment_id: int, pairs: Iterable[Pair]
) -> list[StoredProfile]:
    """The profiles owning at least one of ``pairs``, by id."""
    return _profiles(_rows(conn, _OWNER_OF_PAIR, _OWNERS_OF_PAIRS, parent_segment_id, pairs))


def _rows(
    conn: sqlite3.Connection,
    one_pair_sql: str,
    pairs_sql: str,
    parent_segment_id: int,
    pairs: Iterable[Pair],
) -> list[sqlite3.Row]:
    """Rows for ``pairs``: the usual single pair probes the key directly (``one_pair_sql``
    takes segment, key, value); several go through ``json_each`` (``pairs_sql`` takes the
    pairs as JSON, then the segment)."""
    wanted = list(pairs)
    if len(wanted) == 1:
        ((key, value),) = wanted
        return query_all(conn, one_pair_sql, parent_segment_id, key, value)
    return query_all(conn, pairs_sql, _pairs(wanted), parent_segment_id)


def _profiles(rows: Iterable[sqlite3.Row]) -> list[StoredProfile]:
    """Profiles from ``_PROFILE_ROWS`` rows, in the order the rows name them."""
    grouped: dict[int, tuple[sqlite3.Row, list[Identity]]] = {}
    for row in rows:
        profile = grouped.setdefault(int(row[0]), (row, []))
        profile[1].append(Identity(row[4], row[5], float(row[6])))
    return [
        StoredProfile(
            id=int(row[0]),
            canonical_id=row[1],
            cluster_size=int(row[2]),
            state=ProfileState.from_json(json.loads(row[3])),
            identities=tuple(sorted(identities)),
        )
        for row, identities in grouped.values()
    ]


def owner_of(
    conn: sqlite3.Connection, parent_segment_id: int, key: str, value: str
) -> StoredProfile | None:
    found = owners(conn, parent_segment_id, [(key, value)])
    return found[0] if found else None


def imported_records(
    conn: sqlite3.Connection, parent_segment_id: int, pairs: Iterable[Pair]
) -> dict[Pair, dict[str, object]]:
    """Imported attribute values by the (key, value) they were imported for."""
    rows = _rows(
        conn,
        "SELECT key, value, attributes FROM imported_values "
        "WHERE parent_segment_id = ? AND key = ? AND value = ?",
        "SELECT t.key, t.value, t.attributes " + _BY_PAIRS.format(table="imported_values"),
        parent_segment_id,
        pairs,
    )
    return {(row[0], row[1]): json.loads(row[2]) for row in rows}


def segment_ids(
    conn: sqlite3.Connection, parent_segment_id: int, pairs: Iterable[Pair]
) -> set[int]:
    """The batch segments any of ``pairs`` was imported into."""
    rows = _rows(
        conn,
        "SELECT segment_id FROM segment_members "
        "WHERE parent_segment_id = ? AND key = ? AND value = ?",
        "SELECT DISTINCT t.segment_id " + _BY_PAIRS.format(table="segment_members"),
        parent_segment_id,
        pairs,
    )
    return {int(row[0]) for row in rows}


def batch_first_seen(
    conn: sqlite3.Connection, parent_segment_id: int, key: str, value: str
) -> float | None:
    """When a key value was first imported (attributes or membership); None if never."""
    rows = query_all(
        conn,
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
    # so fewer pages to write, log and checkpoint; json.loads reads either form.
    return json.dumps(state.to_json(), separators=(",", ":"))


def create(
    conn: sqlite3.Connection,
    parent_segment_id: int,
    canonical_id: str | None,
    state: ProfileState,
    now: float,
) -> int:
    cursor = conn.execute(
        "INSERT INTO profiles (parent_segment_id, canonical_id, cluster_size, state, update_time) "
        "VALUES (?, ?, 1, ?, ?)",
        (parent_segment_id, canonical_id, _state_json(state), now),
    )
    return int(cursor.lastrowid or 0)


def save(
    conn: sqlite3.Connection,
    profile_id: int,
    canonical_id: str | None,
    cluster_size: int,
    state: ProfileState,
    now: float,
) -> None:
    conn.execute(
        "UPDATE profiles SET canonical_id = ?, cluster_size = ?, state = ?, update_time = ? "
        "WHERE id = ?",
        (canonical_id, cluster_size, _state_json(state), now, profile_id),
    )


def absorb(conn: sqlite3.Connection, survivor: int, absorbed: Sequence[int]) -> None:
    """Moves the absorbed profiles' identities to the survivor and deletes them."""
    wanted = json.dumps(list(absorbed))
    conn.execute(
        "UPDATE identities SET profile_id = ? WHERE profile_id IN (SELECT value FROM json_each(?))",
        (survivor, wanted),
    )
    conn.execute("DELETE FROM profiles WHERE id IN (SELECT value FROM json_each(?))", (wanted,))


def attach(
    conn: sqlite3.Connection,
    parent_segment_id: int,
    profile_id: int,
    identities: Iterable[Identity],
) -> None:
    conn.executemany(
        "INSERT INTO identities (parent_segment_id, key, value, profile_id, first_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        [(parent_segment_id, i.key, i.value, profile_id, i.first_seen) for i in identities],
    )


def log_merge(
    conn: sqlite3.Connection,
    parent_segment_id: int,
    *,
    time: float,
    outcome: str,
    surviving: str,
    absorbed: Sequence[str],
    linking: Sequence[Identity],
    reason: str,
) -> None:
    conn.execute(
        "INSERT INTO merge_log (parent_segment_id, time, outcome, surviving_profile, "
        "absorbed_profiles, linking_values, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            parent_segment_id,
            time,
            outcome,
            surviving,
            json.dumps(list(absorbed)),
            json.dumps([list(i) for i in linking]),
            reason,
        ),
    )


def merge_log_page(
    conn: sqlite3.Connection, parent_segment_id: int, before: int, size: int
) -> list[sqlite3.Row]:
    """Up to ``size + 1`` entries, newest first, with ids below ``before`` (0: from the top)."""
    return query_all(
        conn,
        "SELECT * FROM merge_log WHERE parent_segment_id = ? AND (? = 0 OR id < ?) "
        "ORDER BY id DESC LIMIT ?",
        parent_segment_id,
        before,
        before,
        size + 1,
    )


def count_skipped(conn: sqlite3.Connection, parent_segment_id: int, attribute: str) -> int:
    """Counts one value not written for being over 500 bytes; returns the running count."""
    return _count(conn, "skipped_values", "attribute", parent_segment_id, attribute)


def count_unproven(conn: sqlite3.Connection, parent_segment_id: int, key: str) -> int:
    """Counts one verified identifier left out for want of a valid proof; the running count."""
    return _count(conn, "unproven_identifiers", "key", parent_segment_id, key)


def _count(conn: sqlite3.Connection, table: str, column: str, segment: int, name: str) -> int:
    # ``table`` and ``column`` are the two constants above, never input.
    row = query_one(
        conn,
        f"INSERT INTO {table} (parent_segment_id, {column}, count) VALUES (?, ?, 1) "
        f"ON CONFLICT (parent_segment_id, {column}) DO UPDATE SET count = count + 1 "
        "RETURNING count",
        segment,
        name,
    )
    return int(row[0]) if row else 0


def store_events(
    conn: sqlite3.Connection,
    account_id: str,
    database: str,
    table: str,
    now: float,
    stored: Sequence[tuple[events.Event, str]],
) -> None:
    """Appends events (decoded, JSON body) to ``database.table`` at server time ``now``."""
    conn.executemany(
        "INSERT INTO events (account_id, database, table_name, time, client_time, body) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(account_id, database, table, now, events.client_time(e), body) for e, body in stored],
    )
