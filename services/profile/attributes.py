"""Real-time attributes: their specs, the state kept per profile, and its arithmetic.

Everything here is pure (no I/O; time is passed in as ``now``, epoch seconds) so that the
storage layer can load a profile's state, call these functions inside one transaction and
write the result back, and so that the rules are tested directly. List and counter
arithmetic live in ``lists`` and ``counters``, which also say why they work as they do.

The state is plain JSON (``ProfileState.to_json()``, version 1)::

    {"version": 1,
     "clock": 1767225600.25,  # latest server time applied to the profile
     "seq": 42,               # events applied (after a merge: the largest of the merged)
     "attributes": {
       "last_category": {"type": "single", "value": "women", "time": 1767225600.25, "seq": 42},
       "recent": {"type": "list", "aggregations": {"products": [[time, seq, pos, value]]}},
       "views_7d": {"type": "counter", "window": "7d", "sum_field": null,
                    "buckets": [[bucket_index, "exact decimal"]]}}}

Rules:

- Time: expiry and windows are evaluated at ``max(now, clock)``. Replicas with slightly
  different clocks may write one profile; a profile's time never running backwards keeps
  pruning on write consistent with reading.
- Values: a stored value is a string, a finite number or a boolean; null, objects and
  arrays (but for a list field's array) leave the attribute unchanged. Integral numbers are
  stored as ints, so they print as ``28700``. Strings with unpaired surrogates (reachable
  through ``\\ud800`` escapes) are not text and are ignored. A value whose JSON encoding is
  over 500 bytes of UTF-8 is not written; ``Applied.skipped`` names its attribute.
- SINGLE: the newest value by server time; at the same time, the later event.
- LIST: each aggregation is its own newest-first list of at most ``max_items`` values, each
  expiring ``expire_days`` after it was last added; a repeated value moves to the front.
  A field holding an array adds its scalar elements, the first one frontmost.
- COUNTER: each event counts 1; with ``sum_field``, a JSON number (not a boolean) adds its
  value, anything else leaves the counter unchanged.
- IMPORTED: not part of this state (see ``stitching.imported_values``).
- Configuration changes: a stored state of another type, or a counter of another window or
  ``sum_field``, is ignored and the attribute starts empty; a list honours a lowered
  ``max_items`` or a changed ``expire_days`` at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from services.profile import counters, lists

# Re-exported: callers meet these through attributes.
from services.profile.counters import CounterState as CounterState
from services.profile.counters import parse_window as parse_window
from services.profile.lists import Item as Item
from services.profile.lists import Scalar as Scalar

MAX_VALUE_BYTES = 500
MAX_LIST_ITEMS = 100
MAX_EXPIRE_DAYS = 60
STATE_VERSION = 1

AttributeValue = Scalar | dict[str, list[Scalar]]


@dataclass(frozen=True)
class SingleSpec:
    """The latest value of one event field."""

    name: str
    field: str

    def __post_init__(self) -> None:
        _require("Field", self.field)


class Aggregation(NamedTuple):
    """One list of a LIST attribute, fed by one event field."""

    name: str
    field: str


@dataclass(frozen=True)
class ListSpec:
    """Newest-first lists of recent values, one per aggregation."""

    name: str
    aggregations: tuple[Aggregation, ...]
    max_items: int = MAX_LIST_ITEMS
    expire_days: int = MAX_EXPIRE_DAYS

    def __post_init__(self) -> None:
        if not 1 <= self.max_items <= MAX_LIST_ITEMS:
            raise ValueError(
                f"Max items must be between 1 and {MAX_LIST_ITEMS} (got {self.max_items})"
            )
        if not 1 <= self.expire_days <= MAX_EXPIRE_DAYS:
            raise ValueError(
                f"Expire days must be between 1 and {MAX_EXPIRE_DAYS} (got {self.expire_days})"
            )
        if not self.aggregations:
            raise ValueError("Aggregations can't be empty")
        names = [aggregation.name for aggregation in self.aggregations]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"Aggregation name has already been taken: {', '.join(repeated)}")
        for aggregation in self.aggregations:
            _require("Aggregation name", aggregation.name)
            _require("Aggregation field", aggregation.field)


@dataclass(frozen=True)
class CounterSpec:
    """Counts matching events, or sums ``sum_field``, over ``window`` or in ``total``."""

    name: str
    window: str
    sum_field: str | None = None

    def __post_init__(self) -> None:
        parse_window(self.window)
        if self.sum_field is not None:
            _require("Sum field", self.sum_field)

    @property
    def window_seconds(self) -> int | None:
        return parse_window(self.window)


@dataclass(frozen=True)
class ImportedSpec:
    """Loaded by batch import; events never change it."""

    name: str


AttributeSpec = SingleSpec | ListSpec | CounterSpec | ImportedSpec


@dataclass(frozen=True)
class SingleState:
    value: Scalar
    time: float
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "single", "value": self.value, "time": self.time, "seq": self.seq}

    @classmethod
    def from_json(cls, data: Any) -> SingleState:
        return cls(_stored_scalar(data["value"]), float(data["time"]), int(data["seq"]))


@dataclass(frozen=True)
class ListState:
    aggregations: Mapping[str, tuple[Item, ...]]

    def to_json(self) -> dict[str, Any]:
        encoded = {
            name: [list(item) for item in items] for name, items in self.aggregations.items()
        }
        return {"type": "list", "aggregations": encoded}

    @classmethod
    def from_json(cls, data: Any) -> ListState:
        return cls(
            {
                name: tuple(
                    Item(float(t), int(s), int(p), _stored_scalar(v)) for t, s, p, v in items
                )
                for name, items in data["aggregations"].items()
            }
        )


AttributeState = SingleState | ListState | CounterState
_STATE_TYPES: dict[str, type[AttributeState]] = {
    "single": SingleState,
    "list": ListState,
    "counter": CounterState,
}


@dataclass(frozen=True)
class ProfileState:
    """The real-time attribute state of one profile (see the module docstring)."""

    clock: float = 0.0
    seq: int = 0
    attributes: Mapping[str, AttributeState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "clock": self.clock,
            "seq": self.seq,
            "attributes": {name: state.to_json() for name, state in self.attributes.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> ProfileState:
        """Read what ``to_json`` wrote; raises ValueError for anything else."""
        try:
            if data["version"] != STATE_VERSION:
                raise ValueError(f"unsupported version {data['version']!r}")
            attributes = {
                name: _STATE_TYPES[state["type"]].from_json(state)
                for name, state in data["attributes"].items()
            }
            return cls(float(data["clock"]), int(data["seq"]), attributes)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"Malformed profile state: {exc!r}") from exc


class Applied(NamedTuple):
    """The new state, and the attributes a value was not written to for being too big."""

    state: ProfileState
    skipped: tuple[str, ...]


def apply_event(
    state: ProfileState, specs: Iterable[AttributeSpec], event: Mapping[str, object], now: float
) -> Applied:
    """Apply an event received at server time ``now`` to the attributes it triggers.

    ``specs`` are the attributes whose event definition matched the event. Each attribute
    becomes the merge of its state with the state the event alone gives it, so applying an
    event follows exactly the rules of merging profiles.
    """
    seq, clock = state.seq + 1, max(state.clock, now)
    attributes = dict(state.attributes)
    skipped: list[str] = []
    for spec in specs:
        added, too_big = _event_state(spec, event, now, seq)
        if too_big:
            skipped.append(spec.name)
        if added is None:
            continue
        merged = _merge_attribute(spec, [attributes.get(spec.name), added], clock)
        assert merged is not None  # the event's own state takes part in the merge
        attributes[spec.name] = merged
    return Applied(ProfileState(clock, seq, attributes), tuple(skipped))


def current_values(
    state: ProfileState, specs: Iterable[AttributeSpec], now: float
) -> dict[str, AttributeValue]:
    """The attributes' values at ``now``, as plain JSON values.

    SINGLE: the scalar, absent when never set. LIST: ``{aggregation: [newest, ...]}`` with
    every aggregation present. COUNTER: a number, 0 when nothing counted. IMPORTED: absent.
    """
    clock = max(state.clock, now)
    values: dict[str, AttributeValue] = {}
    for spec in specs:
        stored = state.attributes.get(spec.name)
        if isinstance(spec, SingleSpec):
            if single := _single(stored):
                values[spec.name] = single.value
        elif isinstance(spec, ListSpec):
            found = _list(stored)
            values[spec.name] = {
                aggregation.name: _live_values(spec, found, aggregation.name, clock)
                for aggregation in spec.aggregations
            }
        elif isinstance(spec, CounterSpec):
            counter = _counter(spec, stored)
            buckets = counter.buckets if counter else {}
            values[spec.name] = counters.value(buckets, spec.window_seconds, clock)
    return values


def merge_states(states: Sequence[ProfileState], specs: Iterable[AttributeSpec]) -> ProfileState:
    """The state of profiles stitched into one; the same for any order or grouping of states.

    SINGLE: the newest value (ties: the higher seq, then the greater JSON text). LIST: the
    union, newest first, de-duplicated and re-capped. COUNTER: buckets summed. Attributes not
    in ``specs`` are dropped.
    """
    clock = max((state.clock for state in states), default=0.0)
    attributes: dict[str, AttributeState] = {}
    for spec in specs:
        stored = [state.attributes.get(spec.name) for state in states]
        if (merged := _merge_attribute(spec, stored, clock)) is not None:
            attributes[spec.name] = merged
    return ProfileState(clock, max((state.seq for state in states), default=0), attributes)


def scalar(raw: object) -> Scalar | None:
    """The storable form of a JSON value; None for null, objects, arrays and non-text."""
    if isinstance(raw, bool | int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        return int(raw) if raw.is_integer() else raw
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return raw
    return None


def _event_state(
    spec: AttributeSpec, event: Mapping[str, object], now: float, seq: int
) -> tuple[AttributeState | None, bool]:
    """The state the event alone gives the attribute, and whether a value was too big."""
    if isinstance(spec, SingleSpec):
        value = scalar(event.get(spec.field))
        if value is None:
            return None, False
        if _too_big(value):
            return None, True
        return SingleState(value, now, seq), False
    if isinstance(spec, ListSpec):
        added: dict[str, tuple[Item, ...]] = {}
        too_big = False
        for aggregation in spec.aggregations:
            values = _fan_out(event.get(aggregation.field))
            fitting = [value for value in values if not _too_big(value)]
            too_big = too_big or len(fitting) < len(values)
            added[aggregation.name] = tuple(
                Item(now, seq, pos, value) for pos, value in enumerate(fitting)
            )
        return ListState(added), too_big  # even when empty: every triggering event prunes
    if isinstance(spec, CounterSpec):
        if spec.sum_field is None:
            amount: Decimal | None = Decimal(1)
        else:
            amount = counters.amount_of(event.get(spec.sum_field))
        if amount is None:
            return None, False
        bucket = counters.bucket_of(now, spec.window_seconds)
        return CounterState(spec.window, spec.sum_field, {bucket: amount}), False
    return None, False


def _merge_attribute(
    spec: AttributeSpec, stored: Sequence[AttributeState | None], clock: float
) -> AttributeState | None:
    """Merge one attribute's states, ignoring those another configuration wrote."""
    if isinstance(spec, SingleSpec):
        return max(
            (single for single in map(_single, stored) if single),
            key=lambda single: (single.time, single.seq, json.dumps(single.value)),
            default=None,
        )
    if isinstance(spec, ListSpec):
        found = [found for found in map(_list, stored) if found]
        if not found:
            return None
        return ListState(
            {
                aggregation.name: lists.merge(
                    (state.aggregations.get(aggregation.name, ()) for state in found),
                    spec.max_items,
                    spec.expire_days,
                    clock,
                )
                for aggregation in spec.aggregations
            }
        )
    if isinstance(spec, CounterSpec):
        tallies = [counter.buckets for counter in (_counter(spec, s) for s in stored) if counter]
        if not tallies:
            return None
        buckets = counters.merge(tallies, spec.window_seconds, clock)
        return CounterState(spec.window, spec.sum_field, buckets)
    return None


def _live_values(
    spec: ListSpec, found: ListState | None, aggregation: str, clock: float
) -> list[Scalar]:
    items = found.aggregations.get(aggregation, ()) if found else ()
    return [item.value for item in lists.live(items, spec.max_items, spec.expire_days, clock)]


def _fan_out(raw: object) -> list[Scalar]:
    elements = raw if isinstance(raw, list) else [raw]
    return [value for value in map(scalar, elements) if value is not None]


def _too_big(value: Scalar) -> bool:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_VALUE_BYTES


def _single(stored: AttributeState | None) -> SingleState | None:
    return stored if isinstance(stored, SingleState) else None


def _list(stored: AttributeState | None) -> ListState | None:
    return stored if isinstance(stored, ListState) else None


def _counter(spec: CounterSpec, stored: AttributeState | None) -> CounterState | None:
    if not isinstance(stored, CounterState):
        return None
    return stored if (stored.window, stored.sum_field) == (spec.window, spec.sum_field) else None


def _require(what: str, value: str) -> None:
    if not value:
        raise ValueError(f"{what} can't be blank")


def _stored_scalar(raw: object) -> Scalar:
    value = scalar(raw)
    if value is None:
        raise ValueError(f"not a storable value: {raw!r}")
    return value
