"""Attribute specs, per-profile state arithmetic, and the properties merges rely on."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.profile.attributes import (
    Aggregation,
    AttributeSpec,
    CounterSpec,
    ImportedSpec,
    ListSpec,
    ProfileState,
    SingleSpec,
    apply_event,
    current_values,
    merge_states,
    parse_window,
)

DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of every bucket width

LAST = SingleSpec("last", "v")
RECENT = ListSpec("recent", (Aggregation("items", "v"),), max_items=3, expire_days=1)
HOURLY = CounterSpec("hourly", "1h")
SPEND = CounterSpec("spend", "total", sum_field="v")


def replay(
    specs: Sequence[AttributeSpec],
    events: Sequence[tuple[float, Any]],
    state: ProfileState | None = None,
) -> ProfileState:
    """Apply ``{"v": value}`` at each time, in the order given."""
    state = state or ProfileState()
    for now, value in events:
        state = apply_event(state, specs, {"v": value}, now).state
    return state


def read(specs: Sequence[AttributeSpec], events: Sequence[tuple[float, Any]], now: float) -> Any:
    return current_values(replay(specs, events), specs, now)


# Specs and their error messages.


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        pytest.param("1h", 3600, id="shortest"),
        pytest.param("36h", 36 * 3600, id="hours"),
        pytest.param("1440h", 60 * 86400, id="longest-in-hours"),
        pytest.param("1d", 86400, id="one-day"),
        pytest.param("7d", 7 * 86400, id="days"),
        pytest.param("60d", 60 * 86400, id="longest"),
        pytest.param("total", None, id="total"),
    ],
)
def test_parse_window_accepts(window: str, seconds: int | None) -> None:
    assert parse_window(window) == seconds


@pytest.mark.parametrize(
    "window",
    [
        pytest.param("0h", id="zero"),
        pytest.param("30m", id="minutes"),
        pytest.param("61d", id="over-60-days"),
        pytest.param("1441h", id="over-60-days-in-hours"),
        pytest.param("99999d", id="many-digits"),
        pytest.param("7", id="no-unit"),
        pytest.param("d", id="no-number"),
        pytest.param("7D", id="upper-case-unit"),
        pytest.param("1w", id="weeks"),
        pytest.param("1.5d", id="fraction"),
        pytest.param("07d", id="leading-zero"),
        pytest.param(" 7d", id="space"),
        pytest.param("", id="empty"),
        pytest.param("TOTAL", id="upper-case-total"),
    ],
)
def test_parse_window_refuses(window: str) -> None:
    message = (
        "Window must be 'total' or from 1h to 60d in whole hours or days, such as '12h' or '7d'"
        f" (got {window!r})"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_window(window)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: SingleSpec("a", ""), "Field can't be blank", id="single-field"),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", "f"),), max_items=0),
            "Max items must be between 1 and 100 (got 0)",
            id="list-max-items-zero",
        ),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", "f"),), max_items=101),
            "Max items must be between 1 and 100 (got 101)",
            id="list-max-items-over",
        ),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", "f"),), expire_days=0),
            "Expire days must be between 1 and 60 (got 0)",
            id="list-expire-days-zero",
        ),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", "f"),), expire_days=61),
            "Expire days must be between 1 and 60 (got 61)",
            id="list-expire-days-over",
        ),
        pytest.param(lambda: ListSpec("a", ()), "Aggregations can't be empty", id="list-no-aggs"),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", "f"), Aggregation("x", "g"))),
            "Aggregation name has already been taken: x",
            id="list-repeated-agg",
        ),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("", "f"),)),
            "Aggregation name can't be blank",
            id="list-agg-name",
        ),
        pytest.param(
            lambda: ListSpec("a", (Aggregation("x", ""),)),
            "Aggregation field can't be blank",
            id="list-agg-field",
        ),
        pytest.param(
            lambda: CounterSpec("a", "7d", sum_field=""), "Sum field can't be blank", id="sum"
        ),
        pytest.param(
            lambda: CounterSpec("a", "90d"),
            "Window must be 'total' or from 1h to 60d in whole hours or days, such as '12h' or"
            " '7d' (got '90d')",
            id="counter-window",
        ),
    ],
)
def test_spec_refusals(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


def test_spec_limits_are_inclusive() -> None:
    spec = ListSpec("a", (Aggregation("x", "f"),), max_items=100, expire_days=60)
    assert (spec.max_items, spec.expire_days) == (100, 60)
    assert CounterSpec("c", "60d").window_seconds == 60 * 86400


# SINGLE


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("women", "women", id="string"),
        pytest.param("", "", id="empty-string"),
        pytest.param(28700, 28700, id="int"),
        pytest.param(19.99, 19.99, id="float"),
        pytest.param(28700.0, 28700, id="integral-float-is-int"),
        pytest.param(-0.0, 0, id="negative-zero"),
        pytest.param(False, False, id="bool"),
    ],
)
def test_single_keeps_the_latest_value(value: Any, stored: Any) -> None:
    values = read([LAST], [(T0, "before"), (T0 + 1, value)], T0 + 2)
    assert values == {"last": stored}
    assert type(values["last"]) is type(stored)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param({"a": 1}, id="object"),
        pytest.param(["a"], id="array"),
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="infinity"),
        pytest.param("\ud800", id="unpaired-surrogate"),
    ],
)
def test_single_ignores_non_scalars(value: Any) -> None:
    assert read([LAST], [(T0, "kept"), (T0 + 1, value)], T0 + 2) == {"last": "kept"}


def test_single_ignores_an_event_without_the_field() -> None:
    state = replay([LAST], [(T0, "kept")])
    state = apply_event(state, [LAST], {"other": "x"}, T0 + 1).state
    assert current_values(state, [LAST], T0 + 1) == {"last": "kept"}


def test_single_is_absent_until_set() -> None:
    assert current_values(ProfileState(), [LAST], T0) == {}


def test_single_last_write_wins_by_server_time() -> None:
    assert read([LAST], [(T0 + 10, "newer"), (T0 + 5, "late-but-older")], T0) == {"last": "newer"}


def test_single_same_time_later_event_wins() -> None:
    assert read([LAST], [(T0, "b"), (T0, "a")], T0) == {"last": "a"}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param("x" * 498, True, id="500-bytes-with-quotes"),
        pytest.param("x" * 499, False, id="501-bytes"),
        pytest.param("é" * 249, True, id="500-bytes-utf8"),
        pytest.param("é" * 250, False, id="502-bytes-utf8"),
        pytest.param('"' * 250, False, id="escapes-count"),
    ],
)
def test_value_size_limit(value: str, written: bool) -> None:
    state = replay([LAST], [(T0, "old")])
    applied = apply_event(state, [LAST, HOURLY], {"v": value}, T0 + 1)
    assert current_values(applied.state, [LAST], T0 + 1) == {"last": value if written else "old"}
    assert applied.skipped == (() if written else ("last",))
    assert current_values(applied.state, [HOURLY], T0 + 1) == {"hourly": 1}


# LIST


def test_list_is_newest_first_and_an_array_keeps_its_order() -> None:
    assert read([RECENT], [(T0, ["a", "b"]), (T0 + 1, "c")], T0 + 1) == {
        "recent": {"items": ["c", "a", "b"]}
    }


def test_list_repeated_value_moves_to_front() -> None:
    events = [(T0, "a"), (T0 + 1, "b"), (T0 + 2, "a")]
    assert read([RECENT], events, T0 + 2) == {"recent": {"items": ["a", "b"]}}


def test_list_repeat_within_an_array_counts_once() -> None:
    assert read([RECENT], [(T0, ["a", "b", "a"])], T0) == {"recent": {"items": ["a", "b"]}}


def test_list_same_time_later_event_is_in_front() -> None:
    assert read([RECENT], [(T0, "b"), (T0, "a")], T0) == {"recent": {"items": ["a", "b"]}}


def test_list_is_capped() -> None:
    events = [(T0 + i, str(i)) for i in range(5)]
    assert read([RECENT], events, T0 + 5) == {"recent": {"items": ["4", "3", "2"]}}
    stored = replay([RECENT], events).to_json()["attributes"]["recent"]["aggregations"]["items"]
    assert len(stored) == 3


@pytest.mark.parametrize(
    ("read_at", "items"),
    [
        pytest.param(T0 + DAY - 0.001, ["b", "a"], id="just-before-expiry"),
        pytest.param(T0 + DAY, ["b"], id="expired-at-exactly-expire-days"),
        pytest.param(T0 + 1 + DAY, [], id="all-expired"),
    ],
)
def test_list_items_expire(read_at: float, items: list[str]) -> None:
    assert read([RECENT], [(T0, "a"), (T0 + 1, "b")], read_at) == {"recent": {"items": items}}


def test_list_repeat_restarts_expiry() -> None:
    events = [(T0, "a"), (T0 + 1, "b"), (T0 + DAY - 1, "a")]
    assert read([RECENT], events, T0 + DAY + 1) == {"recent": {"items": ["a"]}}


def test_list_prunes_expired_items_on_write() -> None:
    state = replay([RECENT], [(T0, "a"), (T0 + 2 * DAY, "b")])
    assert state.to_json()["attributes"]["recent"]["aggregations"]["items"] == [
        [T0 + 2 * DAY, 2, 0, "b"]
    ]


@pytest.mark.parametrize(
    ("value", "items"),
    [
        pytest.param(["a", None, {"x": 1}, ["b"], "c"], ["a", "c"], id="non-scalar-elements"),
        pytest.param([1, 1.0, "1", True], [1, "1", True], id="json-equality"),
        pytest.param([2.5, False], [2.5, False], id="numbers-and-bools"),
        pytest.param([], [], id="empty-array"),
        pytest.param(None, [], id="null"),
        pytest.param({"a": "b"}, [], id="object"),
    ],
)
def test_list_values(value: Any, items: list[Any]) -> None:
    assert read([RECENT], [(T0, value)], T0) == {"recent": {"items": items}}


def test_list_aggregations_are_independent_lists() -> None:
    spec = ListSpec("seen", (Aggregation("products", "p"), Aggregation("categories", "c")))
    state = ProfileState()
    events: list[tuple[float, dict[str, Any]]] = [
        (T0, {"p": ["p1", "p2"], "c": "women"}),
        (T0 + 1, {"p": "p3"}),
    ]
    for now, event in events:
        state = apply_event(state, [spec], event, now).state
    assert current_values(state, [spec], T0 + 1) == {
        "seen": {"products": ["p3", "p1", "p2"], "categories": ["women"]}
    }


def test_list_skips_an_oversized_element_only() -> None:
    applied = apply_event(ProfileState(), [RECENT], {"v": ["a", "x" * 600, "b"]}, T0)
    assert current_values(applied.state, [RECENT], T0) == {"recent": {"items": ["a", "b"]}}
    assert applied.skipped == ("recent",)


def test_list_read_honours_a_lowered_max_items() -> None:
    state = replay([RECENT], [(T0, ["a", "b", "c"])])
    smaller = ListSpec("recent", RECENT.aggregations, max_items=1, expire_days=1)
    assert current_values(state, [smaller], T0) == {"recent": {"items": ["a"]}}


def test_list_empty_value_shape() -> None:
    assert current_values(ProfileState(), [RECENT], T0) == {"recent": {"items": []}}


# COUNTER


def test_counter_counts_events() -> None:
    assert read([HOURLY], [(T0, None), (T0 + 1, "x"), (T0 + 2, {})], T0 + 2) == {"hourly": 3}


@pytest.mark.parametrize(
    ("values", "total"),
    [
        pytest.param([0.1, 0.2], 0.3, id="exact-decimal"),
        pytest.param([19.99, 0.01], 20, id="integral-sum-is-int"),
        pytest.param([28700, 1], 28701, id="ints"),
        pytest.param([5, -5], 0, id="negative"),
        pytest.param([10, "12", True, None, [1], {"a": 1}, math.nan, math.inf], 10, id="ignored"),
    ],
)
def test_counter_sums_numbers(values: list[Any], total: float) -> None:
    result = read([SPEND], [(T0 + i, v) for i, v in enumerate(values)], T0 + 100)["spend"]
    assert result == total
    assert type(result) is type(total)


def test_counter_sum_ignores_an_event_without_the_field() -> None:
    state = apply_event(ProfileState(), [SPEND], {"other": 3}, T0).state
    assert current_values(state, [SPEND], T0) == {"spend": 0}
    assert state.attributes == {}


@pytest.mark.parametrize(
    ("event_at", "read_at", "counted"),
    [
        pytest.param(0.0, 3599.999, 1, id="start-of-bucket-until-window-ends"),
        pytest.param(0.0, 3600.0, 0, id="start-of-bucket-gone-after-window"),
        pytest.param(59.9, 3599.999, 1, id="end-of-bucket-in-last-bucket"),
        pytest.param(59.9, 3600.0, 0, id="end-of-bucket-gone-early"),
        pytest.param(60.0, 3600.0, 1, id="next-bucket"),
    ],
)
def test_counter_window_is_sixty_buckets(event_at: float, read_at: float, counted: int) -> None:
    assert read([HOURLY], [(T0 + event_at, 1)], T0 + read_at) == {"hourly": counted}


def test_counter_total_never_expires() -> None:
    total = CounterSpec("total", "total")
    assert read([total], [(T0, 1), (T0 + 1, 1)], T0 + 365 * DAY) == {"total": 2}


def test_counter_keeps_at_most_sixty_buckets() -> None:
    state = replay([HOURLY], [(T0 + 30 * i, 1) for i in range(1000)])
    assert len(state.to_json()["attributes"]["hourly"]["buckets"]) == 60


def test_counter_restarts_when_its_window_changes() -> None:
    state = replay([HOURLY], [(T0, 1)])
    daily = CounterSpec("hourly", "1d")
    assert current_values(state, [daily], T0) == {"hourly": 0}
    state = apply_event(state, [daily], {}, T0 + 1).state
    assert current_values(state, [daily], T0 + 1) == {"hourly": 1}


# State as a whole


def test_state_of_another_type_is_ignored() -> None:
    state = replay([SingleSpec("x", "v")], [(T0, "text")])
    as_list = ListSpec("x", (Aggregation("a", "v"),))
    assert current_values(state, [as_list], T0) == {"x": {"a": []}}
    assert current_values(state, [CounterSpec("x", "1h")], T0) == {"x": 0}
    state = apply_event(state, [as_list], {"v": "item"}, T0 + 1).state
    assert current_values(state, [as_list], T0 + 1) == {"x": {"a": ["item"]}}


def test_reading_at_an_earlier_time_uses_the_profile_clock() -> None:
    # A replica with a slow clock must not see what a faster one already expired.
    state = replay([HOURLY, RECENT], [(T0, "a"), (T0 + DAY, "b")])
    assert current_values(state, [HOURLY, RECENT], T0) == {
        "hourly": 1,
        "recent": {"items": ["b"]},
    }


def test_imported_attributes_are_not_touched_by_events() -> None:
    applied = apply_event(ProfileState(), [ImportedSpec("tier")], {"tier": "gold"}, T0)
    assert applied.state.attributes == {}
    assert current_values(applied.state, [ImportedSpec("tier")], T0) == {}


def test_state_json_shape() -> None:
    state = replay([LAST, RECENT, HOURLY, SPEND], [(T0, 1.5), (T0 + 1, ["a"])])
    assert state.to_json() == {
        "version": 1,
        "clock": T0 + 1,
        "seq": 2,
        "attributes": {
            "last": {"type": "single", "value": 1.5, "time": T0, "seq": 1},
            "recent": {
                "type": "list",
                "aggregations": {"items": [[T0 + 1, 2, 0, "a"], [T0, 1, 0, 1.5]]},
            },
            "hourly": {
                "type": "counter",
                "window": "1h",
                "sum_field": None,
                "buckets": [[int(T0 // 60), "2"]],
            },
            "spend": {
                "type": "counter",
                "window": "total",
                "sum_field": "v",
                "buckets": [[0, "1.5"]],
            },
        },
    }


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"version": 2, "clock": 0, "seq": 0, "attributes": {}}, id="version"),
        pytest.param({"version": 1, "clock": 0, "attributes": {}}, id="missing-seq"),
        pytest.param([], id="not-an-object"),
        pytest.param(
            {"version": 1, "clock": 0, "seq": 0, "attributes": {"a": {"type": "set"}}},
            id="unknown-type",
        ),
        pytest.param(
            {
                "version": 1,
                "clock": 0,
                "seq": 0,
                "attributes": {"a": {"type": "single", "value": [1], "time": 0, "seq": 1}},
            },
            id="non-scalar-value",
        ),
        pytest.param(
            {
                "version": 1,
                "clock": 0,
                "seq": 0,
                "attributes": {"a": {"type": "list", "aggregations": {"x": [[0, 1, "v"]]}}},
            },
            id="short-item",
        ),
        pytest.param(
            {
                "version": 1,
                "clock": 0,
                "seq": 0,
                "attributes": {
                    "a": {
                        "type": "counter",
                        "window": "1h",
                        "sum_field": None,
                        "buckets": [[0, "NaN"]],
                    }
                },
            },
            id="nan-amount",
        ),
        pytest.param(
            {
                "version": 1,
                "clock": 0,
                "seq": 0,
                "attributes": {
                    "a": {
                        "type": "counter",
                        "window": "1h",
                        "sum_field": None,
                        "buckets": [[0, "x"]],
                    }
                },
            },
            id="not-a-number",
        ),
    ],
)
def test_from_json_refuses_malformed_state(data: Any) -> None:
    with pytest.raises(ValueError, match=r"^Malformed profile state: "):
        ProfileState.from_json(data)


# Merging profiles


def test_merge_examples() -> None:
    one = replay([LAST, RECENT, HOURLY, SPEND], [(T0, 1), (T0 + 10, "a")])
    two = replay([LAST, RECENT, HOURLY, SPEND], [(T0 + 5, "b"), (T0 + 20, 2.5)])
    merged = merge_states([one, two], [LAST, RECENT, HOURLY, SPEND])
    assert current_values(merged, [LAST, RECENT, HOURLY, SPEND], T0 + 20) == {
        "last": 2.5,
        "recent": {"items": [2.5, "a", "b"]},
        "hourly": 4,
        "spend": 3.5,
    }
    assert (merged.clock, merged.seq) == (T0 + 20, 2)


def test_merge_single_tie_breaks_on_seq_then_value() -> None:
    one = replay([LAST], [(T0, "a")])
    two = replay([LAST], [(T0 - 1, "x"), (T0, "b")])
    three = replay([LAST], [(T0 - 1, "y"), (T0, "c")])
    assert current_values(merge_states([one, two], [LAST]), [LAST], T0) == {"last": "b"}
    assert current_values(merge_states([two, three], [LAST]), [LAST], T0) == {"last": "c"}


def test_merge_list_tie_breaks_on_value() -> None:
    one, two = replay([RECENT], [(T0, "a")]), replay([RECENT], [(T0, "b")])
    for order in ([one, two], [two, one]):
        merged = merge_states(order, [RECENT])
        assert current_values(merged, [RECENT], T0) == {"recent": {"items": ["b", "a"]}}


def test_merge_drops_attributes_no_longer_configured_and_foreign_counters() -> None:
    one = replay([LAST, HOURLY], [(T0, 1)])
    two = replay([CounterSpec("hourly", "1d")], [(T0, 1)])
    merged = merge_states([one, two], [HOURLY])
    assert set(merged.attributes) == {"hourly"}
    assert current_values(merged, [HOURLY], T0) == {"hourly": 1}


def test_merge_of_nothing_is_the_empty_state() -> None:
    assert merge_states([], [LAST]) == ProfileState()


# Properties

TIMES = st.one_of(
    st.integers(0, 120).map(lambda minutes: T0 + 60.0 * minutes),
    st.floats(T0, T0 + 3 * DAY, allow_nan=False),
)
WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
LIST_VALUES = st.one_of(WORDS, st.lists(WORDS, max_size=4))
NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.1, 0.2, 19.99, 1e-7, "7", True, None]),
)
WIDTHS = {"1h": 60, "7h": 420, "1d": 1440, "60d": 86400, "total": None}


@settings(deadline=None)
@given(
    events=st.lists(st.tuples(TIMES, LIST_VALUES), max_size=25),
    max_items=st.integers(1, 5),
    expire_days=st.integers(1, 2),
    read_at=TIMES,
)
def test_list_cap_and_expiry_hold_for_every_sequence_and_clock(
    events: list[tuple[float, Any]], max_items: int, expire_days: int, read_at: float
) -> None:
    spec = ListSpec("l", (Aggregation("a", "v"),), max_items=max_items, expire_days=expire_days)
    state = ProfileState()
    for now, value in events:
        state = apply_event(state, [spec], {"v": value}, now).state
        attribute = state.to_json()["attributes"].get("l")
        stored = attribute["aggregations"]["a"] if attribute else []
        assert len(stored) <= max_items
        assert all(state.clock < time + expire_days * DAY for time, *_ in stored)

    # Brute force: each value ranked by its last occurrence (time, arrival, array position).
    clock = max([read_at, *(now for now, _ in events)])
    last: dict[str, tuple[float, int, int]] = {}
    for arrival, (now, value) in enumerate(events):
        for pos, word in enumerate(value if isinstance(value, list) else [value]):
            last[word] = max(last.get(word, (-math.inf, 0, 0)), (now, arrival, -pos))
    live = [word for word, (added, *_) in last.items() if clock < added + expire_days * DAY]
    expected = sorted(live, key=last.__getitem__, reverse=True)[:max_items]
    assert current_values(state, [spec], read_at) == {"l": {"a": expected}}


@settings(deadline=None)
@given(
    window=st.sampled_from(sorted(WIDTHS)),
    summing=st.booleans(),
    events=st.lists(st.tuples(TIMES, NUMBERS), max_size=30),
    read_at=TIMES,
)
def test_counter_equals_brute_force_for_every_sequence_and_clock(
    window: str, summing: bool, events: list[tuple[float, Any]], read_at: float
) -> None:
    spec = CounterSpec("c", window, sum_field="v" if summing else None)
    state = ProfileState()
    for now, value in events:
        state = apply_event(state, [spec], {"v": value}, now).state
        assert len(state.to_json()["attributes"].get("c", {}).get("buckets", [])) <= 60

    clock = max([read_at, *(now for now, _ in events)])
    width = WIDTHS[window]
    expected = Fraction(0)
    for now, value in events:
        if width is not None and int(now // width) <= int(clock // width) - 60:
            continue
        if not summing:
            expected += 1
        elif isinstance(value, int | float) and not isinstance(value, bool):
            expected += Fraction(repr(value))
    number = int(expected) if expected.denominator == 1 else float(expected)
    actual = current_values(state, [spec], read_at)["c"]
    assert actual == number
    assert type(actual) is type(number)


ALL: list[AttributeSpec] = [
    LAST,
    ListSpec("recent", (Aggregation("items", "v"), Aggregation("more", "w")), max_items=3),
    HOURLY,
    CounterSpec("daily_spend", "1d", sum_field="v"),
    SPEND,
]
EVENT = st.fixed_dictionaries({}, optional={"v": st.one_of(LIST_VALUES, NUMBERS), "w": WORDS})
EVENTS = st.lists(st.tuples(TIMES, EVENT), max_size=8)
# Few distinct times, so that profiles often tie on time and sequence number.
TIED_EVENTS = st.lists(st.tuples(st.sampled_from([T0, T0 + 1, T0 + DAY]), EVENT), max_size=4)


def profile_of(events: list[tuple[float, dict[str, Any]]]) -> ProfileState:
    state = ProfileState()
    for now, event in events:
        state = apply_event(state, ALL, event, now).state
    return state


@settings(deadline=None)
@given(st.lists(st.one_of(EVENTS, TIED_EVENTS), min_size=3, max_size=3))
def test_merge_is_order_independent(histories: list[list[tuple[float, dict[str, Any]]]]) -> None:
    a, b, c = map(profile_of, histories)
    results = [
        merge_states(list(order), ALL).to_json() for order in itertools.permutations([a, b, c])
    ]
    results.append(merge_states([merge_states([a, b], ALL), c], ALL).to_json())
    results.append(merge_states([a, merge_states([c, b], ALL)], ALL).to_json())
    assert all(result == results[0] for result in results)


@settings(deadline=None)
@given(st.lists(EVENTS, min_size=2, max_size=2), TIMES)
def test_merge_equals_one_profile_seeing_every_event(
    histories: list[list[tuple[float, dict[str, Any]]]], read_at: float
) -> None:
    # Profiles stitched together read as if one profile had seen all their events; equal
    # server times are left out, as they order by per-profile arrival.
    times = [now for history in histories for now, _ in history]
    assume(len(set(times)) == len(times))
    merged = merge_states([profile_of(history) for history in histories], ALL)
    together = profile_of(sorted(itertools.chain(*histories), key=lambda pair: pair[0]))
    assert current_values(merged, ALL, read_at) == current_values(together, ALL, read_at)


@given(EVENTS)
def test_state_round_trips_through_json(events: list[tuple[float, dict[str, Any]]]) -> None:
    state = profile_of(events)
    assert ProfileState.from_json(json.loads(json.dumps(state.to_json()))) == state
