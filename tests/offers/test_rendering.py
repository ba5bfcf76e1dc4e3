"""Rendering: field sources, JSON numbers, missing values, validation and size warnings."""

from __future__ import annotations

import json
import math

import pytest

from services.offers.catalog import Attribute, AttributeType, Catalog, ProfileView, Sensitivity
from services.offers.errors import InvalidConfigError
from services.offers.rendering import (
    MAX_FIELDS,
    MAX_SECTION_BYTES,
    VALUE_LIMIT,
    compile_payload,
    to_json,
)

_NS = Sensitivity.NON_SENSITIVE


def test_renders_every_source_in_field_order(catalog: Catalog, view: ProfileView) -> None:
    payload = compile_payload(
        [
            {"name": "welcome", "static": "Hello!"},
            {"name": "tier", "attribute": "tier"},
            {"name": "total", "attribute": "total_purchase"},
            {"name": "brands", "attribute": "recent_products", "aggregation": "brand"},
            {"name": "categories", "attribute": "recent_categories"},
            {"name": "is_subscriber", "segment": "newsletter"},
            {"name": "is_beta", "segment": "beta"},
            {"name": "a_static_object", "static": {"ok": True, "n": [1.0, 2.5]}},
        ],
        catalog,
    )
    rendered = payload.render(view)
    assert rendered == {
        "attributes": {
            "welcome": "Hello!",
            "tier": "gold",
            "total": 28700,
            "brands": ["acme", "zeta"],
            "categories": {"name": []},
            "is_subscriber": True,
            "is_beta": False,
            "a_static_object": {"ok": True, "n": [1, 2.5]},
        }
    }
    assert list(rendered["attributes"]) == [  # type: ignore[call-overload]
        "welcome",
        "tier",
        "total",
        "brands",
        "categories",
        "is_subscriber",
        "is_beta",
        "a_static_object",
    ]


def test_integral_floats_print_as_integers(catalog: Catalog, view: ProfileView) -> None:
    payload = compile_payload(
        [
            {"name": "total_purchase", "attribute": "total_purchase"},
            {"name": "prices", "attribute": "recent_products", "aggregation": "price"},
        ],
        catalog,
    )
    text = json.dumps(payload.render(view))
    assert '"total_purchase": 28700,' in text
    assert "28700.0" not in text
    assert '"prices": [19.99, 5]' in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(28700.0, 28700, id="integral-float"),
        pytest.param(-3.0, -3, id="negative-integral-float"),
        pytest.param(4.5, 4.5, id="fraction"),
        pytest.param(2.0**53, 2**53, id="largest-exact"),
        pytest.param(1e300, 1e300, id="too-large-to-be-exact"),
        pytest.param(math.inf, None, id="infinity"),
        pytest.param(math.nan, None, id="nan"),
        pytest.param(True, True, id="bool-stays-bool"),
        pytest.param(7, 7, id="int"),
        pytest.param("7.0", "7.0", id="string"),
        pytest.param(None, None, id="null"),
        pytest.param((1.0, [2.0, {"x": 3.0}]), [1, [2, {"x": 3}]], id="nested"),
    ],
)
def test_to_json(value: object, expected: object) -> None:
    result = to_json(value)
    assert result == expected
    assert type(result) is type(expected)


def test_missing_values_keep_the_shape(catalog: Catalog) -> None:
    payload = compile_payload(
        [
            {"name": "nickname", "attribute": "nickname"},
            {"name": "visits", "attribute": "visits"},
            {"name": "brands", "attribute": "recent_products", "aggregation": "brand"},
            {"name": "products", "attribute": "recent_products"},
            {"name": "vip", "segment": "vip"},
        ],
        catalog,
    )
    assert payload.render(ProfileView()) == {
        "attributes": {
            "nickname": None,
            "visits": 0,
            "brands": [],
            "products": {"brand": [], "sku": [], "price": []},
            "vip": False,
        }
    }


def test_odd_profile_shapes_do_not_raise(catalog: Catalog) -> None:
    payload = compile_payload(
        [{"name": "products", "attribute": "recent_products"}, {"name": "t", "attribute": "tier"}],
        catalog,
    )
    odd = ProfileView({"recent_products": {"brand": "acme", "sku": None}, "tier": ["x", 1.0]})
    assert payload.render(odd) == {
        "attributes": {"products": {"brand": [], "sku": [], "price": []}, "t": ["x", 1]}
    }
    assert payload.render(ProfileView({"recent_products": "x"}))["attributes"] == {
        "products": {"brand": [], "sku": [], "price": []},
        "t": None,
    }


def test_renders_never_share_a_mutable_value(catalog: Catalog, view: ProfileView) -> None:
    payload = compile_payload(
        [
            {"name": "object", "static": {"items": [1, 2]}},
            {"name": "brands", "attribute": "recent_products", "aggregation": "brand"},
        ],
        catalog,
    )
    first = payload.render(view)
    first["attributes"]["object"]["items"].append(3)  # type: ignore[index]
    first["attributes"]["brands"].append("x")  # type: ignore[index]
    assert payload.render(view)["attributes"] == {
        "object": {"items": [1, 2]},
        "brands": ["acme", "zeta"],
    }
    assert view.attributes["recent_products"] == {  # the profile itself is untouched too
        "brand": ["acme", "zeta"],
        "sku": ["A-1", "Z-9"],
        "price": [19.99, 5.0],
    }


def test_a_missing_payload_renders_no_attributes(catalog: Catalog, view: ProfileView) -> None:
    assert compile_payload(None, catalog).render(view) == {"attributes": {}}
    assert compile_payload([], catalog).render(view) == {"attributes": {}}


ERRORS = [
    pytest.param({"name": "x"}, "payload", "expected a list of fields, got an object", id="object"),
    pytest.param(["x"], "payload[0]", "expected an object, got a string", id="field-string"),
    pytest.param([{"static": 1}], "payload[0].name", "'name' is required", id="no-name"),
    pytest.param([{"name": "", "static": 1}], "payload[0].name", "empty string", id="empty-name"),
    pytest.param([{"name": 1, "static": 1}], "payload[0].name", "got a number", id="number-name"),
    pytest.param(
        [{"name": "x"}],
        "payload[0]",
        "a field needs exactly one of static, attribute, segment; found none",
        id="no-source",
    ),
    pytest.param(
        [{"name": "x", "static": 1, "segment": "vip"}],
        "payload[0]",
        "found static, segment",
        id="two-sources",
    ),
    pytest.param(
        [{"name": "x", "static": 1, "alias": "y"}],
        "payload[0].alias",
        "unknown key 'alias'; expected name, static, attribute, segment, aggregation",
        id="unknown-key",
    ),
    pytest.param(
        [{"name": "x", "static": 1, "aggregation": "brand"}],
        "payload[0].aggregation",
        "'aggregation' goes with 'attribute' only",
        id="aggregation-without-attribute",
    ),
    pytest.param(
        [{"name": "x", "attribute": "tier", "aggregation": "brand"}],
        "payload[0].aggregation",
        "only LIST attributes have aggregations",
        id="aggregation-on-single",
    ),
    pytest.param(
        [{"name": "x", "attribute": "recent_products", "aggregation": "skus"}],
        "payload[0].aggregation",
        "did you mean 'sku'?",
        id="unknown-aggregation",
    ),
    pytest.param(
        [{"name": "x", "attribute": "first_nam"}],
        "payload[0].attribute",
        "no attribute named 'first_nam' in this parent segment; did you mean 'first_name'?",
        id="unknown-attribute",
    ),
    pytest.param(
        [{"name": "x", "segment": "gold"}],
        "payload[0].segment",
        "no segment named 'gold'",
        id="unknown-segment",
    ),
    pytest.param(
        [{"name": "a", "static": 1}, {"name": "b", "static": 2}, {"name": "a", "static": 3}],
        "payload[2].name",
        "alias 'a' is already used by payload[0]",
        id="duplicate-alias",
    ),
]


@pytest.mark.parametrize(("payload", "path", "message"), ERRORS)
def test_invalid(payload: object, path: str, message: str, catalog: Catalog) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_payload(payload, catalog)
    assert caught.value.path == path
    assert message in caught.value.message


def _statics(count: int) -> list[dict[str, object]]:
    return [{"name": f"f{i}", "static": i} for i in range(count)]


def test_more_than_20_fields_warns(catalog: Catalog) -> None:
    assert compile_payload(_statics(MAX_FIELDS), catalog).warnings == ()
    (warning,) = compile_payload(_statics(MAX_FIELDS + 1), catalog, "sections[0].payload").warnings
    assert warning.path == "sections[0].payload"
    assert "21 fields: more than 20" in warning.message


@pytest.mark.parametrize(
    ("max_items", "warns"),
    [pytest.param(10, False, id="10-items"), pytest.param(100, True, id="100-items")],
)
def test_a_list_that_could_render_over_10_kib_warns(max_items: int, warns: bool) -> None:
    catalog = Catalog(
        {"recent": Attribute(AttributeType.LIST, aggregations={"sku": _NS}, max_items=max_items)}
    )
    payload = compile_payload(
        [{"name": "skus", "attribute": "recent", "aggregation": "sku"}], catalog
    )
    assert bool(payload.warnings) is warns
    if warns:
        assert f"over {MAX_SECTION_BYTES}" in payload.warnings[0].message


def test_the_size_estimate_is_the_worst_case_exactly() -> None:
    """Every value at its limit renders to exactly the estimate, so it is a true bound."""
    catalog = Catalog(
        {
            "name": Attribute(AttributeType.SINGLE, _NS),
            "visits": Attribute(AttributeType.COUNTER, _NS),
            "recent": Attribute(AttributeType.LIST, _NS, {"sku": _NS, "brand": _NS}, max_items=3),
        },
        segments={"vip": _NS},
    )
    payload = compile_payload(
        [
            {"name": "greeting", "static": {"text": "héllo", "n": [1, 2]}},
            {"name": "name", "attribute": "name"},
            {"name": "visits", "attribute": "visits"},
            {"name": "skus", "attribute": "recent", "aggregation": "sku"},
            {"name": "everything", "attribute": "recent"},
            {"name": "vip", "segment": "vip"},
        ],
        catalog,
    )
    longest = "é" * (VALUE_LIMIT // 2)
    full = [longest] * 3
    worst = ProfileView(
        {"name": longest, "visits": -1.7976931348623157e308, "recent": {"sku": full, "brand": full}}
    )
    rendered = json.dumps(payload.render(worst), ensure_ascii=False, separators=(",", ":"))
    assert len(rendered.encode()) == payload.max_bytes
