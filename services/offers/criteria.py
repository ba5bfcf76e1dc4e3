"""Criteria: when a section fires.

A criteria tree is validated and compiled once per configuration version into nested
closures, so that a request only calls functions: no JSON is re-read and no regular
expression re-compiled per evaluation. Evaluation never raises: a value of the wrong
type simply does not match, because one odd profile value must not fail a request.

Grammar: ``{"all": [c, ...]}``, ``{"any": [c, ...]}``, ``{"not": c}`` and leaves
``{"attribute" | "event" | "segment": name, "op": op, "value": v}``; a LIST attribute's
leaf also names its ``"aggregation"``. ``{"segment": s}`` is short for
``{"segment": s, "op": "eq", "value": true}``. An empty or missing criteria matches.

Which ops apply to which subject (anything else is refused when the section is saved)::

                        eq neq gt gte lt lte in contains exists not_exists starts_with regex
    SINGLE, IMPORTED,   x  x   x  x   x  x   x  x        x      x          x           x
      event field
    COUNTER             x  x   x  x   x  x   x                       (values are numbers)
    LIST aggregation                         x  x        x      x
    segment             x  x                                         (values are booleans)

Semantics:

- A value is *missing* when absent, null or an empty list. Every op but ``not_exists``
  and ``neq`` is false on it; ``neq`` is exactly ``not eq``.
- Numbers compare by value (``1 == 1.0``); a boolean is not a number (``true != 1``).
- ``gt``/``gte``/``lt``/``lte`` compare two numbers, or two strings by code point (so
  ISO-8601 dates order correctly); any other pair is false.
- ``in``: the value equals one of the listed values; for a list, any of its items does.
- ``contains``: a list has an item equal to the value, or a string has it as a substring.
- ``starts_with`` and ``regex`` apply to strings only; ``regex`` must match the whole
  string, as event filters and stitching keys do. Patterns are RE2's syntax and run on
  RE2, in time linear in the input: the pattern is an editor's, but on the public path
  the string is anyone's, and a backtracking engine would let one crafted event stall
  the service (``(a+)+b`` against 64 KiB of ``a``). Backreferences and lookarounds,
  which RE2 lacks, are refused on save; ``\\d``, ``\\w`` and ``\\s`` are ASCII only.
- A COUNTER nothing has incremented is 0, so ``exists``/``not_exists`` do not apply.
- A LIST is tested one aggregation at a time: a leaf without one would be ambiguous.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeGuard

from services.common.regex import RegexError, compile_linear, regex_message
from services.offers.catalog import AttributeType, Catalog, ProfileView
from services.offers.errors import InvalidConfigError, expect_name, expect_object, json_type

Condition = Callable[[ProfileView, Mapping[str, object]], bool]
"""A compiled criteria tree: does it match this profile and this incoming event?"""

OPS = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "contains",
    "exists",
    "not_exists",
    "starts_with",
    "regex",
)

_OPS_FOR = {
    # SINGLE and IMPORTED attributes and event fields: their type is only known at runtime.
    "value": frozenset(OPS),
    "counter": frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in"}),
    "list": frozenset({"in", "contains", "exists", "not_exists"}),
    "segment": frozenset({"eq", "neq"}),
}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_NODE_KINDS = ("all", "any", "not", "attribute", "event", "segment")
_MISSING = object()


class _Subject(NamedTuple):
    """What a leaf tests: its kind (a key of ``_OPS_FOR``), its name in messages, its value."""

    kind: str
    label: str
    get: Callable[[ProfileView, Mapping[str, object]], object]


class _Expected(NamedTuple):
    description: str
    accepts: Callable[[object], bool]


def compile_criteria(criteria: object, catalog: Catalog, path: str = "criteria") -> Condition:
    """Validate ``criteria`` against ``catalog`` and compile it.

    Raises ``InvalidConfigError`` at the path of the first mistake (``path`` is the
    criteria's own, e.g. ``sections[1].criteria``).
    """
    if criteria is None or (isinstance(criteria, Mapping) and not criteria):
        return _always
    return _compile(criteria, catalog, path)


def _always(_view: ProfileView, _event: Mapping[str, object]) -> bool:
    return True


def _compile(node: object, catalog: Catalog, path: str) -> Condition:
    if not isinstance(node, Mapping):
        raise InvalidConfigError(path, f"expected a condition object, got {json_type(node)}")
    kinds = [key for key in _NODE_KINDS if key in node]
    if len(kinds) != 1:
        found = ", ".join(kinds or node) or "no key"
        raise InvalidConfigError(
            path, f"a condition needs exactly one of {', '.join(_NODE_KINDS)}; found {found}"
        )
    kind = kinds[0]
    if kind == "not":
        expect_object(node, path, required=["not"])
        inner = _compile(node["not"], catalog, f"{path}.not")
        return lambda view, event: not inner(view, event)
    if kind in ("all", "any"):
        expect_object(node, path, required=[kind])
        children = node[kind]
        if not isinstance(children, list) or not children:
            got = "" if isinstance(children, list) else f", got {json_type(children)}"
            raise InvalidConfigError(
                f"{path}.{kind}", f"expected a non-empty list of conditions{got}"
            )
        parts = [_compile(part, catalog, f"{path}.{kind}[{i}]") for i, part in enumerate(children)]
        combine = all if kind == "all" else any
        return lambda view, event: combine(part(view, event) for part in parts)
    return _compile_leaf(node, kind, catalog, path)


def _compile_leaf(node: Mapping[str, object], kind: str, catalog: Catalog, path: str) -> Condition:
    optional = ("aggregation", "op", "value") if kind == "attribute" else ("op", "value")
    expect_object(node, path, required=[kind], optional=optional)
    subject = _subject(node, kind, catalog, path)
    if kind == "segment" and node.keys() == {"segment"}:
        node = {"segment": node["segment"], "op": "eq", "value": True}
    applicable = [op for op in OPS if op in _OPS_FOR[subject.kind]]
    op = node.get("op")
    if not isinstance(op, str) or op not in OPS:
        problem = "'op' is required" if op is None else f"unknown op {op!r}"
        raise InvalidConfigError(
            f"{path}.op", f"{problem}; {subject.label} takes {', '.join(applicable)}"
        )
    if op not in applicable:
        raise InvalidConfigError(
            f"{path}.op",
            f"op {op!r} does not apply to {subject.label}; use {', '.join(applicable)}",
        )
    test = _compile_test(op, node, subject, f"{path}.value")
    get = subject.get
    return lambda view, event: test(get(view, event))


def _subject(node: Mapping[str, object], kind: str, catalog: Catalog, path: str) -> _Subject:
    if kind == "event":
        field = expect_name(node["event"], f"{path}.event")
        return _Subject("value", f"event field {field!r}", lambda _view, e: _present(e.get(field)))
    if kind == "segment":
        segment = catalog.segment(node["segment"], f"{path}.segment")
        return _Subject(
            "segment", f"segment {segment!r}", lambda view, _e: segment in view.segments
        )
    name, attribute = catalog.attribute(node["attribute"], f"{path}.attribute")
    if attribute.type is AttributeType.LIST or "aggregation" in node:
        if "aggregation" not in node:
            raise InvalidConfigError(
                f"{path}.aggregation",
                f"required for LIST attribute {name!r}: one of {', '.join(attribute.aggregations)}",
            )
        aggregation = catalog.aggregation(name, node["aggregation"], f"{path}.aggregation")
        return _Subject(
            "list",
            f"LIST aggregation '{name}/{aggregation}'",
            lambda view, _e: _present(view.items(name, aggregation)),
        )
    if attribute.type is AttributeType.COUNTER:
        return _Subject("counter", f"counter {name!r}", lambda view, _e: view.counter(name))
    return _Subject("value", f"attribute {name!r}", lambda view, _e: _present(view.scalar(name)))


def _compile_test(
    op: str, node: Mapping[str, object], subject: _Subject, path: str
) -> Callable[[object], bool]:
    """Validate the leaf's value for ``op`` (``path`` is the value's) and compile the test."""
    if op in ("exists", "not_exists"):
        if "value" in node:
            raise InvalidConfigError(path, f"op {op!r} takes no value")
        if op == "exists":
            return lambda value: value is not _MISSING
        return lambda value: value is _MISSING
    if "value" not in node:
        raise InvalidConfigError(path, f"op {op!r} needs a value")
    expected = _expected(op, subject.kind)
    target = node["value"]
    if op == "in":
        return _compile_in(target, expected, subject, path)
    _check(target, expected, path, op, subject)
    return _compile_against(op, target, path)


def _compile_in(
    target: object, expected: _Expected, subject: _Subject, path: str
) -> Callable[[object], bool]:
    if not isinstance(target, list) or not target:
        got = "" if isinstance(target, list) else f", got {json_type(target)}"
        raise InvalidConfigError(path, f"op 'in' needs a non-empty list of values{got}")
    for i, item in enumerate(target):
        _check(item, expected, f"{path}[{i}]", "in", subject)
    keys = frozenset(_key(item) for item in target)
    return lambda value: (
        any(_key(item) in keys for item in value)
        if isinstance(value, list)
        else _key(value) in keys
    )


def _compile_against(op: str, target: object, path: str) -> Callable[[object], bool]:
    """The test of a one-value ``op`` against ``target``, already checked for its type."""
    if op in ("eq", "neq"):
        key = _key(target)
        if op == "eq":
            return lambda value: _key(value) == key
        return lambda value: _key(value) != key
    if op in _ORDER:
        compare = _ORDER[op]
        if isinstance(target, str):
            return lambda value: isinstance(value, str) and compare(value, target)
        return lambda value: _is_number(value) and compare(value, target)
    if op == "contains":
        key = _key(target)
        return lambda value: (
            any(_key(item) == key for item in value)
            if isinstance(value, list)
            else isinstance(value, str) and isinstance(target, str) and target in value
        )
    text = str(target)  # a string: checked above
    if op == "starts_with":
        return lambda value: isinstance(value, str) and value.startswith(text)
    try:
        pattern = compile_linear(text)
    except RegexError as error:
        raise InvalidConfigError(
            path, f"invalid regular expression: {regex_message(error)}"
        ) from None
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


_SCALAR = _Expected("a string, number or boolean", lambda v: isinstance(v, str | int | float))
_ORDERED = _Expected("a number or a string", lambda v: isinstance(v, str) or _is_number(v))
_NUMBER = _Expected("a number", _is_number)
_BOOLEAN = _Expected("true or false", lambda v: isinstance(v, bool))
_STRING = _Expected("a string", lambda v: isinstance(v, str))


def _expected(op: str, kind: str) -> _Expected:
    if kind == "counter":
        return _NUMBER
    if kind == "segment":
        return _BOOLEAN
    if op in _ORDER:
        return _ORDERED
    if op in ("starts_with", "regex"):
        return _STRING
    return _SCALAR


def _check(value: object, expected: _Expected, path: str, op: str, subject: _Subject) -> None:
    if not expected.accepts(value):
        raise InvalidConfigError(
            path,
            f"op {op!r} on {subject.label} needs {expected.description}, got {json_type(value)}",
        )


def _present(value: object) -> object:
    """Fold the ways of having no value into one, so that each op handles it once."""
    return _MISSING if value is None or (isinstance(value, list) and not value) else value


def _key(value: object) -> tuple[str, object] | None:
    """A hashable identity under which ``1 == 1.0`` but ``true != 1`` and ``"1" != 1``."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    return None
