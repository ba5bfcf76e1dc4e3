"""What it takes to make a suite match a file: the plan, computed without any I/O.

Items are matched by name. A missing item is created; one whose canonical form differs
is updated with an ``update_mask`` of the fields that differ; with ``prune``, an item the
file does not have is deleted, and without it the item is kept and listed. A field the
API refuses to change (a service's type, an attribute's type, a parent segment's primary
key) is reported as refused instead, so the apply stops before its first write rather
than halfway.

Order: the parent segment first, then each kind's creates and updates in the document's
order (what is referred to by name exists before what refers to it, and references move
before their old targets go), then the deletes in the reverse order of kinds.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from services.declarative.document import Document
from services.declarative.kinds import KINDS, PARENT_SEGMENT, Kind, canonical


class Action(enum.Enum):
    CREATE = "+"
    UPDATE = "~"
    DELETE = "-"


@dataclass(frozen=True)
class Change:
    """One write: ``body`` is the POST body (create) or the new values of ``fields`` (an
    update, whose ``old`` holds the values it replaces); ``id`` is "" until it exists."""

    action: Action
    kind: Kind
    name: str
    id: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    old: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()

    def title(self) -> str:
        return f"{self.kind.label} {json.dumps(self.name, ensure_ascii=False)}"

    def lines(self) -> list[str]:
        """The change as a diff: ``+``/``-`` and the item, ``~`` with each value that
        differs old → new, named by its path inside the field (``sections[0].criteria.op``)."""
        head = f"{self.action.value} {self.title()}"
        if self.action is not Action.UPDATE:
            return [head]
        return [head] + [
            f"    {path}: {_shown(old)} → {_shown(new)}"
            for name in self.fields
            for path, old, new in _differences(name, self.old.get(name), self.body.get(name))
        ]


@dataclass(frozen=True)
class Current:
    """The suite's side: the parent segment as the API answers it, and its items by kind
    (the API's own objects, ids and output-only fields included)."""

    parent_segment: dict[str, Any]
    items: dict[str, list[dict[str, Any]]]

    def of(self, kind: Kind) -> list[dict[str, Any]]:
        return self.items.get(kind.key, [])


@dataclass(frozen=True)
class Plan:
    document: Document
    parent_segment_id: str  # "" when the plan creates it
    changes: tuple[Change, ...]
    kept: tuple[str, ...] = ()  # items not in the file, left alone (no --prune)
    refused: tuple[str, ...] = ()  # changes the API does not allow

    def lines(self) -> list[str]:
        """The whole plan as a person reads it: the changes as a diff, then ``notes``."""
        return [line for change in self.changes for line in change.lines()] + self.notes()

    def notes(self) -> list[str]:
        """What the plan leaves alone or refuses; ``no changes`` when there is nothing to do."""
        lines = [f"  {kept}: not in file (kept; --prune deletes)" for kept in self.kept]
        lines += self.refused
        if not self.changes and not self.refused:
            quoted = json.dumps(self.document.name, ensure_ascii=False)
            lines.append(f"no changes to parent segment {quoted}")
        return lines


def make_plan(document: Document, current: Current | None, *, prune: bool = False) -> Plan:
    """The plan that makes ``current`` (None: no such parent segment yet) match ``document``."""
    changes: list[Change] = []
    refused: list[str] = []
    if current is None:
        changes.append(
            Change(Action.CREATE, PARENT_SEGMENT, document.name, body=document.parent_segment())
        )
        # The server makes the primary key's stitching key with the parent segment.
        current = Current({}, {"stitching_keys": [{"name": document.primary_key}]})
        ps_id = ""
    else:
        ps_id = str(current.parent_segment.get("id", ""))
        _compare(
            PARENT_SEGMENT, document.parent_segment(), current.parent_segment, changes, refused
        )
    deletes: list[Change] = []
    kept: list[str] = []
    for kind in KINDS:
        wanted = {item["name"]: item for item in document.of(kind)}
        if kind.key == "stitching_keys":
            # The primary key's stitching key lives as long as its parent segment: a file
            # that leaves it out wants it as the server makes it, whatever was set on it.
            wanted.setdefault(document.primary_key, {"name": document.primary_key})
        existing = {str(item["name"]): item for item in current.of(kind)}
        for name, item in wanted.items():
            if name in existing:
                _compare(kind, item, existing[name], changes, refused)
            else:
                changes.append(Change(Action.CREATE, kind, name, body=item))
        for name, item in existing.items():
            if name in wanted:
                continue
            if prune:
                deletes.append(Change(Action.DELETE, kind, name, id=str(item.get("id", ""))))
            else:
                kept.append(Change(Action.DELETE, kind, name).title())
    deletes.sort(key=lambda change: -KINDS.index(change.kind))
    return Plan(document, ps_id, (*changes, *deletes), tuple(kept), tuple(refused))


def _compare(
    kind: Kind,
    wanted: dict[str, Any],
    existing: dict[str, Any],
    changes: list[Change],
    refused: list[str],
) -> None:
    """Appends the update (or the refusal) that makes ``existing`` what ``wanted`` says."""
    want, have = canonical(kind, wanted), canonical(kind, existing)
    differing = tuple(name for name in kind.fields if want.get(name) != have.get(name))
    if not differing:
        return
    name = str(wanted["name"])
    fixed = [field_name for field_name in differing if field_name in kind.immutable]
    if fixed:
        title = Change(Action.UPDATE, kind, name).title()
        refused.extend(
            f"cannot change {field_name} of {title}: delete and re-create it"
            for field_name in fixed
        )
        return
    new = {field_name: want[field_name] for field_name in differing if field_name in want}
    old = {field_name: have[field_name] for field_name in differing if field_name in have}
    item_id = str(existing.get("id", ""))
    changes.append(Change(Action.UPDATE, kind, name, item_id, new, old, differing))


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _differences(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """Where ``old`` and ``new`` differ, down to the values: a change to one criterion of
    one section is one line, not every section twice. A list of plain values (origins,
    trigger events) reads best whole, and so does one whose length changed (its items'
    indexes no longer pair up)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*new, *(key for key in old if key not in new)]
        return [
            d for key in keys for d in _differences(f"{path}.{key}", old.get(key), new.get(key))
        ]
    if _of_objects(old) and _of_objects(new) and len(old) == len(new):
        pairs = zip(old, new, strict=True)
        return [d for i, (o, n) in enumerate(pairs) for d in _differences(f"{path}[{i}]", o, n)]
    return [(path, old, new)]


def _of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)
