"""A parent segment's real-time configuration, compiled once per version for the data path.

Every event needs the segment's event definitions (with compiled filter regexes), stitching
keys and attribute specs. Reading and compiling them per event would dominate the cost of
an event, so ``ConfigCache`` keeps the compiled form per parent segment and re-reads it only
when the segment's ``config_version`` moved. The version is read inside the caller's
transaction, so an event is always handled with the configuration committed at that moment:
with several replicas on PostgreSQL a change made through one is seen by the next
transaction of every other, with no notification to miss (a cache entry is only ever used
for the version that transaction read).

The reads are coroutines over ``Sql`` (``realtime_store`` holds their SQL): on SQLite they
never suspend and run on the database thread inside a group-commit batch or a ``run_sync``
call; on PostgreSQL they run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from p13n.profile.v1 import internal_service_pb2 as api
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.convert import path_id
from services.common.errors import parent_segment_not_found
from services.common.regex import Matcher
from services.common.sql import Sql
from services.profile import attributes, patterns, realtime_store
from services.profile.stitching import StitchingKey


@dataclass(frozen=True)
class EventMatcher:
    """One event definition: its table and its filters, all of which must full-match."""

    name: str
    database: str
    table: str
    filters: tuple[tuple[str, Matcher], ...]  # on RE2: the values are visitors' (``patterns``)

    def matches(self, database: str, table: str, event: Mapping[str, object]) -> bool:
        if (database, table) != (self.database, self.table):
            return False
        for field, pattern in self.filters:
            text = filter_text(event.get(field))
            if text is None or not patterns.fullmatches(pattern, text):
                return False
        return True


@dataclass(frozen=True)
class Config:
    """What the data path needs of one parent segment at one ``version``."""

    parent_segment_id: int
    account_id: str
    version: int
    create_time: float
    primary_key: str
    events: tuple[EventMatcher, ...]
    keys: tuple[StitchingKey, ...]
    specs: tuple[attributes.AttributeSpec, ...]  # SINGLE, LIST and COUNTER, in config order
    triggers: Mapping[str, tuple[attributes.AttributeSpec, ...]]  # event name -> its specs
    imported: tuple[str, ...]  # names of the IMPORTED attributes, in config order
    summaries: Mapping[str, str]  # attribute name -> "Sensitive", "2/3 Sensitive", ...
    segments: Mapping[int, tuple[str, int]]  # segment id -> (name, Sensitivity)

    @property
    def tables(self) -> frozenset[tuple[str, str]]:
        return frozenset((e.database, e.table) for e in self.events)

    def matched(self, database: str, table: str, event: Mapping[str, object]) -> list[str]:
        return [e.name for e in self.events if e.matches(database, table, event)]

    def triggered(self, matched: list[str]) -> list[attributes.AttributeSpec]:
        """The attributes that the matched event definitions update, each once."""
        seen: dict[str, attributes.AttributeSpec] = {}
        for name in matched:
            for spec in self.triggers.get(name, ()):
                seen.setdefault(spec.name, spec)
        return list(seen.values())

    def key(self, name: str) -> StitchingKey | None:
        return next((key for key in self.keys if key.name == name), None)


def filter_text(raw: object) -> str | None:
    """The string value a filter regex is matched against; None never matches.

    Strings as they are, numbers as JSON writes them (``42``, ``1.5``), booleans as
    ``true``/``false``. A missing field, null, an array or an object matches no filter.
    """
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | str):
        value = attributes.scalar(raw)
        return None if value is None else value if isinstance(value, str) else str(value)
    return None


def compile_config(config: api.RealtimeConfig, create_time: float) -> Config:
    specs: list[attributes.AttributeSpec] = []
    triggers: dict[str, list[attributes.AttributeSpec]] = {}
    imported: list[str] = []
    for attribute in config.attributes:
        spec = _spec(attribute)
        if isinstance(spec, attributes.ImportedSpec):
            imported.append(spec.name)
            continue
        specs.append(spec)
        triggers.setdefault(attribute.event, []).append(spec)
    where = f"parent segment {config.parent_segment_id}, "
    return Config(
        parent_segment_id=int(config.parent_segment_id),
        account_id=config.account_id,
        version=config.version,
        create_time=create_time,
        primary_key=config.primary_key,
        events=tuple(
            EventMatcher(
                e.name,
                e.database,
                e.table,
                tuple(
                    (f.field, patterns.load(f.regex, f"{where}event definition {e.name!r}"))
                    for f in e.filters
                ),
            )
            for e in config.events
        ),
        keys=tuple(
            StitchingKey(
                k.name,
                k.regex or None,
                frozenset(k.exclusions),
                workflow_only=k.workflow_only,
                verified=k.verified,
            )
            for k in config.stitching_keys
        ),
        specs=tuple(specs),
        triggers={name: tuple(found) for name, found in triggers.items()},
        imported=tuple(imported),
        summaries={a.name: a.sensitivity_summary for a in config.attributes},
        segments={int(s.id): (s.name, s.sensitivity) for s in config.segments},
    )


def _spec(attribute: pb.Attribute) -> attributes.AttributeSpec:
    if attribute.type == pb.SINGLE:
        return attributes.SingleSpec(attribute.name, attribute.field)
    if attribute.type == pb.LIST:
        return attributes.ListSpec(
            attribute.name,
            tuple(attributes.Aggregation(a.name, a.field) for a in attribute.list.aggregations),
            attribute.list.max_items,
            attribute.list.expire_days,
        )
    if attribute.type == pb.COUNTER:
        return attributes.CounterSpec(
            attribute.name, attribute.counter.window, attribute.counter.sum_field or None
        )
    return attributes.ImportedSpec(attribute.name)


class ConfigChanged(Exception):
    """A write's configuration changed before it committed: it runs again with the new one.

    Raised on PostgreSQL only (``still_current``, or a Track's write that found it
    changed), and retried there like a conflict with another replica's write
    (``postgres_profile``)."""


class ConfigCache:
    """Compiled configurations by parent segment, valid while their version is unchanged."""

    def __init__(self) -> None:
        self._configs: dict[int, Config] = {}
        self._tables: tuple[int, realtime_store.TableIndex] = (-1, {})
        self.loads = 0  # how often a configuration was read and compiled (tests watch it)

    async def get(self, sql: Sql, parent_segment_id: str) -> Config:
        """The segment's current configuration; NotFound when there is no such segment."""
        segment_id = path_id(parent_segment_id)
        version = await realtime_store.config_version(sql, segment_id)
        while True:
            if version is None:
                raise parent_segment_not_found(parent_segment_id)
            cached = self._configs.get(segment_id)
            # Ids of deleted segments can be reused; the creation time tells the two apart.
            if cached and (cached.version, cached.create_time) == version:
                return cached
            loaded = await realtime_store.load_realtime_config(sql, str(segment_id))
            self.loads += 1
            # On PostgreSQL (READ COMMITTED) each statement reads what is committed when it
            # starts, so a change committed while the rows were read would mix two versions:
            # the version read again tells (unchanged: the rows are one version), and a
            # moved one is loaded again. On SQLite the writer is alone: never moved.
            again = await realtime_store.config_version(sql, segment_id)
            if again == version:
                config = compile_config(loaded, version[1])
                self._configs[segment_id] = config
                return config
            version = again

    def cached(self, parent_segment_id: str) -> Config | None:
        """The configuration last loaded for the segment, unchecked: a write that uses it
        must compare its version with the one its transaction reads (``tracking``)."""
        return self._configs.get(path_id(parent_segment_id))

    async def segments_with_table(
        self, sql: Sql, account_id: str, database: str, table: str
    ) -> tuple[int, tuple[int, ...]]:
        """The account's parent segments that have ``database.table`` as an event table,
        after the configuration ``generation`` they were read at: (generation, segments)."""
        generation = await realtime_store.generation(sql)
        if self._tables[0] != generation:
            self._tables = (generation, await realtime_store.table_index(sql))
        return generation, self._tables[1].get((account_id, database, table), ())


async def still_current(sql: Sql, config: Config) -> None:
    """Raises ``ConfigChanged`` if ``config`` is no longer the segment's committed one
    (PostgreSQL, as a write's last statement: see ``tracking``; a Track checks it in the
    statement that writes, ``profiles.write_tracked``). SQLite's writer is alone and takes
    turns with configuration writers: nothing to check."""
    if sql.dialect != "postgresql":
        return
    now = await realtime_store.config_version(sql, config.parent_segment_id)
    if now != (config.version, config.create_time):
        raise ConfigChanged(f"parent segment {config.parent_segment_id}")
