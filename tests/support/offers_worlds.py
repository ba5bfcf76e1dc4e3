"""Random worlds for the redaction property: catalogs, personalizations, profiles, events.

Shared by the engine's property test and the offers service's, which checks the same rule
through the RPC layer. Sensitive values are unique markers, so that a leak is a substring;
the rule for what is secret is restated here on purpose, independently of redaction.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from services.offers.catalog import Attribute, AttributeType, Catalog, ProfileView, Sensitivity
from services.offers.engine import Personalization

SINGLE, LIST, COUNTER, IMPORTED = list(AttributeType)
NON_SENSITIVE = Sensitivity.NON_SENSITIVE


SENSITIVITIES = st.sampled_from(list(Sensitivity))
POOL: list[object] = ["red", "blue", 1, 2.5, True]
EVENTS = ["view", "click"]
MARK = "SECRET"


@dataclass(frozen=True)
class World:
    catalog: Catalog
    personalizations: list[Personalization]
    secret_sections: frozenset[str]
    always_matching: dict[str, list[str]]  # non-secret sections without criteria -> aliases
    view: ProfileView
    twin: ProfileView  # the same profile with other sensitive values
    event: dict[str, object]
    matched: list[str]


def _is_secret(catalog: Catalog, name: str, aggregation: str | None = None) -> bool:
    if name.startswith("segment:"):
        return catalog.segments[name.removeprefix("segment:")] is not NON_SENSITIVE
    attribute = catalog.attributes[name]
    if attribute.type is COUNTER:
        return False
    if attribute.type is LIST:
        if aggregation is None:
            return any(_is_secret(catalog, name, each) for each in attribute.aggregations)
        wholly = attribute.sensitivity is Sensitivity.SENSITIVE
        return wholly or attribute.aggregations[aggregation] is not NON_SENSITIVE
    return attribute.sensitivity is not NON_SENSITIVE


@st.composite
def worlds(draw: st.DrawFn) -> World:
    catalog = _catalog(draw)
    secret_segments = sorted(s for s in catalog.segments if _is_secret(catalog, f"segment:{s}"))
    public = _Public(
        _public_values(draw, catalog),
        frozenset(_subset(draw, sorted(set(catalog.segments) - set(secret_segments)))),
        secret_segments,
    )
    sections: list[list[dict[str, object]]] = [[], []]
    secret_sections, always_matching = set(), {}
    for k, owner in enumerate(draw(st.lists(st.integers(0, 1), min_size=1, max_size=5))):
        name, (tree, secret) = f"sec{k}", _criteria(draw, catalog)
        fields = [_field(draw, catalog, f"f{i}") for i in range(draw(st.integers(0, 4)))]
        sections[owner].append({"name": name, "criteria": tree, "payload": [f for f, _ in fields]})
        if secret or any(s for _, s in fields):
            secret_sections.add(name)
        elif not tree:
            always_matching[name] = [f"f{i}" for i in range(len(fields))]
    triggers = st.lists(st.sampled_from(EVENTS), min_size=1, unique=True)
    return World(
        catalog,
        [Personalization(f"p{i}", draw(triggers), s) for i, s in enumerate(sections)],
        frozenset(secret_sections),
        always_matching,
        _profile(draw, catalog, public, MARK),
        _profile(draw, catalog, public, f"{MARK}'"),
        {"e0": _pick(draw, [*POOL, None]), "e1": draw(st.lists(st.sampled_from(POOL)))},
        draw(st.lists(st.sampled_from(EVENTS), unique=True)),
    )


@dataclass(frozen=True)
class _Public:
    """The profile's non-sensitive data, shared by the view and its twin."""

    values: dict[str, Any]
    members: frozenset[str]
    secret_segments: list[str]


def _pick(draw: st.DrawFn, options: list[Any]) -> Any:
    return draw(st.sampled_from(options))


def _subset(draw: st.DrawFn, options: list[str]) -> set[str]:
    return draw(st.sets(st.sampled_from(options))) if options else set()


def _catalog(draw: st.DrawFn) -> Catalog:
    attributes = {}
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(list(AttributeType)))
        count = draw(st.integers(1, 3)) if kind is LIST else 0
        aggregations = {f"g{j}": draw(SENSITIVITIES) for j in range(count)}
        attributes[f"a{i}"] = Attribute(kind, draw(SENSITIVITIES), aggregations, max_items=3)
    segments = {f"s{i}": draw(SENSITIVITIES) for i in range(draw(st.integers(0, 3)))}
    return Catalog(attributes, segments, frozenset(EVENTS))


def _public_values(draw: st.DrawFn, catalog: Catalog) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, attribute in catalog.attributes.items():
        if attribute.type is COUNTER:
            values[name] = float(draw(st.integers(0, 3)))
        elif attribute.type is LIST:
            values[name] = {
                agg: draw(st.lists(st.sampled_from(POOL), max_size=3))
                for agg in attribute.aggregations
                if not _is_secret(catalog, name, agg)
            }
        elif not _is_secret(catalog, name) and draw(st.booleans()):
            values[name] = _pick(draw, POOL)
    return values


def _profile(draw: st.DrawFn, catalog: Catalog, public: _Public, mark: str) -> ProfileView:
    values = {name: copy.deepcopy(value) for name, value in public.values.items()}
    for name, attribute in catalog.attributes.items():
        for agg in attribute.aggregations:
            if _is_secret(catalog, name, agg):
                items = range(draw(st.integers(0, 3)))
                values[name][agg] = [f"{mark}<{name}/{agg}#{k}>" for k in items]
        if attribute.type is not LIST and _is_secret(catalog, name) and draw(st.booleans()):
            values[name] = f"{mark}<{name}>"
    return ProfileView(values, frozenset(public.members | _subset(draw, public.secret_segments)))


def _leaf(draw: st.DrawFn, catalog: Catalog) -> tuple[dict[str, object], bool]:
    segments, attributes = catalog.segments, catalog.attributes
    kind = _pick(draw, ["attribute", "event", "segment"] if segments else ["attribute", "event"])
    if kind == "event":
        op = _pick(draw, ["eq", "neq", "contains", "exists"])
        operand = {} if op == "exists" else {"value": _pick(draw, POOL)}
        return {"event": _pick(draw, ["e0", "e1"]), "op": op, **operand}, False
    if kind == "segment":
        segment = _pick(draw, sorted(segments))
        return {"segment": segment}, _is_secret(catalog, f"segment:{segment}")
    name = _pick(draw, sorted(attributes))
    attribute = attributes[name]
    if attribute.type is COUNTER:
        op = _pick(draw, ["eq", "neq", "gt", "lt", "in"])
        value = draw(st.integers(0, 3))
        return {"attribute": name, "op": op, "value": [value] if op == "in" else value}, False
    ops = ["contains", "in", "exists", "not_exists"]
    if attribute.type is LIST:
        agg = _pick(draw, sorted(attribute.aggregations))
        node: dict[str, object] = {"attribute": name, "aggregation": agg}
        candidates = [*POOL, *(f"{MARK}<{name}/{agg}#{k}>" for k in range(3))]
        secret = _is_secret(catalog, name, agg)
    else:
        node, candidates = {"attribute": name}, [*POOL, f"{MARK}<{name}>"]
        ops, secret = [*ops, "eq", "neq"], _is_secret(catalog, name)
    op = _pick(draw, ops)
    if op in ("exists", "not_exists"):
        return node | {"op": op}, secret
    many = st.lists(st.sampled_from(candidates), min_size=1)
    chosen = draw(many) if op == "in" else _pick(draw, candidates)
    return node | {"op": op, "value": chosen}, secret


def _criteria(draw: st.DrawFn, catalog: Catalog) -> tuple[object, bool]:
    leaves = [_leaf(draw, catalog) for _ in range(draw(st.integers(0, 3)))]
    if not leaves:
        return _pick(draw, [{}, None]), False
    if len(leaves) == 1 and draw(st.booleans()):
        return leaves[0]
    nodes = [node for node, _ in leaves]
    tree = _pick(draw, [{"all": nodes}, {"any": nodes}, {"not": {"any": nodes}}])
    return tree, any(secret for _, secret in leaves)


def _field(draw: st.DrawFn, catalog: Catalog, alias: str) -> tuple[dict[str, object], bool]:
    segments, attributes = catalog.segments, catalog.attributes
    kind = _pick(draw, ["static", "attribute", "segment"] if segments else ["static", "attribute"])
    if kind == "static":
        value = draw(st.text("abcxyz", max_size=4) | st.integers() | st.lists(st.integers()))
        return {"name": alias, "static": value}, False
    if kind == "segment":
        segment = _pick(draw, sorted(segments))
        return {"name": alias, "segment": segment}, _is_secret(catalog, f"segment:{segment}")
    name = _pick(draw, sorted(attributes))
    aggregations = sorted(attributes[name].aggregations)
    agg = draw(st.none() | st.sampled_from(aggregations)) if aggregations else None
    node = {"name": alias, "attribute": name} | ({"aggregation": agg} if agg else {})
    return node, _is_secret(catalog, name, agg)
