"""Identity rules, merge planning and protection, and imported values of a cluster."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.profile.stitching import (
    Identity,
    Outcome,
    ProfileIdentities,
    StitchDecision,
    StitchingKey,
    imported_values,
    no_identifier_message,
    plan_stitch,
    usable_identities,
)

NOW = 1_767_225_600.0
CLIENT = "td_client_id"  # the primary key throughout
USER = "user_id"


def profile(id: str, *identities: tuple[str, str, float], size: int = 1) -> ProfileIdentities:
    return ProfileIdentities(id, tuple(Identity(*i) for i in identities), size)


def many(key: str, count: int, first_seen: float = 0.0) -> list[tuple[str, str, float]]:
    return [(key, f"{key}-{n}", first_seen + n) for n in range(count)]


# Which values are identities


@pytest.mark.parametrize(
    ("value", "identity"),
    [
        pytest.param("a123", "a123", id="string"),
        pytest.param(" a123 ", " a123 ", id="string-kept-as-is"),
        pytest.param("", None, id="empty"),
        pytest.param("  \t", None, id="blank"),
        pytest.param(12345, "12345", id="int"),
        pytest.param(12345.0, "12345", id="integral-float"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(1e-7, "1e-07", id="float-as-json-writes-it"),
        pytest.param(0, "0", id="zero"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="null"),
        pytest.param(["a"], None, id="array"),
        pytest.param({"a": 1}, None, id="object"),
        pytest.param(math.nan, None, id="nan"),
        pytest.param("\udc80", None, id="unpaired-surrogate"),
        pytest.param("é" * 250, "é" * 250, id="500-bytes"),
        pytest.param("x" * 501, None, id="over-500-bytes"),
    ],
)
def test_identity_values(value: Any, identity: str | None) -> None:
    found = usable_identities({CLIENT: value}, [StitchingKey(CLIENT)])
    assert found == ([] if identity is None else [(CLIENT, identity)])


@pytest.mark.parametrize(
    ("key", "value", "usable"),
    [
        pytest.param(
            StitchingKey(CLIENT, regex=r"[0-9a-f-]{8,}"), "1986b2a4-3957", True, id="regex"
        ),
        pytest.param(StitchingKey(CLIENT, regex=r"[0-9a-f]+"), "abc-x", False, id="partial-match"),
        pytest.param(StitchingKey(CLIENT, regex=r"\d+"), 42, True, id="regex-on-number"),
        pytest.param(StitchingKey(CLIENT, exclusions=frozenset({"0"})), 0, False, id="excluded"),
        pytest.param(
            StitchingKey(CLIENT, exclusions=frozenset({"0"})), 0.0, False, id="excluded-as-written"
        ),
        pytest.param(
            StitchingKey(CLIENT, exclusions=frozenset({"test"})), "test2", True, id="other"
        ),
    ],
)
def test_regex_and_exclusions(key: StitchingKey, value: Any, usable: bool) -> None:
    assert bool(usable_identities({CLIENT: value}, [key])) is usable


def test_usable_identities_follow_key_order_and_skip_workflow_only_keys() -> None:
    keys = [StitchingKey(USER), StitchingKey("crm_id", workflow_only=True), StitchingKey(CLIENT)]
    event = {CLIENT: "c1", USER: "u1", "crm_id": "x9", "other": "o"}
    assert usable_identities(event, keys) == [(USER, "u1"), (CLIENT, "c1")]
    assert usable_identities(event, keys, realtime=False) == [
        (USER, "u1"),
        ("crm_id", "x9"),
        (CLIENT, "c1"),
    ]


def test_no_identifier_message() -> None:
    keys = [StitchingKey(CLIENT), StitchingKey("crm_id", workflow_only=True), StitchingKey(USER)]
    assert (
        no_identifier_message(keys)
        == "event has no identifier: expected one of td_client_id, user_id"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: StitchingKey(""), "Name can't be blank", id="blank-name"),
        pytest.param(
            lambda: StitchingKey(CLIENT, regex="(a"),
            "Regex is invalid: missing ), unterminated subpattern at position 0",
            id="bad-regex",
        ),
    ],
)
def test_stitching_key_refusals(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


# Planning


def test_unknown_visitor_gets_a_new_profile() -> None:
    decision = plan_stitch([(CLIENT, "c1"), (USER, "u1")], [], CLIENT, NOW)
    assert decision == StitchDecision(
        outcome=Outcome.NO_MERGE,
        time=NOW,
        target=None,
        survivor=None,
        absorbed=(),
        attach=(Identity(CLIENT, "c1", NOW), Identity(USER, "u1", NOW)),
        canonical_id="c1",
        cluster_size=1,
        linking=((CLIENT, "c1"), (USER, "u1")),
        reason="",
    )


def test_new_profile_without_primary_key_value_has_no_canonical_id() -> None:
    assert plan_stitch([(USER, "u1")], [], CLIENT, NOW).canonical_id is None


def test_known_visitor_gains_new_identities() -> None:
    known = profile("p1", (CLIENT, "c1", 10.0))
    decision = plan_stitch([(CLIENT, "c1"), (USER, "u1")], [known], CLIENT, NOW)
    assert (decision.outcome, decision.target, decision.absorbed) == (Outcome.NO_MERGE, "p1", ())
    assert decision.attach == (Identity(USER, "u1", NOW),)
    assert (decision.canonical_id, decision.cluster_size) == ("c1", 1)


def test_merge_keeps_the_profile_with_the_oldest_primary_key_value() -> None:
    older_user = profile("p1", (USER, "u1", 1.0), (CLIENT, "c9", 50.0), size=2)
    older_client = profile("p2", (CLIENT, "c1", 20.0))
    decision = plan_stitch(
        [(USER, "u1"), (CLIENT, "c1"), (CLIENT, "c5")], [older_user, older_client], CLIENT, NOW
    )
    assert decision == StitchDecision(
        outcome=Outcome.MERGE,
        time=NOW,
        target="p2",
        survivor="p2",
        absorbed=("p1",),
        attach=(Identity(CLIENT, "c5", NOW),),
        canonical_id="c1",
        cluster_size=3,
        linking=((CLIENT, "c1"), (CLIENT, "c5"), (USER, "u1")),
        reason="the event's identities belong to 2 profiles",
    )


def test_primary_key_value_beats_an_older_identity_of_another_key() -> None:
    only_user = profile("p1", (USER, "u1", 1.0))
    with_client = profile("p2", (CLIENT, "c1", 99.0))
    decision = plan_stitch([(USER, "u1"), (CLIENT, "c1")], [only_user, with_client], CLIENT, NOW)
    assert (decision.survivor, decision.absorbed) == ("p2", ("p1",))


def test_without_primary_key_values_the_oldest_identity_survives() -> None:
    a = profile("p1", (USER, "u1", 7.0))
    b = profile("p2", ("crm_id", "x", 3.0))
    decision = plan_stitch([(USER, "u1"), ("crm_id", "x")], [a, b], CLIENT, NOW)
    assert (decision.survivor, decision.canonical_id) == ("p2", None)


def test_equally_old_primary_key_values_tie_break_on_value() -> None:
    a = profile("a", (CLIENT, "c2", 5.0))
    b = profile("b", (CLIENT, "c1", 5.0))
    decision = plan_stitch([(CLIENT, "c2"), (CLIENT, "c1")], [a, b], CLIENT, NOW)
    assert (decision.survivor, decision.canonical_id) == ("b", "c1")


@pytest.mark.parametrize(
    ("sizes", "outcome"),
    [
        pytest.param((25, 25), Outcome.MERGE, id="50-profiles"),
        pytest.param((25, 26), Outcome.REFUSED, id="51-profiles"),
        pytest.param((1, 1, 49), Outcome.REFUSED, id="three-way"),
    ],
)
def test_merge_protection_counts_absorbed_profiles(
    sizes: tuple[int, ...], outcome: Outcome
) -> None:
    owners = [
        profile(f"p{n}", (USER, f"u{n}", float(n)), size=size) for n, size in enumerate(sizes)
    ]
    decision = plan_stitch([(USER, f"u{n}") for n in range(len(sizes))], owners, CLIENT, NOW)
    assert decision.outcome is outcome
    if outcome is Outcome.REFUSED:
        assert decision.reason == f"merge would put {sum(sizes)} profiles into one (limit 50)"


@pytest.mark.parametrize(
    ("held", "outcome"),
    [
        pytest.param(99, Outcome.MERGE, id="100-values"),
        pytest.param(100, Outcome.REFUSED, id="101-values"),
    ],
)
def test_merge_protection_counts_values_of_one_key(held: int, outcome: Outcome) -> None:
    crowded = profile("p1", (CLIENT, "c0", 0.0), *many(USER, held, 1.0))
    other = profile("p2", (CLIENT, "c1", 5.0), (USER, "u-new", 5.0))
    decision = plan_stitch([(CLIENT, "c1"), (USER, "user_id-0")], [crowded, other], CLIENT, NOW)
    assert decision.outcome is outcome
    if outcome is Outcome.REFUSED:
        assert decision.reason == (
            "stitching would put 101 values of key 'user_id' into one profile (limit 100)"
        )


def test_refused_merge_goes_to_the_profile_of_the_primary_key_value() -> None:
    senior = profile("p1", (CLIENT, "c0", 0.0), (USER, "u0", 0.0), size=30)
    junior = profile("p2", (CLIENT, "c1", 5.0), (USER, "u1", 5.0), size=30)
    event = [(CLIENT, "c1"), (USER, "u1"), (USER, "u0"), ("crm_id", "x")]
    assert plan_stitch(event, [junior, senior], CLIENT, NOW) == StitchDecision(
        outcome=Outcome.REFUSED,
        time=NOW,
        target="p2",
        survivor="p1",  # for the merge log: what the refused merge would have done
        absorbed=("p2",),
        attach=(),
        canonical_id="c1",
        cluster_size=30,
        linking=tuple(sorted(event)),
        reason="merge would put 60 profiles into one (limit 50)",
    )


def test_refused_event_with_a_new_primary_key_value_gets_a_new_profile() -> None:
    # A bot reusing one user_id with a fresh td_client_id each time.
    bot = profile("p1", (USER, "shared", 0.0), *many(CLIENT, 100, 1.0))
    decision = plan_stitch([(CLIENT, "fresh"), (USER, "shared")], [bot], CLIENT, NOW)
    assert (decision.outcome, decision.target, decision.survivor) == (Outcome.REFUSED, None, "p1")
    assert decision.attach == (Identity(CLIENT, "fresh", NOW),)
    assert (decision.canonical_id, decision.cluster_size) == ("fresh", 1)
    assert decision.reason == (
        "stitching would put 101 values of key 'td_client_id' into one profile (limit 100)"
    )


def test_refused_event_without_primary_key_value_goes_to_the_would_be_survivor() -> None:
    a = profile("a", (CLIENT, "c0", 0.0), (USER, "u0", 0.0), size=40)
    b = profile("b", (CLIENT, "c1", 1.0), ("crm_id", "x", 1.0), size=40)
    decision = plan_stitch([(USER, "u0"), ("crm_id", "x")], [b, a], CLIENT, NOW)
    assert (decision.outcome, decision.target, decision.attach) == (Outcome.REFUSED, "a", ())
    assert (decision.canonical_id, decision.cluster_size) == ("c0", 40)


def test_a_profile_already_over_a_limit_is_not_refused_for_other_keys() -> None:
    legacy = profile("p1", *many(CLIENT, 120))
    decision = plan_stitch([(CLIENT, "td_client_id-3"), (USER, "u1")], [legacy], CLIENT, NOW)
    assert (decision.outcome, decision.attach) == (Outcome.NO_MERGE, (Identity(USER, "u1", NOW),))


@pytest.mark.parametrize(
    ("identities", "owners", "message"),
    [
        pytest.param([], [], "event has no identifier", id="no-identities"),
        pytest.param(
            [(CLIENT, "c1")],
            [profile("p9", (CLIENT, "c2", 0.0))],
            "profile p9 owns none of the event's identities",
            id="stranger",
        ),
    ],
)
def test_plan_refuses_bad_input(identities: Any, owners: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        plan_stitch(identities, owners, CLIENT, NOW)


# Imported values


def test_imported_values_come_from_every_key_with_the_primary_key_winning() -> None:
    cluster = [
        Identity(USER, "u1", 0.0),
        Identity(CLIENT, "c2", 5.0),
        Identity(CLIENT, "c1", 2.0),
        Identity("crm_id", "x", 1.0),
    ]
    records: dict[tuple[str, str], dict[str, Any]] = {
        (USER, "u1"): {"tier": "bronze", "city": "Oslo", "vip": True},
        (CLIENT, "c2"): {"tier": "silver", "points": 10},
        (CLIENT, "c1"): {"tier": "gold", "points": None},
        ("crm_id", "x"): {"city": "Bergen", "vip": False, "segment": "b2b"},
        ("crm_id", "unrelated"): {"tier": "platinum"},
    }
    assert imported_values(cluster, records, CLIENT) == {
        "tier": "gold",  # oldest primary-key value
        "points": 10,  # null is no value
        "city": "Oslo",  # no primary-key value has it: the oldest identity
        "vip": True,
        "segment": "b2b",
    }


def test_imported_values_of_a_cluster_without_records() -> None:
    assert imported_values([Identity(CLIENT, "c1", 0.0)], {}, CLIENT) == {}


# Properties

KEYS = [CLIENT, USER, "crm_id"]


@st.composite
def neighbourhoods(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[ProfileIdentities]]:
    """An event's identities and the profiles owning some of them."""
    letters = st.sampled_from("abcdefgh")
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), letters), min_size=1, unique=True))
    n = len(pairs)
    owner_of = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))  # 0: nobody owns it
    ages = draw(st.lists(st.integers(0, 5).map(float), min_size=n, max_size=n))
    in_event = [True, *draw(st.lists(st.booleans(), min_size=n, max_size=n))[1:]]
    event = [pair for pair, used in zip(pairs, in_event, strict=True) if used]
    owned: dict[int, list[Identity]] = {}
    for (key, value), owner, age in zip(pairs, owner_of, ages, strict=True):
        if owner:
            owned.setdefault(owner, []).append(Identity(key, value, age))
    sizes = draw(st.lists(st.integers(1, 20), min_size=4, max_size=4))
    owners = [ProfileIdentities(f"p{o}", tuple(i), sizes[o]) for o, i in owned.items()]
    return event, [p for p in owners if {(i.key, i.value) for i in p.identities} & set(event)]


@given(neighbourhoods(), st.randoms())
def test_plan_does_not_depend_on_input_order(
    case: tuple[list[tuple[str, str]], list[ProfileIdentities]], rng: random.Random
) -> None:
    event, owners = case
    expected = plan_stitch(event, owners, CLIENT, NOW)
    shuffled = [
        ProfileIdentities(p.id, tuple(rng.sample(p.identities, len(p.identities))), p.cluster_size)
        for p in rng.sample(owners, len(owners))
    ]
    assert plan_stitch(rng.sample(event, len(event)), shuffled, CLIENT, NOW) == expected


def oldest_primary(identities: Sequence[Identity]) -> str | None:
    return min(((i.first_seen, i.value) for i in identities if i.key == CLIENT), default=(0, None))[
        1
    ]


def carry_out(
    store: dict[str, ProfileIdentities], event: list[tuple[str, str]], now: float
) -> None:
    """What the storage layer does with a decision, in memory."""
    owners = [p for p in store.values() if {(i.key, i.value) for i in p.identities} & set(event)]
    decision = plan_stitch(event, owners, CLIENT, now)
    assert decision.outcome is not Outcome.REFUSED
    target = decision.target or f"new@{now}"
    kept = [
        i for id in (target, *decision.absorbed) if id in store for i in store.pop(id).identities
    ]
    store[target] = ProfileIdentities(target, (*kept, *decision.attach), decision.cluster_size)
    assert decision.canonical_id == oldest_primary(store[target].identities)


@given(
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.integers(0, 9)), min_size=2, max_size=12, unique=True
    ),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=12),
    st.randoms(),
)
def test_linking_order_does_not_change_the_resulting_profiles(
    identities: list[tuple[str, int]], links: list[tuple[int, int]], rng: random.Random
) -> None:
    # One profile per identity, then events each linking two identities: however the events
    # arrive, the same clusters come out, each kept by the profile of its most senior identity.
    start = {
        f"p{n}": ProfileIdentities(f"p{n}", (Identity(key, str(value), float(n % 4)),))
        for n, (key, value) in enumerate(identities)
    }
    owner = {p.identities[0]: id for id, p in start.items()}
    events = [
        [(identities[a][0], str(identities[a][1])), (identities[b][0], str(identities[b][1]))]
        for a, b in links
        if a < len(identities) and b < len(identities)
    ]

    def outcome(order: list[list[tuple[str, str]]]) -> dict[str, tuple[list[Identity], int]]:
        store = dict(start)
        for n, event in enumerate(order):
            carry_out(store, event, NOW + n)
        return {id: (sorted(p.identities), p.cluster_size) for id, p in store.items()}

    result = outcome(events)
    assert result == outcome(rng.sample(events, len(events)))
    for id, (cluster, size) in result.items():
        senior = min(cluster, key=lambda i: (i.key != CLIENT, i.first_seen, i.key, i.value))
        assert id == owner[senior]
        assert size == len(cluster)


@given(
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.sampled_from("abcd"), st.integers(0, 3).map(float)),
        unique_by=lambda i: i[:2],
    ),
    st.randoms(),
)
def test_imported_values_do_not_depend_on_identity_order(
    raw: list[tuple[str, str, float]], rng: random.Random
) -> None:
    cluster = [Identity(*i) for i in raw]
    records = {(i.key, i.value): {"a": f"{i.key}:{i.value}", i.value: i.key} for i in cluster}
    assert imported_values(rng.sample(cluster, len(cluster)), records, CLIENT) == imported_values(
        cluster, records, CLIENT
    )
