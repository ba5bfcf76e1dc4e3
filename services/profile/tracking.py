"""The Track transaction: store an event, stitch its profile, update attributes, answer.

``plan`` only reads: it resolves the profiles that own the event's identities, asks
``stitching.plan_stitch`` what to do, merges and applies the event to attribute states in
memory, and computes the answer. ``carry_out`` then writes exactly what the plan says. A
dry run (preview) is ``plan`` alone, so it gives the same answer and provably writes
nothing. Both run inside one transaction of the group-commit writer, after the units queued
before them, so a plan always starts from every committed (or earlier-in-batch) write and
concurrent events for one visitor cannot lose an update. On PostgreSQL, where the events of
several replicas run at once, a plan that will be carried out locks the profiles it read
first (``profiles.locked_owners``; a Track, ``profiles.lock_for_write``), with the same
effect; or, for the usual Track (``track_unlocked``), writes in one statement that commits
only if the profile it read is unchanged, and runs locked when it is not.

Everything here is a coroutine over ``Sql``, written once for both backends. On SQLite it never
suspends and runs on the database thread: a whole Track (configuration, reads, stitching,
attribute arithmetic, writes) is one step of the group-commit batch, with no trip back to
the event loop between statements. On PostgreSQL it is the body of a READ COMMITTED
transaction (``postgres_profile``), which runs again when it meets a conflict: it does
nothing outside the transaction, and what it has to log it hands to ``after_commit``, for
the caller to log once the write committed (an attempt rolled back logs nothing).

Configuration on PostgreSQL: a write reads its parent segment's configuration before it
waits for its locks, and another replica may commit a change meanwhile (a key made
verified, an event definition added, the segment deleted). So once every lock is taken
and every row written, the write reads the version again (``still_current``; a Track
reads it in the statement that writes its rows, once every lock is taken): moved, it
raises ``realtime.ConfigChanged`` and runs again with the new configuration. A change
acknowledged before that last read is applied; one committed after it was not yet
visible to anything the write read, which may then come first.

Ingest applies each record exactly as Track does, to every parent segment of the account
that has the record's table as an event table; the records are all-or-nothing because they
form one unit of the writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from p13n.profile.v1 import internal_service_pb2 as api

from services.common import events
from services.common.errors import InvalidArgument, NotFound, parent_segment_not_found
from services.common.sql import Sql
from services.profile import attributes, profiles, proofs, realtime_store
from services.profile.realtime import Config, ConfigCache, ConfigChanged, still_current
from services.profile.stitching import (
    Identity,
    Outcome,
    StitchDecision,
    imported_values,
    no_identifier_message,
    plan_stitch,
    usable_identities,
)

log = logging.getLogger(__name__)

# What a write logs, run by its caller once the write committed (see the module docstring).
AfterCommit = list[Callable[[], None]]


@dataclass(frozen=True)
class Plan:
    """What an event does to one parent segment's profiles, decided but not yet written."""

    config: Config
    decision: StitchDecision
    involved: dict[str, profiles.StoredProfile]  # the profiles owning the event's identities
    state: attributes.ProfileState  # the target profile's state after the event
    identities: tuple[Identity, ...]  # the target profile's identities after the event
    skipped: tuple[str, ...]  # attributes whose value was over 500 bytes
    response: api.TrackResponse
    event: events.Event  # the event as applied and stored: without unproven identifiers
    unproven: tuple[tuple[str, proofs.Failure], ...] = ()  # verified keys left out, and why


@dataclass(frozen=True)
class BatchValues:
    """A cluster's imported values and batch segments (joined through its identities)."""

    imported: dict[str, object]
    segments: list[tuple[str, int]]  # (name, Sensitivity), by name


async def batch_values(
    sql: Sql,
    config: Config,
    identities: Sequence[Identity],
    locked: profiles.Locked | None = None,
) -> BatchValues:
    """``locked``: what ``profiles.lock_for_write`` already read (nothing to read then)."""
    pairs = [(i.key, i.value) for i in identities]
    # Only what the configuration shows is read: a segment without IMPORTED attributes or
    # batch segments (most) spares a statement or two per event.
    values: dict[str, object] = {}
    if config.imported:
        records = (
            await profiles.imported_records(sql, config.parent_segment_id, pairs)
            if locked is None
            else locked.imported
        )
        values = imported_values(identities, records, config.primary_key)
    segment_ids = set()
    if config.segments:
        segment_ids = (
            await profiles.segment_ids(sql, config.parent_segment_id, pairs)
            if locked is None
            else locked.segment_ids(pairs)
        )
    return BatchValues(
        imported={name: values[name] for name in config.imported if name in values},
        segments=sorted(config.segments[s] for s in segment_ids if s in config.segments),
    )


def require_identities(
    config: Config, event: events.Event, where: str = ""
) -> list[tuple[str, str]]:
    found = usable_identities(event, config.keys)
    if not found:
        message = no_identifier_message(config.keys)
        raise InvalidArgument(
            f"{where}: {message}" if where else message, reason="NO_IDENTIFIER", field=where
        )
    return found


async def plan(
    sql: Sql,
    config: Config,
    database: str,
    table: str,
    event: events.Event,
    now: float,
    proven: proofs.Proofs | None = None,
    writing: bool = False,
) -> Plan:
    """Decides what the event does; reads only.

    ``proven`` is given for a public-path event: a verified key's value without a valid
    proof is then left out of the event before anything uses it (``proofs.screen``).
    ``writing``: the plan will be carried out in this transaction, so the profiles it
    reads are locked until it ends (``profiles.locked_owners``).
    """
    check_table(config, database, table)
    event, unproven = screened(config, event, proven)
    found = require_identities(config, event)
    if writing:
        owners = await profiles.locked_owners(sql, config.parent_segment_id, found)
    else:
        owners = await profiles.owners(sql, config.parent_segment_id, found)
    return await decide(sql, config, database, table, event, now, found, owners, unproven)


def check_table(config: Config, database: str, table: str) -> None:
    if (database, table) not in config.tables:
        raise NotFound(
            f"Table {database}.{table} is not an event table of parent segment "
            f"{config.parent_segment_id}: create an event definition for it first",
            reason="UNKNOWN_EVENT_TABLE",
        )


def screened(
    config: Config, event: events.Event, proven: proofs.Proofs | None
) -> tuple[events.Event, tuple[tuple[str, proofs.Failure], ...]]:
    """The event without the verified values ``proven`` cannot prove, and those left out
    (``proofs.screen``; nothing is left out of a trusted caller's event)."""
    if proven is None:
        return event, ()
    return proofs.screen(config.keys, event, proven)


async def decide(
    sql: Sql,
    config: Config,
    database: str,
    table: str,
    event: events.Event,
    now: float,
    found: list[tuple[str, str]],
    owners: list[profiles.StoredProfile],
    unproven: tuple[tuple[str, proofs.Failure], ...],
    locked: profiles.Locked | None = None,
) -> Plan:
    """``plan`` once the event's identities (``found``) and their ``owners`` are known;
    ``locked``: what ``profiles.lock_for_write`` read besides (``batch_values``)."""
    decision = plan_stitch(found, [p.for_stitching() for p in owners], config.primary_key, now)
    involved = {str(p.id): p for p in owners}
    if decision.outcome is Outcome.MERGE:
        assert decision.survivor is not None
        merging = [involved[decision.survivor], *(involved[a] for a in decision.absorbed)]
        base = attributes.merge_states([p.state for p in merging], config.specs)
        identities = (*(i for p in merging for i in p.identities), *decision.attach)
    elif decision.target is not None:
        target = involved[decision.target]
        base, identities = target.state, (*target.identities, *decision.attach)
    else:
        base, identities = attributes.ProfileState(), decision.attach
    matched = config.matched(database, table, event)
    applied = attributes.apply_event(base, config.triggered(matched), event, now)
    batch = await batch_values(sql, config, identities, locked)
    values = attributes.current_values(applied.state, config.specs, now) | batch.imported
    response = api.TrackResponse(
        canonical_id=decision.canonical_id or "",
        # JSON text, read with one json.loads by offers (see TrackResponse.attributes_json).
        attributes_json=events.encode_value(values),
        segments=[name for name, _ in batch.segments],
        matched_events=matched,
        config_version=config.version,
    )
    return Plan(
        config,
        decision,
        involved,
        applied.state,
        identities,
        applied.skipped,
        response,
        event,
        unproven,
    )


async def carry_out(
    sql: Sql, plan: Plan, now: float, after_commit: AfterCommit | None = None
) -> None:
    """Writes what ``plan`` decided: profile, identities, merge log, skip counts.

    Its warnings go to ``after_commit`` when given (logged by the caller once the write
    committed), else are logged at once.
    """
    decision, segment = plan.decision, plan.config.parent_segment_id
    if decision.outcome is Outcome.MERGE:
        assert decision.survivor is not None
        await profiles.absorb(sql, int(decision.survivor), [int(a) for a in decision.absorbed])
    if decision.target is None:
        target = await profiles.create(sql, segment, decision.canonical_id, plan.state, now)
    else:
        target = int(decision.target)
        await profiles.save(
            sql, target, decision.canonical_id, decision.cluster_size, plan.state, now
        )
    await profiles.attach(sql, segment, target, decision.attach)
    await _log_and_count(sql, plan, after_commit)


async def _log_and_count(sql: Sql, plan: Plan, after_commit: AfterCommit | None) -> None:
    """The merge log's entry, and the counts of values left out, with their warnings."""
    decision, segment = plan.decision, plan.config.parent_segment_id
    if decision.outcome is not Outcome.NO_MERGE:
        await _log_merge(sql, plan)
    notes: AfterCommit = [] if after_commit is None else after_commit
    for name in plan.skipped:
        count = await profiles.count_skipped(sql, segment, name)
        notes.append(_skipped_note(segment, name, count))
    for key, failure in plan.unproven:
        count = await profiles.count_unproven(sql, segment, key)
        notes.append(_unproven_note(segment, key, failure, count))
    if after_commit is None:
        for note in notes:
            note()


def _skipped_note(segment: int, name: str, count: int) -> Callable[[], None]:
    # Name and size only: the value itself may be personal data.
    return lambda: log.warning(
        "parent segment %s attribute %s: a value over %s bytes was not written (%s so far)",
        segment,
        name,
        attributes.MAX_VALUE_BYTES,
        count,
    )


def _unproven_note(
    segment: int, key: str, failure: proofs.Failure, count: int
) -> Callable[[], None]:
    # The key's name only: the value is the identifier someone tried to claim.
    return lambda: log.warning(
        "parent segment %s: a value of verified stitching key %s came %s and was not "
        "used to identify the visitor (%s so far)",
        segment,
        key,
        failure.value,
        count,
    )


async def _log_merge(sql: Sql, plan: Plan) -> None:
    decision = plan.decision
    receiver = profiles.label(decision.canonical_id, plan.identities)
    if decision.outcome is Outcome.MERGE:
        others = list(decision.absorbed)
    else:  # refused: every profile the event linked, other than the one it went to
        linked = [decision.survivor, *decision.absorbed]
        others = [p for p in linked if p is not None and p != decision.target]
    known = {(i.key, i.value): i for i in plan.identities}
    for profile in plan.involved.values():
        known.update({(i.key, i.value): i for i in profile.identities})
    linking = [known.get(pair, Identity(*pair, decision.time)) for pair in decision.linking]
    await profiles.log_merge(
        sql,
        plan.config.parent_segment_id,
        time=decision.time,
        outcome=decision.outcome.value,
        surviving=receiver,
        absorbed=[plan.involved[p].label() for p in others],
        linking=linking,
        reason=decision.reason,
    )


async def config_of_account(
    configs: ConfigCache, sql: Sql, parent_segment_id: str, account_id: str
) -> Config:
    """The parent segment's configuration, if it belongs to the caller's account.

    A token names its parent segment by id; the account it was issued in must own that
    segment, or a token left over from a deleted segment could reach another account's.
    """
    config = await configs.get(sql, parent_segment_id)
    if account_id and config.account_id != account_id:
        raise parent_segment_not_found(parent_segment_id)
    return config


async def track(
    sql: Sql,
    configs: ConfigCache,
    parent_segment_id: str,
    database: str,
    table: str,
    event: tuple[events.Event, str],
    now: float,
    account_id: str = "",
    proven: proofs.Proofs | None = None,
    after_commit: AfterCommit | None = None,
) -> api.TrackResponse:
    """One Track call as a unit of the group-commit writer (SQLite) or as the body of a
    transaction (PostgreSQL, ``_track_postgres``)."""
    if sql.dialect == "postgresql":
        return await _track_postgres(
            sql,
            configs,
            parent_segment_id,
            database,
            table,
            event,
            now,
            account_id,
            proven,
            after_commit,
        )
    config = await config_of_account(configs, sql, parent_segment_id, account_id)
    decided = await plan(sql, config, database, table, event[0], now, proven, writing=True)
    if decided.unproven:  # stored as applied: an unproven claim is not kept for later use
        event = (decided.event, events.encode(decided.event))
    await profiles.store_events(sql, config.account_id, database, table, now, [event])
    await carry_out(sql, decided, now, after_commit)
    await still_current(sql, config)
    return decided.response


async def _track_postgres(
    sql: Sql,
    configs: ConfigCache,
    parent_segment_id: str,
    database: str,
    table: str,
    event: tuple[events.Event, str],
    now: float,
    account_id: str,
    proven: proofs.Proofs | None,
    after_commit: AfterCommit | None,
) -> api.TrackResponse:
    """``track`` in few round trips: one to lock and read (``profiles.lock_for_write``), one
    to write (``profiles.write_tracked``), besides the transaction's BEGIN and COMMIT.

    The configuration is the one cached for the segment, and the lock call reads the
    segment's version: when the two differ (or nothing is cached yet) the configuration is
    loaded and the locks taken again for its identifiers, before anything is decided or
    refused. The write's statement reads the version once more, under every lock, and
    writes nothing if it moved (``ConfigChanged``: the transaction runs again).
    """
    config = configs.cached(parent_segment_id) or await configs.get(sql, parent_segment_id)
    while True:
        applied, unproven = screened(config, event[0], proven)
        found = usable_identities(applied, config.keys)
        locked = await profiles.lock_for_write(
            sql,
            config.parent_segment_id,
            # Every identifier the event may carry (screening proofs only leaves some out).
            usable_identities(event[0], config.keys),
            found,
            imported=bool(config.imported),
            members=bool(config.segments),
        )
        if locked.version == (config.version, config.create_time):
            break
        config = await configs.get(sql, parent_segment_id)  # NotFound when it is gone
    where = (parent_segment_id, account_id, database, table)
    decided = await _decided(sql, config, where, applied, now, found, unproven, locked)
    if decided.unproven:  # stored as applied: an unproven claim is not kept for later use
        event = (decided.event, events.encode(decided.event))
    decision = decided.decision
    if decision.outcome is Outcome.MERGE:
        assert decision.survivor is not None
        await profiles.absorb(sql, int(decision.survivor), [int(a) for a in decision.absorbed])
    await _log_and_count(sql, decided, after_commit)
    # Every profile written is locked, so its revision is the one read: only the
    # configuration can have moved.
    if not await _write_tracked(sql, decided, where, event, now, locked.revisions):
        raise ConfigChanged(f"parent segment {config.parent_segment_id}")
    return decided.response


async def track_unlocked(
    sql: Sql,
    configs: ConfigCache,
    parent_segment_id: str,
    database: str,
    table: str,
    event: tuple[events.Event, str],
    now: float,
    account_id: str = "",
    proven: proofs.Proofs | None = None,
) -> api.TrackResponse | None:
    """A Track on PostgreSQL in two statements and no transaction, or None when it has to
    run as ``track`` (locked) instead.

    It reads what the write decides on without a lock (``profiles.read_for_write``),
    decides, and writes in one statement that commits only if neither the configuration nor
    the target profile's revision has moved since (``profiles.write_tracked``); a new
    identifier that another write inserted meanwhile fails it on the identities' primary
    key. So it never commits a decision made on what has changed, and it spares the usual
    event (a returning or new visitor, one profile) the transaction's BEGIN and COMMIT and
    the row locks, each a round trip or a write of the server's.

    None, having written nothing: no configuration cached yet, or the cached one is no
    longer the store's; an event that merges or is refused a merge (the merge log,
    ``absorb``), or leaves a value out (their counts); a write that found what it read
    changed. A conflict of the server (a unique or foreign key violation, a serialization
    failure) is raised, and the caller runs the Track locked then too.
    """
    config = configs.cached(parent_segment_id)
    if config is None:
        return None
    applied, unproven = screened(config, event[0], proven)
    if unproven:
        return None
    found = usable_identities(applied, config.keys)
    read = await profiles.read_for_write(
        sql,
        config.parent_segment_id,
        found,
        imported=bool(config.imported),
        members=bool(config.segments),
    )
    if read.version != (config.version, config.create_time):
        return None
    where = (parent_segment_id, account_id, database, table)
    decided = await _decided(sql, config, where, applied, now, found, unproven, read)
    if decided.decision.outcome is not Outcome.NO_MERGE or decided.skipped:
        return None
    if not await _write_tracked(sql, decided, where, event, now, read.revisions):
        return None
    return decided.response


async def _decided(
    sql: Sql,
    config: Config,
    where: tuple[str, str, str, str],
    event: events.Event,
    now: float,
    found: list[tuple[str, str]],
    unproven: tuple[tuple[str, proofs.Failure], ...],
    read: profiles.Locked,
) -> Plan:
    """A Track's checks and ``decide`` on PostgreSQL, once ``config`` is the one ``read``
    was read under; ``where``: the parent segment as the caller named it, the caller's
    account, the event's database and table."""
    parent_segment_id, account_id, database, table = where
    if account_id and config.account_id != account_id:
        raise parent_segment_not_found(parent_segment_id)
    check_table(config, database, table)
    require_identities(config, event)
    return await decide(
        sql, config, database, table, event, now, found, read.owners, unproven, read
    )


async def _write_tracked(
    sql: Sql,
    decided: Plan,
    where: tuple[str, str, str, str],
    event: tuple[events.Event, str],
    now: float,
    revisions: dict[int, int],
) -> bool:
    """``profiles.write_tracked`` of what ``decided`` says; whether it wrote."""
    decision, config = decided.decision, decided.config
    _, _, database, table = where
    target = None if decision.target is None else int(decision.target)
    return await profiles.write_tracked(
        sql,
        config.parent_segment_id,
        (config.version, config.create_time),
        config.account_id,
        database,
        table,
        event,
        None if target is None else (target, revisions[target]),
        (decision.canonical_id, decision.cluster_size, decided.state),
        decision.attach,
        now,
    )


async def ingest(
    sql: Sql,
    configs: ConfigCache,
    account_id: str,
    database: str,
    table: str,
    records: Sequence[tuple[events.Event, str]],
    now: float,
    proven: proofs.Proofs | None = None,
    after_commit: AfterCommit | None = None,
) -> int:
    """One IngestRecords call as a unit: every record or none.

    ``proven`` is given for a caller that is not trusted (a write-only API key): each
    parent segment screens a record's verified identifiers as Track does, and a value left
    out in any of them is not stored either.
    """
    generation, segment_ids = await configs.segments_with_table(sql, account_id, database, table)
    if not segment_ids:
        raise NotFound(
            f"Table {database}.{table} is not an event table of any parent segment of this "
            "account: create an event definition for it first",
            reason="UNKNOWN_EVENT_TABLE",
        )
    configs_used = [await configs.get(sql, str(s)) for s in segment_ids]
    # Validate every record before writing any, so the error names the first bad record.
    stored = [
        _screened_record(configs_used, record, proven, f"records[{index}]")
        for index, record in enumerate(records)
    ]
    await profiles.store_events(sql, account_id, database, table, now, stored)
    if sql.dialect == "postgresql":
        await _lock_all(sql, configs_used, records)
    for event, _ in records:
        for config in configs_used:
            decided = await plan(sql, config, database, table, event, now, proven, writing=True)
            await carry_out(sql, decided, now, after_commit)
    if sql.dialect == "postgresql" and await realtime_store.generation(sql) != generation:
        # Some configuration changed since the segments and their configurations were read
        # (maybe one that adds this table to another segment): run again with the new one.
        raise ConfigChanged(f"generation {generation}")
    return len(records)


async def _lock_all(
    sql: Sql, configs_used: Sequence[Config], records: Sequence[tuple[events.Event, str]]
) -> None:
    """Every lock an Ingest request needs, taken up front and in order (``profiles``):
    identifiers first, then the profiles that own them. (An event's ``locked_owners`` may
    still lock a profile later, when a concurrent merge moved one of its identifiers.)"""
    wanted = [
        {pair for event, _ in records for pair in usable_identities(event, config.keys)}
        for config in configs_used
    ]
    await profiles.lock_identities(
        sql,
        [
            (config.parent_segment_id, key, value)
            for config, pairs in zip(configs_used, wanted, strict=True)
            for key, value in pairs
        ],
    )
    for config, pairs in zip(configs_used, wanted, strict=True):
        await profiles.lock_owners(sql, config.parent_segment_id, sorted(pairs))


def _screened_record(
    configs_used: Sequence[Config],
    record: tuple[events.Event, str],
    proven: proofs.Proofs | None,
    where: str,
) -> tuple[events.Event, str]:
    """The record as stored, once every parent segment found a usable identifier in it."""
    event, kept = record[0], set(record[0])
    for config in configs_used:
        require_identities(config, event, where)
        if proven is None:
            continue
        applied, unproven = proofs.screen(config.keys, event, proven)
        if not usable_identities(applied, config.keys):
            names = ", ".join(name for name, _ in unproven)
            raise InvalidArgument(
                f"{where}: its only identifier is a value of verified stitching key {names}, "
                f"which this credential cannot prove; add an unverified identifier "
                f"({config.primary_key}) or send it with a master key",
                reason="NO_IDENTIFIER",
                field=where,
            )
        kept &= set(applied)
    if len(kept) == len(event):
        return record
    rest = {name: value for name, value in event.items() if name in kept}
    return rest, events.encode(rest)
