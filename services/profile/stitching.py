"""ID stitching: which event values identify a visitor, and what an event linking profiles does.

Only the decision lives here. The storage layer looks up the profiles owning an event's
identities, asks ``plan_stitch`` what to do, and carries the decision out in one
transaction: it moves identities, merges attribute states (``attributes.merge_states``)
and writes the merge log from the decision's fields. A pure decision makes every merge,
and every refusal, explainable and testable without a database.

Rules:

- An identity is a stitching key's value in the event: a non-blank string, or a number
  written as JSON writes it once integral floats are ints (``12345.0`` gives ``"12345"``,
  ``1.5`` gives ``"1.5"``). Booleans, null, arrays and objects are not identities, nor are
  strings with unpaired surrogates or values over 500 bytes of UTF-8 (they would be
  stored and indexed). It must full-match the key's regex when set and not be one of its
  exclusions; both are checked on that string. ``workflow_only`` keys are ignored on the
  real-time path.
- Survivor: the profile holding the oldest primary-key value (first seen; ties: the lesser
  value, then the lesser profile id); when no profile involved holds one, the profile
  holding the oldest identity (ties: key, value, profile id). Canonical id: the oldest
  primary-key value of the resulting cluster.
- Protection: a merge is refused when the profiles involved, counted with every profile
  they already absorbed, are more than 50, or when a decision would give the survivor more
  than 100 values of one key (attaching new values to one profile included). A refused
  event goes to the profile of its primary-key value (a new profile when that value is
  new); without a primary-key value, to the would-be survivor. It gains no identity but
  that primary-key value when it is new.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NamedTuple

from services.common.regex import Matcher
from services.profile import patterns
from services.profile.attributes import scalar

MAX_PROFILES_PER_MERGE = 50
MAX_VALUES_PER_KEY = 100
MAX_IDENTITY_BYTES = 500


@dataclass(frozen=True)
class StitchingKey:
    """An event field whose values identify a visitor."""

    name: str
    regex: str | None = None
    exclusions: frozenset[str] = frozenset()
    workflow_only: bool = False
    verified: bool = False
    """On the public path, a value counts only with a valid proof (``services.profile.proofs``)."""
    _matcher: Matcher | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Name can't be blank")
        if self.regex is not None:
            try:
                patterns.check_syntax(self.regex)
            except patterns.InvalidPattern as exc:
                raise ValueError(f"Regex is invalid: {exc}") from exc
            # On RE2 (see ``patterns``): the value is a visitor's and this runs in the writer.
            matcher = patterns.load(self.regex, f"stitching key {self.name!r}")
            object.__setattr__(self, "_matcher", matcher)

    def accepts(self, value: str) -> bool:
        if value in self.exclusions:
            return False
        return self._matcher is None or patterns.fullmatches(self._matcher, value)


class Identity(NamedTuple):
    key: str
    value: str
    first_seen: float


@dataclass(frozen=True)
class ProfileIdentities:
    """A stored profile as stitching sees it."""

    id: str
    identities: tuple[Identity, ...]
    cluster_size: int = 1
    """How many profiles this one stands for: itself and every profile it absorbed."""


class Outcome(StrEnum):
    NO_MERGE = "no_merge"
    MERGE = "merge"
    REFUSED = "refused"


@dataclass(frozen=True)
class StitchDecision:
    """What to do with an event's identities; MERGE and REFUSED go to the merge log."""

    outcome: Outcome
    time: float
    target: str | None
    """The profile the event updates; None: create one holding ``attach``."""
    survivor: str | None
    """The profile that survives the merge (REFUSED: would have survived)."""
    absorbed: tuple[str, ...]
    """Profiles folded into the survivor (REFUSED: would have been), most senior first."""
    attach: tuple[Identity, ...]
    """Identities the target gains, first seen at ``time``."""
    canonical_id: str | None
    """The target's oldest primary-key value afterwards."""
    cluster_size: int
    """The target's cluster size afterwards."""
    linking: tuple[tuple[str, str], ...]
    """The event's identities, as (key, value), sorted."""
    reason: str


def identity_value(raw: object) -> str | None:
    """An event value as an identity string, or None when it cannot identify anyone."""
    value = scalar(raw)
    if value is None or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    if not text.strip() or len(text.encode("utf-8")) > MAX_IDENTITY_BYTES:
        return None
    return text


def usable_identities(
    event: Mapping[str, object], keys: Iterable[StitchingKey], realtime: bool = True
) -> list[tuple[str, str]]:
    """The event's (key name, value) identities, in the order of ``keys``."""
    found = []
    for key in keys:
        if realtime and key.workflow_only:
            continue
        value = identity_value(event.get(key.name))
        if value is not None and key.accepts(value):
            found.append((key.name, value))
    return found


def no_identifier_message(keys: Iterable[StitchingKey], realtime: bool = True) -> str:
    """The message refusing an event without any usable identity."""
    names = [key.name for key in keys if not (realtime and key.workflow_only)]
    return f"event has no identifier: expected one of {', '.join(names)}"


def plan_stitch(
    identities: Iterable[tuple[str, str]],
    owners: Sequence[ProfileIdentities],
    primary_key: str,
    now: float,
) -> StitchDecision:
    """Decide where an event with these identities goes, at server time ``now``.

    ``owners`` are exactly the profiles owning at least one of the identities. The decision
    does not depend on the order of either argument.
    """
    wanted = set(identities)
    if not wanted:
        raise ValueError("event has no identifier")
    for profile in owners:
        if wanted.isdisjoint(_pairs(profile)):
            raise ValueError(f"profile {profile.id} owns none of the event's identities")
    owned = {pair for profile in owners for pair in _pairs(profile)}
    new = tuple(sorted(Identity(key, value, now) for key, value in wanted - owned))
    linking = tuple(sorted(wanted))
    ranked = sorted(owners, key=lambda profile: _seniority(profile, primary_key))
    if not ranked:
        return StitchDecision(
            outcome=Outcome.NO_MERGE,
            time=now,
            target=None,
            survivor=None,
            absorbed=(),
            attach=new,
            canonical_id=_canonical(new, primary_key),
            cluster_size=1,
            linking=linking,
            reason="",
        )

    survivor, absorbed = ranked[0], tuple(profile.id for profile in ranked[1:])
    cluster = [*(i for profile in ranked for i in profile.identities), *new]
    size = sum(profile.cluster_size for profile in ranked)
    decision = StitchDecision(
        outcome=Outcome.MERGE if absorbed else Outcome.NO_MERGE,
        time=now,
        target=survivor.id,
        survivor=survivor.id,
        absorbed=absorbed,
        attach=new,
        canonical_id=_canonical(cluster, primary_key),
        cluster_size=size,
        linking=linking,
        reason=f"the event's identities belong to {len(ranked)} profiles" if absorbed else "",
    )
    refusal = _refusal(survivor, cluster, size, merging=bool(absorbed))
    if refusal is None:
        return decision

    # The primary-key value, the most stable identity, alone decides where a refused event goes.
    primary = next((value for key, value in linking if key == primary_key), None)
    if primary is not None and (primary_key, primary) not in owned:
        return replace(
            decision,
            outcome=Outcome.REFUSED,
            target=None,
            attach=(Identity(primary_key, primary, now),),
            canonical_id=primary,
            cluster_size=1,
            reason=refusal,
        )
    target = next((p for p in ranked if (primary_key, primary) in _pairs(p)), survivor)
    return replace(
        decision,
        outcome=Outcome.REFUSED,
        target=target.id,
        attach=(),
        canonical_id=_canonical(target.identities, primary_key),
        cluster_size=target.cluster_size,
        reason=refusal,
    )


def imported_values(
    identities: Iterable[Identity],
    records: Mapping[tuple[str, str], Mapping[str, object]],
    primary_key: str,
) -> dict[str, object]:
    """A profile's imported attributes from the records of every identity in its cluster.

    ``records`` maps (key, value) to that value's imported attributes. On a conflict the
    primary key wins; within a rank the oldest identity wins (then key, then value). A null
    imported value counts as no value.
    """
    ranked = sorted(identities, key=lambda i: (i.key != primary_key, i.first_seen, i.key, i.value))
    values: dict[str, object] = {}
    for identity in ranked:
        for name, value in records.get((identity.key, identity.value), {}).items():
            if value is not None:
                values.setdefault(name, value)
    return values


def _seniority(
    profile: ProfileIdentities, primary_key: str
) -> tuple[bool, tuple[float, str, str], str]:
    primaries = [i for i in profile.identities if i.key == primary_key]
    return (not primaries, min(map(_age, primaries or profile.identities)), profile.id)


def _canonical(identities: Iterable[Identity], primary_key: str) -> str | None:
    primaries = [i for i in identities if i.key == primary_key]
    return min(primaries, key=_age).value if primaries else None


def _pairs(profile: ProfileIdentities) -> set[tuple[str, str]]:
    return {(i.key, i.value) for i in profile.identities}


def _age(identity: Identity) -> tuple[float, str, str]:
    return (identity.first_seen, identity.key, identity.value)


def _refusal(
    survivor: ProfileIdentities, cluster: Sequence[Identity], size: int, merging: bool
) -> str | None:
    if merging and size > MAX_PROFILES_PER_MERGE:
        return f"merge would put {size} profiles into one (limit {MAX_PROFILES_PER_MERGE})"
    before = Counter(i.key for i in survivor.identities)
    for key, count in sorted(Counter(i.key for i in cluster).items()):
        if count > MAX_VALUES_PER_KEY and count > before[key]:
            return (
                f"stitching would put {count} values of key {key!r} into one profile"
                f" (limit {MAX_VALUES_PER_KEY})"
            )
    return None
