"""Redaction: which references make a section sensitive, in payload and in criteria.

conftest.py's catalog: tier, age, nickname are NON_SENSITIVE; first_name and
membership_tier SENSITIVE; legacy_code UNSPECIFIED; the counters visits (UNSPECIFIED)
and cart_adds (SENSITIVE) are counters; recent_products has brand and sku
NON_SENSITIVE and price SENSITIVE; viewed_pages is a LIST marked SENSITIVE as a whole
over a NON_SENSITIVE path; segments: vip SENSITIVE, newsletter NON_SENSITIVE, beta
UNSPECIFIED.
"""

from __future__ import annotations

import pytest

from services.offers.catalog import Catalog
from services.offers.redaction import sensitive_references


def payload(*fields: dict[str, object]) -> dict[str, object]:
    return {"name": "s", "payload": list(fields)}


def criteria(node: object) -> dict[str, object]:
    return {"name": "s", "criteria": node}


def attr(name: str, **extra: object) -> dict[str, object]:
    return {"name": "alias", "attribute": name, **extra}


CASES = [
    pytest.param({"name": "s"}, [], id="empty-section"),
    pytest.param(payload({"name": "m", "static": "Hello"}), [], id="static-only"),
    pytest.param(payload(attr("tier"), attr("age")), [], id="non-sensitive-attributes"),
    pytest.param(payload(attr("first_name")), ["first_name"], id="sensitive-in-payload"),
    pytest.param(
        payload({"name": "code", "static": "LOYAL-15"}, attr("membership_tier")),
        ["membership_tier"],
        id="loyalty-discount",
    ),
    pytest.param(
        criteria({"attribute": "membership_tier", "op": "eq", "value": "gold"}),
        ["membership_tier"],
        id="sensitive-in-criteria-only",
    ),
    pytest.param(
        criteria({"any": [{"event": "x", "op": "exists"}, {"not": {"all": [{"segment": "vip"}]}}]}),
        ["segment:vip"],
        id="nested-criteria",
    ),
    pytest.param(payload(attr("legacy_code")), ["legacy_code"], id="unspecified-fails-closed"),
    pytest.param(payload(attr("visits"), attr("cart_adds")), [], id="counters-never"),
    pytest.param(
        payload(attr("recent_products", aggregation="brand")), [], id="non-sensitive-aggregation"
    ),
    pytest.param(
        payload(attr("recent_products", aggregation="price")),
        ["recent_products/price"],
        id="sensitive-aggregation",
    ),
    pytest.param(
        payload(attr("recent_products")),
        ["recent_products/price"],
        id="list-without-aggregation-means-all",
    ),
    pytest.param(
        criteria({"attribute": "recent_products", "aggregation": "price", "op": "exists"}),
        ["recent_products/price"],
        id="sensitive-aggregation-in-criteria",
    ),
    pytest.param(
        payload(attr("viewed_pages", aggregation="path")),
        ["viewed_pages/path"],
        id="list-marked-sensitive-as-a-whole",
    ),
    pytest.param(payload({"name": "n", "segment": "newsletter"}), [], id="non-sensitive-segment"),
    pytest.param(payload({"name": "v", "segment": "vip"}), ["segment:vip"], id="sensitive-seg"),
    pytest.param(criteria({"segment": "beta"}), ["segment:beta"], id="unspecified-segment"),
    pytest.param(payload(attr("ghost")), ["ghost"], id="unknown-attribute-fails-closed"),
    pytest.param(
        payload(attr("recent_products", aggregation="ghost")),
        ["recent_products/ghost"],
        id="unknown-aggregation-fails-closed",
    ),
    pytest.param(criteria({"segment": "ghost"}), ["segment:ghost"], id="unknown-segment"),
    pytest.param(
        criteria({"some_future_node": [{"attribute": "first_name"}]}),
        ["first_name"],
        id="walk-does-not-depend-on-the-grammar",
    ),
    pytest.param(
        payload({"name": "s", "static": {"attribute": "first_name", "segment": "vip"}}),
        [],
        id="static-values-are-data",
    ),
    pytest.param(
        {
            "name": "s",
            "criteria": {
                "all": [
                    {"segment": "vip"},
                    {"attribute": "first_name", "op": "exists"},
                    {"attribute": "tier", "op": "exists"},
                ]
            },
            "payload": [
                attr("first_name"),
                attr("membership_tier"),
                attr("recent_products"),
                {"name": "v", "segment": "vip"},
            ],
        },
        ["first_name", "membership_tier", "recent_products/price", "segment:vip"],
        id="sorted-and-unique-across-payload-and-criteria",
    ),
]


@pytest.mark.parametrize(("section", "expected"), CASES)
def test_sensitive_references(
    section: dict[str, object], expected: list[str], catalog: Catalog
) -> None:
    assert sensitive_references(section, catalog) == expected
