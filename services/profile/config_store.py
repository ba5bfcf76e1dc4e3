"""What the configuration handlers need of a store: the seam a second backend plugs into.

``ConfigServicer`` is typed against these Protocols only; ``sql_config`` implements them
once over ``Sql`` (``SqliteConfigStore``, ``PostgresConfigStore``). The handlers validate
between reads and writes of one transaction (a name must be unique among the segment's
others, an event definition in use cannot go), so the store hands out a reader or a writer
scoped to one transaction rather than one call per statement.

What any implementation must guarantee:

- ``writing()`` is one exclusive transaction (configuration writers take turns: SQLite's
  ``BEGIN IMMEDIATE``, PostgreSQL's lock on the ``generation`` row, ``sql_config``), so it
  behaves as if serializable: everything written in the block commits together when it
  ends, and nothing of it is visible or kept if the block raises (a request refused
  halfway leaves nothing half-written). Reads through the writer see the writes made
  before them in the same block.
- A commit is durable before ``writing()`` returns (SQLite: WAL with ``synchronous=FULL``;
  PostgreSQL: ``synchronous_commit=on``): a configuration the API confirmed survives a crash.
- ``reading()`` sees only committed data, never another request's open transaction.
- Every write to a parent segment's configuration (its children, its name) makes the data
  path notice: the store bumps the segment's ``config_version`` and the global ``generation``
  in the same transaction (``sql_config.config_changed``), which ``realtime.ConfigCache`` reads
  in each write's own transaction (so every replica notices from its next write on).
- Ids are never reused: a deleted parent segment's id is never given out again.
- Names that held withheld values are never forgotten: every attribute and stitching key
  a writer inserts, updates or deletes has its ``sensitivity.withheld_names`` (a SENSITIVE
  or UNSPECIFIED attribute's or aggregation's name, a verified key's name) remembered in
  the same transaction, for as long as the parent segment exists, and ``withheld_names``
  reads them back. Values are stored by these names and outlive the attribute or key, so
  the handlers treat showing a remembered name again as a lowering.
- Not found is ``NotFound`` in the API's words, built by ``parent_segment_not_found`` and
  ``Kind.not_found``, so no backend spells a message of its own.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from p13n.profile.v1 import parent_segment_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import audit
from services.common.errors import NotFound
from services.profile.sensitivity import WithheldName

# A child of a parent segment; each has an ``id`` and a ``name``.
M = TypeVar("M", pb.EventDefinition, pb.Attribute, pb.StitchingKey, pb.Segment)
ParentSegment = parent_segment_pb2.ParentSegment


@dataclass(frozen=True)
class Kind(Generic[M]):
    """A kind of configuration a parent segment owns (its children)."""

    collection: str  # where a store keeps them (the SQLite table)
    noun: str  # how messages name one: "Event definition 7 not found ..."
    message: type[M]

    @property
    def resource_type(self) -> str:
        """How the audit log names the kind: ``attribute``, ``event_definition``..."""
        return self.collection.removesuffix("s")

    def not_found(self, child_id: str, segment_id: int) -> NotFound:
        """One of these the segment does not have, in the API's words (every backend's)."""
        return NotFound(f"{self.noun} {child_id!r} not found in parent segment {segment_id}")


EVENTS = Kind("event_definitions", "Event definition", pb.EventDefinition)
ATTRIBUTES = Kind("attributes", "Attribute", pb.Attribute)
STITCHING_KEYS = Kind("stitching_keys", "Stitching key", pb.StitchingKey)
SEGMENTS = Kind("segments", "Segment", pb.Segment)


class ConfigReader(Protocol):
    """Reads within one transaction (or one consistent read)."""

    async def parent_segment(self, account_id: str, parent_segment_id: str) -> ParentSegment:
        """The account's parent segment; NotFound when the account has none by that id."""
        ...

    async def parent_segments(self, account_id: str, after: int, limit: int) -> list[ParentSegment]:
        """Up to ``limit`` of the account's parent segments with ids above ``after``, by id."""
        ...

    async def parent_segment_names(
        self, account_id: str, except_id: int | None = None
    ) -> list[str]:
        """The names of the account's parent segments, but the one ``except_id``."""
        ...

    async def child(self, kind: Kind[M], segment_id: int, child_id: str) -> M:
        """One child of the segment; NotFound when it has none by that id."""
        ...

    async def children(self, kind: Kind[M], segment_id: int, after: int, limit: int) -> list[M]:
        """Up to ``limit`` children with ids above ``after``, by id."""
        ...

    async def names(self, kind: Kind[M], segment_id: int, except_id: int = -1) -> list[str]:
        """The names of the segment's children of ``kind``, but the one ``except_id``."""
        ...

    async def event_names(self, segment_id: int) -> list[str]:
        """The names of the segment's event definitions (what attributes may refer to)."""
        ...

    async def attributes(self, segment_id: int) -> list[pb.Attribute]:
        """Every attribute of the segment."""
        ...

    async def withheld_names(self, kind: Kind[M], segment_id: int) -> frozenset[WithheldName]:
        """Every name under which the segment's children of ``kind`` (attributes, stitching
        keys; nothing for the others) have ever withheld values, deleted ones included."""
        ...


class ConfigWriter(ConfigReader, Protocol):
    """Reads and writes of one transaction; what it returns is read back after the write."""

    async def create_parent_segment(
        self, account_id: str, name: str, description: str, primary_key: str, now: float
    ) -> ParentSegment:
        """A new parent segment with a never-used id, and its primary key as a stitching key."""
        ...

    async def update_parent_segment(
        self, account_id: str, segment_id: int, name: str, description: str
    ) -> ParentSegment: ...

    async def delete_parent_segment(self, segment_id: int) -> None:
        """Deletes it and everything it owns; its id is retired."""
        ...

    async def insert(self, kind: Kind[M], segment_id: int, child: M) -> M:
        """Stores ``child`` (its id is ignored) and returns it with the id it was given;
        remembers its withheld names."""
        ...

    async def update(self, kind: Kind[M], segment_id: int, child_id: int, child: M) -> M:
        """Replaces the stored child's fields with ``child``'s (its id is ignored);
        remembers its withheld names."""
        ...

    async def delete(self, kind: Kind[M], segment_id: int, child_id: int) -> None:
        """Deletes the child; its withheld names stay remembered."""
        ...

    async def record(self, entry: audit.Entry) -> None:
        """Stores the audit entry of a change made in this transaction (commits with it)."""
        ...


class ConfigStore(Protocol):
    """Parent segments and their real-time configuration."""

    def reading(self) -> AbstractAsyncContextManager[ConfigReader]:
        """A consistent read of committed data."""
        ...

    def writing(self) -> AbstractAsyncContextManager[ConfigWriter]:
        """One atomic, durable write transaction (see the module docstring)."""
        ...
