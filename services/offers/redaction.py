"""Redaction: what makes the public path answer a section as ``{}``.

A section is redacted on the public path when its payload or its criteria refers to
anything sensitive, whether or not it matched, so that the answer reveals nothing about
sensitive data. This module names those references; the engine applies the rule.

What counts as sensitive (fail closed: whatever cannot be shown safe is sensitive):

- a SINGLE or IMPORTED attribute, or a segment, that is not NON_SENSITIVE: UNSPECIFIED
  is what everything carries before the sensitivity feature flag is on;
- a LIST aggregation that is not NON_SENSITIVE itself, or whose LIST is marked SENSITIVE
  as a whole. A LIST named without an aggregation refers to all its aggregations, each on
  its own, so a section using only non-sensitive aggregations is not redacted;
- never a COUNTER: it only counts, and the profile service refuses a sensitive one;
- any name the catalog does not know: nothing shows it safe.

The walk does not follow the criteria grammar: it collects every "attribute" and
"segment" key anywhere in the criteria and payload, so that a new kind of node cannot
slip past redaction. Only static values are skipped: they are data, not references.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from services.offers.catalog import AttributeType, Catalog, Sensitivity


def sensitive_references(section: Mapping[str, object], catalog: Catalog) -> list[str]:
    """Name, sorted, every sensitive thing ``section`` refers to.

    Names read ``"membership_tier"`` for an attribute, ``"recent_products/brand"`` for a
    LIST aggregation and ``"segment:vip"`` for a segment.
    """
    names: set[str] = set()
    for kind, name, aggregation in references([section.get("criteria"), section.get("payload")]):
        names.update(_sensitive(kind, name, aggregation, catalog))
    return sorted(names)


def references(node: object) -> Iterator[tuple[str, str, str | None]]:
    """Yield ``(kind, name, aggregation)`` for every reference anywhere in ``node``.

    ``kind`` is ``"attribute"`` or ``"segment"``. The same walk serves redaction and the
    profile service's question whether a deletion would break a personalization, so the
    two can never disagree about what a section refers to.
    """
    if isinstance(node, Mapping):
        if "attribute" in node:
            aggregation = node.get("aggregation")
            of = None if aggregation is None else str(aggregation)
            yield "attribute", str(node["attribute"]), of
        if "segment" in node:
            yield "segment", str(node["segment"]), None
        for key, child in node.items():
            if key != "static":
                yield from references(child)
    elif isinstance(node, list):
        for child in node:
            yield from references(child)


def _sensitive(kind: str, name: str, aggregation: str | None, catalog: Catalog) -> Iterator[str]:
    if kind == "segment":
        if _unsafe(catalog.segments.get(name)):
            yield f"segment:{name}"
        return
    attribute = catalog.attributes.get(name)
    if attribute is None:
        yield name if aggregation is None else f"{name}/{aggregation}"
    elif attribute.type is AttributeType.LIST:
        wholly = attribute.sensitivity is Sensitivity.SENSITIVE
        for each in attribute.aggregations if aggregation is None else [aggregation]:
            if wholly or _unsafe(attribute.aggregations.get(each)):
                yield f"{name}/{each}"
    elif attribute.type is not AttributeType.COUNTER and _unsafe(attribute.sensitivity):
        yield name


def _unsafe(sensitivity: Sensitivity | None) -> bool:
    return sensitivity is not Sensitivity.NON_SENSITIVE
