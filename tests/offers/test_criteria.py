"""Criteria: every op against every kind of value, and every way to get one wrong.

The profile, catalog and event are the fixtures of conftest.py: tier "gold", age 30.0,
score 4.5, opted_in true, nickname absent, visits 3.0, cart_adds absent,
recent_products.brand ["acme", "zeta"], recent_categories absent, member of vip and
newsletter but not beta; the event has td_path "/sale/shoes", qty 2, price 9.5,
member true, coupon null, label "", product_list ["shoes", "hat"], category_list [],
meta {"k": 1}, date "2024-05-01".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.offers.catalog import Catalog, ProfileView
from services.offers.criteria import OPS, compile_criteria
from services.offers.errors import InvalidConfigError

_NONE = object()


def attr(name: str, op: str, value: object = _NONE, **extra: object) -> dict[str, object]:
    return _leaf("attribute", name, op, value, extra)


def field(name: str, op: str, value: object = _NONE) -> dict[str, object]:
    return _leaf("event", name, op, value, {})


def brand(op: str, value: object = _NONE) -> dict[str, object]:
    return attr("recent_products", op, value, aggregation="brand")


def _leaf(
    kind: str, name: str, op: str, value: object, extra: Mapping[str, object]
) -> dict[str, object]:
    node: dict[str, object] = {kind: name, "op": op, **extra}
    if value is not _NONE:
        node["value"] = value
    return node


YES = attr("tier", "eq", "gold")
NO = attr("tier", "eq", "silver")

MATCHES = [
    # eq: equality by type, with 1 == 1.0 and booleans apart from numbers
    pytest.param(attr("tier", "eq", "gold"), True, id="eq-string-equal"),
    pytest.param(attr("tier", "eq", "Gold"), False, id="eq-string-case-sensitive"),
    pytest.param(attr("tier", "eq", 1), False, id="eq-string-vs-number"),
    pytest.param(attr("age", "eq", 30), True, id="eq-float-profile-vs-int"),
    pytest.param(field("qty", "eq", 2.0), True, id="eq-int-event-vs-float"),
    pytest.param(attr("score", "eq", 4.5), True, id="eq-float"),
    pytest.param(attr("opted_in", "eq", True), True, id="eq-bool"),
    pytest.param(attr("opted_in", "eq", 1), False, id="eq-bool-is-not-1"),
    pytest.param(field("qty", "eq", True), False, id="eq-number-is-not-true"),
    pytest.param(field("coupon", "eq", "x"), False, id="eq-null"),
    pytest.param(attr("nickname", "eq", "x"), False, id="eq-missing-attribute"),
    pytest.param(field("nope", "eq", "x"), False, id="eq-missing-event-field"),
    pytest.param(attr("visits", "eq", 3), True, id="eq-counter"),
    pytest.param(attr("cart_adds", "eq", 0), True, id="eq-missing-counter-is-0"),
    pytest.param(field("product_list", "eq", "shoes"), False, id="eq-list-is-not-membership"),
    pytest.param(field("meta", "eq", 1), False, id="eq-object"),
    pytest.param({"segment": "vip", "op": "eq", "value": True}, True, id="eq-segment-member"),
    pytest.param({"segment": "beta", "op": "eq", "value": False}, True, id="eq-segment-not"),
    # neq is exactly `not eq`, so it matches a missing value
    pytest.param(attr("tier", "neq", "silver"), True, id="neq-string-differs"),
    pytest.param(attr("tier", "neq", "gold"), False, id="neq-string-equal"),
    pytest.param(attr("age", "neq", 30), False, id="neq-float-vs-int"),
    pytest.param(attr("opted_in", "neq", 1), True, id="neq-bool-vs-number"),
    pytest.param(attr("nickname", "neq", "x"), True, id="neq-missing-attribute"),
    pytest.param(field("coupon", "neq", "x"), True, id="neq-null"),
    pytest.param(field("product_list", "neq", "shoes"), True, id="neq-list"),
    pytest.param(attr("visits", "neq", 4), True, id="neq-counter"),
    pytest.param({"segment": "vip", "op": "neq", "value": True}, False, id="neq-segment"),
    # gt/gte/lt/lte: two numbers, or two strings by code point; nothing else
    pytest.param(attr("age", "gt", 29), True, id="gt-number"),
    pytest.param(attr("age", "gt", 30), False, id="gt-number-equal"),
    pytest.param(attr("age", "gte", 30), True, id="gte-number-equal"),
    pytest.param(attr("age", "lt", 30.5), True, id="lt-float"),
    pytest.param(attr("age", "lte", 29.9), False, id="lte-float"),
    pytest.param(attr("score", "lt", 5), True, id="lt-imported-float"),
    pytest.param(attr("tier", "gt", "a"), True, id="gt-strings"),
    pytest.param(attr("tier", "lt", "a"), False, id="lt-strings"),
    pytest.param(field("date", "gte", "2024-01-01"), True, id="gte-iso-dates"),
    pytest.param(field("date", "lt", "2024-05-01"), False, id="lt-iso-dates-equal"),
    pytest.param(attr("tier", "gt", 1), False, id="gt-string-vs-number"),
    pytest.param(attr("age", "lt", "99"), False, id="lt-number-vs-string"),
    pytest.param(attr("opted_in", "gt", 0), False, id="gt-bool-is-not-a-number"),
    pytest.param(field("coupon", "lt", 1), False, id="lt-null"),
    pytest.param(attr("nickname", "lt", "z"), False, id="lt-missing-attribute"),
    pytest.param(field("product_list", "gt", "a"), False, id="gt-list"),
    pytest.param(field("meta", "gt", 0), False, id="gt-object"),
    pytest.param(field("price", "lt", 10), True, id="lt-event-float"),
    pytest.param(attr("visits", "gte", 3), True, id="gte-counter"),
    pytest.param(attr("visits", "lt", 3), False, id="lt-counter"),
    pytest.param(attr("cart_adds", "lt", 1), True, id="lt-missing-counter-is-0"),
    # in: one of; for a list, any item is one of
    pytest.param(attr("tier", "in", ["silver", "gold"]), True, id="in-string"),
    pytest.param(attr("tier", "in", ["silver"]), False, id="in-string-absent"),
    pytest.param(attr("age", "in", [30]), True, id="in-float-vs-int"),
    pytest.param(attr("opted_in", "in", [1]), False, id="in-bool-vs-number"),
    pytest.param(attr("opted_in", "in", [True]), True, id="in-bool"),
    pytest.param(field("qty", "in", ["2"]), False, id="in-number-vs-string"),
    pytest.param(attr("nickname", "in", ["x"]), False, id="in-missing-attribute"),
    pytest.param(field("coupon", "in", ["x"]), False, id="in-null"),
    pytest.param(attr("visits", "in", [1, 3]), True, id="in-counter"),
    pytest.param(brand("in", ["zeta", "other"]), True, id="in-list-any-item"),
    pytest.param(brand("in", ["other"]), False, id="in-list-no-item"),
    pytest.param(
        attr("recent_categories", "in", ["x"], aggregation="name"), False, id="in-missing-list"
    ),
    pytest.param(field("product_list", "in", ["hat"]), True, id="in-event-list"),
    pytest.param(field("category_list", "in", ["x"]), False, id="in-event-empty-list"),
    # contains: a list item equals it, or a string has it as a substring
    pytest.param(brand("contains", "acme"), True, id="contains-list"),
    pytest.param(brand("contains", "acm"), False, id="contains-list-is-not-substring"),
    pytest.param(
        attr("recent_products", "contains", 5, aggregation="price"), True, id="contains-list-num"
    ),
    pytest.param(
        attr("recent_categories", "contains", "x", aggregation="name"),
        False,
        id="contains-missing-list",
    ),
    pytest.param(field("product_list", "contains", "hat"), True, id="contains-event-list"),
    pytest.param(field("td_path", "contains", "sale"), True, id="contains-substring"),
    pytest.param(attr("tier", "contains", "ol"), True, id="contains-attribute-substring"),
    pytest.param(field("td_path", "contains", 1), False, id="contains-string-vs-number"),
    pytest.param(attr("age", "contains", 3), False, id="contains-number"),
    pytest.param(attr("opted_in", "contains", True), False, id="contains-bool"),
    pytest.param(attr("nickname", "contains", "a"), False, id="contains-missing-attribute"),
    pytest.param(field("coupon", "contains", "a"), False, id="contains-null"),
    pytest.param(field("meta", "contains", "k"), False, id="contains-object"),
    # exists/not_exists: absent, null and [] are all missing; "" and false are values
    pytest.param(attr("tier", "exists"), True, id="exists-string"),
    pytest.param(attr("opted_in", "exists"), True, id="exists-bool"),
    pytest.param(attr("nickname", "exists"), False, id="exists-missing-attribute"),
    pytest.param(attr("nickname", "not_exists"), True, id="not-exists-missing-attribute"),
    pytest.param(attr("age", "not_exists"), False, id="not-exists-number"),
    pytest.param(field("coupon", "exists"), False, id="exists-null"),
    pytest.param(field("coupon", "not_exists"), True, id="not-exists-null"),
    pytest.param(field("label", "exists"), True, id="exists-empty-string"),
    pytest.param(field("category_list", "exists"), False, id="exists-empty-list"),
    pytest.param(field("product_list", "exists"), True, id="exists-event-list"),
    pytest.param(field("meta", "exists"), True, id="exists-object"),
    pytest.param(field("nope", "not_exists"), True, id="not-exists-missing-event-field"),
    pytest.param(brand("exists"), True, id="exists-list"),
    pytest.param(
        attr("recent_categories", "not_exists", aggregation="name"),
        True,
        id="not-exists-missing-list",
    ),
    # starts_with and regex: strings only; regex matches the whole string
    pytest.param(field("td_path", "starts_with", "/sale"), True, id="starts-with"),
    pytest.param(field("td_path", "starts_with", "/shop"), False, id="starts-with-other"),
    pytest.param(attr("tier", "starts_with", ""), True, id="starts-with-empty-prefix"),
    pytest.param(attr("age", "starts_with", "3"), False, id="starts-with-number"),
    pytest.param(attr("nickname", "starts_with", ""), False, id="starts-with-missing"),
    pytest.param(field("product_list", "starts_with", "sh"), False, id="starts-with-list"),
    pytest.param(field("td_path", "regex", "/sale/.*"), True, id="regex-full-match"),
    pytest.param(field("td_path", "regex", "sale"), False, id="regex-is-not-search"),
    pytest.param(attr("tier", "regex", "g.ld|silver"), True, id="regex-alternation"),
    pytest.param(attr("age", "regex", "30.*"), False, id="regex-number"),
    pytest.param(attr("opted_in", "regex", "True"), False, id="regex-bool"),
    pytest.param(attr("nickname", "regex", ".*"), False, id="regex-missing"),
    pytest.param(field("coupon", "regex", ".*"), False, id="regex-null"),
    pytest.param(field("product_list", "regex", ".*"), False, id="regex-list"),
    # segments are booleans: alone, a leaf tests membership
    pytest.param({"segment": "vip"}, True, id="segment-member"),
    pytest.param({"segment": "beta"}, False, id="segment-not-member"),
    # combinators
    pytest.param({"all": [YES, YES]}, True, id="all-true"),
    pytest.param({"all": [YES, NO]}, False, id="all-one-false"),
    pytest.param({"any": [NO, YES]}, True, id="any-one-true"),
    pytest.param({"any": [NO, NO]}, False, id="any-false"),
    pytest.param({"not": NO}, True, id="not-false"),
    pytest.param({"not": YES}, False, id="not-true"),
    pytest.param({"not": {"any": [NO, {"all": [YES, {"segment": "vip"}]}]}}, False, id="nested"),
    pytest.param({}, True, id="empty-criteria"),
    pytest.param(None, True, id="missing-criteria"),
]


@pytest.mark.parametrize(("criteria", "expected"), MATCHES)
def test_matches(
    criteria: object,
    expected: bool,
    catalog: Catalog,
    view: ProfileView,
    event: dict[str, object],
) -> None:
    assert compile_criteria(criteria, catalog)(view, event) is expected


def test_the_table_tries_every_op() -> None:
    tried = {case.values[0].get("op") for case in MATCHES if isinstance(case.values[0], dict)}
    assert tried >= set(OPS)


ERRORS = [
    pytest.param(["x"], "criteria", "expected a condition object, got a list", id="not-object"),
    pytest.param({"all": []}, "criteria.all", "non-empty list of conditions", id="empty-all"),
    pytest.param({"any": "x"}, "criteria.any", "got a string", id="any-not-list"),
    pytest.param({"all": [{}]}, "criteria.all[0]", "found no key", id="nested-empty"),
    pytest.param(
        {"all": [{"attribut": "tier", "op": "eq", "value": 1}]},
        "criteria.all[0]",
        "exactly one of all, any, not, attribute, event, segment; found attribut, op, value",
        id="misspelled-kind",
    ),
    pytest.param(
        {"attribute": "tier", "event": "x", "op": "eq", "value": 1},
        "criteria",
        "found attribute, event",
        id="two-kinds",
    ),
    pytest.param({"all": [YES], "op": "eq"}, "criteria.op", "unknown key 'op'", id="all-extra"),
    pytest.param({"not": YES, "x": 1}, "criteria.x", "unknown key 'x'", id="not-extra"),
    pytest.param({**YES, "valu": 1}, "criteria.valu", "unknown key 'valu'", id="leaf-extra"),
    pytest.param(
        field("td_path", "eq", "x") | {"aggregation": "a"},
        "criteria.aggregation",
        "unknown key",
        id="event-aggregation",
    ),
    pytest.param(
        {"not": attr("tierr", "eq", "gold")},
        "criteria.not.attribute",
        "no attribute named 'tierr' in this parent segment; did you mean 'tier'?",
        id="unknown-attribute-close",
    ),
    pytest.param(
        attr("zzz", "exists"), "criteria.attribute", "no attribute named 'zzz'", id="unknown-attr"
    ),
    pytest.param(
        {"attribute": 3, "op": "exists"}, "criteria.attribute", "got a number", id="attr-number"
    ),
    pytest.param(field("", "exists"), "criteria.event", "got an empty string", id="event-empty"),
    pytest.param({"segment": "vipp"}, "criteria.segment", "did you mean 'vip'", id="unknown-seg"),
    pytest.param({"attribute": "tier"}, "criteria.op", "'op' is required", id="missing-op"),
    pytest.param(
        attr("tier", "equals", "gold"),
        "criteria.op",
        "unknown op 'equals'; attribute 'tier' takes eq, neq, gt",
        id="unknown-op",
    ),
    pytest.param(
        brand("gt", 1),
        "criteria.op",
        "op 'gt' does not apply to LIST aggregation 'recent_products/brand'; "
        "use in, contains, exists, not_exists",
        id="gt-on-list",
    ),
    pytest.param(brand("eq", "acme"), "criteria.op", "does not apply", id="eq-on-list"),
    pytest.param(brand("regex", "a"), "criteria.op", "does not apply", id="regex-on-list"),
    pytest.param(
        attr("visits", "contains", 1),
        "criteria.op",
        "op 'contains' does not apply to counter 'visits'; use eq, neq, gt, gte, lt, lte, in",
        id="contains-on-counter",
    ),
    pytest.param(attr("visits", "exists"), "criteria.op", "does not apply", id="exists-counter"),
    pytest.param(
        {"segment": "vip", "op": "exists"},
        "criteria.op",
        "does not apply to segment 'vip'; use eq, neq",
        id="exists-on-segment",
    ),
    pytest.param(
        {"segment": "vip", "value": True},
        "criteria.op",
        "'op' is required; segment 'vip' takes eq, neq",
        id="segment-value-without-op",
    ),
    pytest.param(
        attr("recent_products", "exists"),
        "criteria.aggregation",
        "required for LIST attribute 'recent_products': one of brand, sku, price",
        id="list-without-aggregation",
    ),
    pytest.param(
        attr("tier", "exists", aggregation="x"),
        "criteria.aggregation",
        "attribute 'tier' is SINGLE; only LIST attributes have aggregations",
        id="aggregation-on-single",
    ),
    pytest.param(
        attr("recent_products", "exists", aggregation="brnd"),
        "criteria.aggregation",
        "no aggregation of 'recent_products' named 'brnd' in this parent segment; "
        "did you mean 'brand'?",
        id="unknown-aggregation",
    ),
    pytest.param(attr("tier", "eq"), "criteria.value", "op 'eq' needs a value", id="no-value"),
    pytest.param(
        attr("tier", "exists", 1), "criteria.value", "op 'exists' takes no value", id="exists-value"
    ),
    pytest.param(
        attr("tier", "eq", None),
        "criteria.value",
        "op 'eq' on attribute 'tier' needs a string, number or boolean, got null",
        id="eq-null",
    ),
    pytest.param(attr("tier", "eq", ["a"]), "criteria.value", "got a list", id="eq-list"),
    pytest.param(field("x", "contains", {}), "criteria.value", "got an object", id="contains-obj"),
    pytest.param(
        attr("visits", "eq", "3"),
        "criteria.value",
        "op 'eq' on counter 'visits' needs a number, got a string",
        id="counter-string",
    ),
    pytest.param(attr("visits", "gt", True), "criteria.value", "got a boolean", id="counter-bool"),
    pytest.param(
        attr("age", "gt", False),
        "criteria.value",
        "needs a number or a string, got a boolean",
        id="gt-bool",
    ),
    pytest.param(
        attr("tier", "in", "gold"),
        "criteria.value",
        "op 'in' needs a non-empty list of values, got a string",
        id="in-not-list",
    ),
    pytest.param(attr("tier", "in", []), "criteria.value", "non-empty list", id="in-empty"),
    pytest.param(
        attr("tier", "in", ["a", {}]), "criteria.value[1]", "got an object", id="in-bad-item"
    ),
    pytest.param(
        attr("visits", "in", ["1"]), "criteria.value[0]", "needs a number", id="in-counter-string"
    ),
    pytest.param(
        field("p", "starts_with", 1), "criteria.value", "needs a string", id="starts-with-number"
    ),
    pytest.param(
        field("p", "regex", "(a"),
        "criteria.value",
        "invalid regular expression: missing ): (a",
        id="bad-regex",
    ),
    pytest.param(
        field("p", "regex", "(a)\\1"),
        "criteria.value",
        "invalid regular expression: invalid escape sequence: \\1",
        id="regex-backreference-is-not-re2",
    ),
    pytest.param(
        field("p", "regex", "(?=a)a"),
        "criteria.value",
        "invalid regular expression: invalid perl operator: (?=",
        id="regex-lookahead-is-not-re2",
    ),
    pytest.param(
        {"segment": "vip", "op": "eq", "value": "yes"},
        "criteria.value",
        "needs true or false, got a string",
        id="segment-not-bool",
    ),
    pytest.param(
        {"any": [YES, {"not": {"all": [field("x", "regex", "[")]}}]},
        "criteria.any[1].not.all[0].value",
        "invalid regular expression",
        id="deep-path",
    ),
]


@pytest.mark.parametrize(("criteria", "path", "message"), ERRORS)
def test_invalid(criteria: object, path: str, message: str, catalog: Catalog) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_criteria(criteria, catalog)
    assert caught.value.path == path
    assert message in caught.value.message


def test_error_path_starts_where_the_caller_says(catalog: Catalog) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_criteria({"all": [brand("gt", 1)]}, catalog, "sections[1].criteria")
    assert caught.value.path == "sections[1].criteria.all[0].op"
    assert str(caught.value).startswith("sections[1].criteria.all[0].op: op 'gt' does not apply")


def test_compiled_criteria_do_not_read_the_json_again(
    catalog: Catalog, view: ProfileView, event: dict[str, object]
) -> None:
    criteria = {"all": [field("td_path", "regex", "/sale/.*"), attr("tier", "in", ["gold"])]}
    condition = compile_criteria(criteria, catalog)
    original = copy.deepcopy(criteria)
    criteria["all"] = []
    assert condition(view, event)
    assert compile_criteria(original, catalog)(view, event)


def test_a_regex_runs_in_linear_time_on_hostile_input(catalog: Catalog) -> None:
    """``(a+)+b`` backtracks exponentially in Python's ``re``; RE2 answers at once.

    No timing is asserted: with a backtracking engine this test would not finish at all.
    """
    condition = compile_criteria(field("td_path", "regex", "(a+)+b"), catalog)
    hostile = {"td_path": "a" * 64 * 1024}
    assert condition(ProfileView(), hostile) is False
    assert condition(ProfileView(), {"td_path": "aaab"}) is True


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)
SCALARS = st.booleans() | st.integers(-3, 3) | st.floats(-3, 3) | st.sampled_from(["", "a", "b"])


@given(subject=JSON, value=SCALARS)
def test_no_value_makes_an_op_raise_and_neq_is_not_eq(subject: object, value: object) -> None:
    operands = {"eq": value, "in": [value], "contains": value, "exists": _NONE}
    operands |= {"starts_with": "a", "regex": "a.*", "not_exists": _NONE}
    if not isinstance(value, bool):
        operands |= {"gt": value, "gte": value, "lt": value, "lte": value}
    event = {"f": subject}
    for op, operand in operands.items():
        result = compile_criteria(field("f", op, operand), Catalog())(ProfileView(), event)
        assert isinstance(result, bool)
    eq = compile_criteria(field("f", "eq", value), Catalog())(ProfileView(), event)
    neq = compile_criteria(field("f", "neq", value), Catalog())(ProfileView(), event)
    assert neq is not eq
