"""Engine: the guide's examples, the redaction rule end to end, configuration errors, and
the property that no sensitive value ever reaches a public answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import find, given, settings
from support import offers_shop as shop
from support.offers_worlds import MARK, World, worlds

from services.offers.catalog import Attribute, AttributeType, Catalog, ProfileView, Sensitivity
from services.offers.engine import (
    CompiledConfig,
    Personalization,
    SectionOutcome,
    compile_each,
    compile_personalizations,
)
from services.offers.errors import InvalidConfigError
from services.offers.rendering import ConfigWarning

SINGLE, LIST, COUNTER, IMPORTED = list(AttributeType)
NON_SENSITIVE = Sensitivity.NON_SENSITIVE

GUIDE_EVENT: dict[str, object] = {
    "td_client_id": "42a508e2-d9b1-4baa-9eb2-6c3fb8bd5e16",
    "td_url": "https://treasuredemos.com/retail/shop/women",
    "td_path": "/retail/shop/women",
    "product_name": "women\u2019s-tank-top",
    "product_category": "women",
    "product_list": ["women\u2019s-running-shoes", "kids\u2019-hoodie", "women\u2019s-tank-top"],
    "category_list": ["women", "kids"],
}

HOMEPAGE = Personalization(
    shop.HOMEPAGE["name"], shop.HOMEPAGE["trigger_events"], shop.HOMEPAGE["sections"]
)


def section(name: str, criteria: object = None) -> dict[str, object]:
    return {"name": name, "criteria": criteria, "payload": [{"name": "id", "static": name}]}


def test_guide_welcome_banner_and_redacted_loyalty_discount(
    catalog: Catalog, view: ProfileView
) -> None:
    config = compile_personalizations(catalog, [HOMEPAGE])
    offers, _ = config.evaluate(["page_view"], view, GUIDE_EVENT, public=True)
    assert json.dumps({"offers": offers}) == json.dumps(
        {
            "offers": {
                "Welcome Banner": {"attributes": {"welcome_message": "Hello, new user!"}},
                "Loyalty Discount": {},
            }
        }
    )


def test_guide_silver_rewards_prints_28700_as_a_number() -> None:
    catalog = Catalog(
        {
            "first_name": Attribute(SINGLE, NON_SENSITIVE),
            "tier": Attribute(IMPORTED, NON_SENSITIVE),
            "total_purchase": Attribute(COUNTER),
            "items_purchased": Attribute(LIST, aggregations={"product": NON_SENSITIVE}),
        },
        events=frozenset({"page_view"}),
    )
    rewards = Personalization(
        "Rewards",
        ["page_view"],
        [
            {
                "name": "Welcome Banner",
                "payload": [
                    {
                        "name": "welcome_message",
                        "static": "Welcome to our website! Enjoy your shopping!",
                    }
                ],
            },
            *shop.REWARDS["sections"],
        ],
    )
    view = ProfileView({"first_name": "John", "tier": "silver", "total_purchase": 28700.0})
    config = compile_personalizations(catalog, [rewards])
    offers, _ = config.evaluate(["page_view"], view, GUIDE_EVENT, public=True)
    assert offers == {
        "Welcome Banner": {
            "attributes": {"welcome_message": "Welcome to our website! Enjoy your shopping!"}
        },
        "Silver rewards just for you!": {
            "attributes": {
                "first_name": "John",
                "total_purchase": 28700,
                "items_purchased": [],
                "order_summary": "Here is your order summary!",
                "thank_you_message": "Thank you for shopping with us!",
                "promotions_message": "Enjoy your 15% discount for your next purchase!",
            }
        },
    }
    text = json.dumps({"offers": offers})
    assert '"total_purchase": 28700,' in text
    assert "28700.0" not in text


def test_a_sensitive_sections_public_answer_does_not_depend_on_its_criteria(
    catalog: Catalog, event: dict[str, object]
) -> None:
    vip_offer = section("VIP offer", {"attribute": "membership_tier", "op": "eq", "value": "plat"})
    config = compile_personalizations(
        catalog, [Personalization("Offers", ["page_view"], [vip_offer])]
    )
    matching = ProfileView({"membership_tier": "plat"})
    others = [ProfileView({"membership_tier": "bronze"}), ProfileView()]
    public = config.evaluate(["page_view"], matching, event, public=True)
    assert public[0] == {"VIP offer": {}}
    for other in others:
        assert config.evaluate(["page_view"], other, event, public=True) == public
    # Privately the criteria do tell the profiles apart.
    assert config.evaluate(["page_view"], matching, event, public=False)[0] == {
        "VIP offer": {"attributes": {"id": "VIP offer"}}
    }
    for other in others:
        assert config.evaluate(["page_view"], other, event, public=False)[0] == {}


def test_the_private_path_answers_sensitive_sections_in_full(
    catalog: Catalog, view: ProfileView
) -> None:
    config = compile_personalizations(catalog, [HOMEPAGE])
    offers, _ = config.evaluate(["page_view"], view, GUIDE_EVENT, public=False)
    assert offers == {
        "Welcome Banner": {"attributes": {"welcome_message": "Hello, new user!"}},
        "Loyalty Discount": {
            "attributes": {"discount_code": "LOYAL-15", "membership_tier": "platinum"}
        },
    }


def test_a_non_matching_section_is_left_out(catalog: Catalog, view: ProfileView) -> None:
    sections = [section("gold", {"attribute": "tier", "op": "eq", "value": "gold"})]
    sections.append(section("silver", {"attribute": "tier", "op": "eq", "value": "silver"}))
    config = compile_personalizations(catalog, [Personalization("P", ["page_view"], sections)])
    for public in (True, False):
        offers, _ = config.evaluate(["page_view"], view, {}, public=public)
        assert offers == {"gold": {"attributes": {"id": "gold"}}}


def test_outcomes_say_what_the_preview_shows(catalog: Catalog, view: ProfileView) -> None:
    config = compile_personalizations(catalog, [HOMEPAGE])
    _, public = config.evaluate(["page_view"], view, {}, public=True)
    _, private = config.evaluate(["page_view"], view, {}, public=False)
    welcome = SectionOutcome("Homepage", "Welcome Banner", True, False, ())
    assert public == [
        welcome,
        SectionOutcome("Homepage", "Loyalty Discount", None, True, ("membership_tier",)),
    ]
    assert private == [
        welcome,
        SectionOutcome("Homepage", "Loyalty Discount", True, True, ("membership_tier",)),
    ]


def _config(catalog: Catalog) -> CompiledConfig:
    return compile_personalizations(
        catalog,
        [
            Personalization("A", ["page_view"], [section("a1"), section("a2")]),
            Personalization("B", ["add_to_cart", "purchase"], [section("b")]),
            Personalization("C", ["purchase"], [section("c")]),
        ],
    )


@pytest.mark.parametrize(
    ("matched", "sections"),
    [
        pytest.param(["purchase"], ["b", "c"], id="two-triggered"),
        pytest.param(["add_to_cart"], ["b"], id="any-trigger-is-enough"),
        pytest.param(iter(["purchase", "page_view"]), ["a1", "a2", "b", "c"], id="in-order"),
        pytest.param([], [], id="none-matched"),
        pytest.param(["signup"], [], id="unknown-event"),
    ],
)
def test_only_triggered_personalizations_answer(
    matched: list[str], sections: list[str], catalog: Catalog, view: ProfileView
) -> None:
    offers, outcomes = _config(catalog).evaluate(matched, view, {}, public=True)
    assert list(offers) == sections
    assert [outcome.section for outcome in outcomes] == sections


def test_explain_reports_every_section_triggered_or_not(
    catalog: Catalog, view: ProfileView
) -> None:
    explained = compile_personalizations(
        catalog, [HOMEPAGE, _p("Cart", [section("c")], ("purchase",))]
    ).explain(["page_view"], view, {})
    assert explained.public == {
        "Welcome Banner": {"attributes": {"welcome_message": "Hello, new user!"}},
        "Loyalty Discount": {},
    }
    assert explained.private["Loyalty Discount"] == {
        "attributes": {"discount_code": "LOYAL-15", "membership_tier": "platinum"}
    }
    assert [(o.section, o.matched, o.redacted_for_public) for o in explained.outcomes] == [
        ("Welcome Banner", True, False),
        ("Loyalty Discount", True, True),
        ("c", False, False),
    ]
    assert explained.triggered == ("Homepage",)


def test_reserved_section_names_belong_to_other_personalizations(catalog: Catalog) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_personalizations(catalog, [HOMEPAGE], reserved={"Loyalty Discount": "Old"})
    assert (caught.value.personalization, caught.value.path) == ("Homepage", "sections[1].name")
    assert "already used in personalization 'Old'" in caught.value.message


def test_compile_each_leaves_out_what_no_longer_compiles(
    catalog: Catalog, view: ProfileView
) -> None:
    broken = _p("Broken", [section("x", {"attribute": "gone", "op": "exists"})])
    # The same section name in a later personalization: the broken one owns nothing.
    reuse = _p("Reuse", [section("x")])
    config, errors = compile_each(catalog, [broken, HOMEPAGE, reuse])
    assert [(e.personalization, e.path) for e in errors] == [
        ("Broken", "sections[0].criteria.attribute")
    ]
    offers, _ = config.evaluate(["page_view"], view, {}, public=True)
    assert list(offers) == ["Welcome Banner", "Loyalty Discount", "x"]


def test_a_compiled_config_does_not_see_later_changes_to_its_input(
    catalog: Catalog, view: ProfileView
) -> None:
    sections = [section("a", {"attribute": "tier", "op": "eq", "value": "gold"})]
    triggers = ["page_view"]
    config = compile_personalizations(catalog, [Personalization("P", triggers, sections)])
    sections[0]["criteria"] = {"attribute": "tier", "op": "eq", "value": "silver"}
    sections[0]["payload"] = []
    sections.append(section("b"))
    triggers[0] = "purchase"
    offers, _ = config.evaluate(["page_view"], view, {}, public=True)
    assert offers == {"a": {"attributes": {"id": "a"}}}


def _p(
    name: str, sections: list[Any], triggers: tuple[str, ...] = ("page_view",)
) -> Personalization:
    return Personalization(name, list(triggers), sections)


GT_ON_LIST = {"attribute": "recent_products", "aggregation": "brand", "op": "gt", "value": 3}
ERRORS = [
    pytest.param(
        [_p("P", [], ("page_view", "page_veiw"))],
        "P",
        "trigger_events[1]",
        "no event definition named 'page_veiw' in this parent segment; did you mean 'page_view'?",
        id="unknown-trigger",
    ),
    pytest.param(
        [_p("P", [], ())], "P", "trigger_events", "name at least one event", id="no-triggers"
    ),
    pytest.param(
        [_p("P", ["x"])], "P", "sections[0]", "expected an object, got a string", id="section-str"
    ),
    pytest.param(
        [_p("P", [{"payload": []}])], "P", "sections[0].name", "is required", id="no-section-name"
    ),
    pytest.param(
        [_p("P", [{"name": "a", "criterion": {}}])],
        "P",
        "sections[0].criterion",
        "unknown key 'criterion'; expected name, criteria, payload",
        id="section-unknown-key",
    ),
    pytest.param(
        [_p("P", [section("a"), section("a")])],
        "P",
        "sections[1].name",
        "section name 'a' is already used in personalization 'P'; "
        "section names are unique within a parent segment",
        id="duplicate-section-name",
    ),
    pytest.param(
        [_p("P", [section("a")]), _p("Q", [section("b"), section("a")])],
        "Q",
        "sections[1].name",
        "already used in personalization 'P'",
        id="duplicate-across-the-parent-segment",
    ),
    pytest.param(
        [
            _p("P", [section("a"), section("b", {"all": [GT_ON_LIST]})]),
        ],
        "P",
        "sections[1].criteria.all[0].op",
        "op 'gt' does not apply to LIST aggregation 'recent_products/brand'",
        id="criteria",
    ),
    pytest.param(
        [_p("P", [{"name": "a", "payload": [{"name": "x", "attribute": "nope"}]}])],
        "P",
        "sections[0].payload[0].attribute",
        "no attribute named 'nope'",
        id="payload",
    ),
]


@pytest.mark.parametrize(("personalizations", "owner", "path", "message"), ERRORS)
def test_invalid(
    personalizations: list[Personalization],
    owner: str,
    path: str,
    message: str,
    catalog: Catalog,
) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_personalizations(catalog, personalizations)
    assert (caught.value.personalization, caught.value.path) == (owner, path)
    assert message in caught.value.message
    assert str(caught.value).startswith(f"personalization {owner!r}: {path}: ")


def test_warnings_name_their_personalization_and_section(catalog: Catalog) -> None:
    fields = [{"name": f"f{i}", "static": i} for i in range(21)]
    config = compile_personalizations(
        catalog,
        [
            Personalization("Quiet", ["page_view"], [section("a")]),
            Personalization(
                "Loud", ["page_view"], [section("b"), {"name": "c", "payload": fields}]
            ),
        ],
    )
    assert config.warnings == (
        ConfigWarning(
            "sections[1].payload",
            "21 fields: more than 20 slows the page down; consider splitting the section",
            "Loud",
        ),
    )


@settings(max_examples=300, deadline=None)
@given(world=worlds())
def test_no_sensitive_value_ever_reaches_the_public_answer(world: World) -> None:
    config = compile_personalizations(world.catalog, world.personalizations)
    public, _ = config.evaluate(world.matched, world.view, world.event, public=True)
    private, outcomes = config.evaluate(world.matched, world.view, world.event, public=False)

    assert MARK not in json.dumps(public)
    # The personalize paths' answer, which keeps no outcomes, is the same.
    assert config.answer(world.matched, world.view, world.event, public=True) == public
    assert config.answer(world.matched, world.view, world.event, public=False) == private
    twin, _ = config.evaluate(world.matched, world.twin, world.event, public=True)
    assert twin == public, "changing only sensitive data changed the public answer"
    for outcome in outcomes:
        name = outcome.section
        assert outcome.redacted_for_public is (name in world.secret_sections)
        if name in world.secret_sections:
            assert public[name] == {}
        else:
            assert public.get(name) == private.get(name)
            assert (name in public) is outcome.matched
        if name in world.always_matching:
            assert list(public[name]["attributes"]) == world.always_matching[name]  # type: ignore[call-overload]
    assert set(public) == {o.section for o in outcomes if o.redacted_for_public or o.matched}


def test_the_property_can_see_a_leak() -> None:
    """Without redaction the worlds above do leak, so the property is not vacuous."""

    def leaks(world: World) -> bool:
        config = compile_personalizations(world.catalog, world.personalizations)
        private, _ = config.evaluate(world.matched, world.view, world.event, public=False)
        return MARK in json.dumps(private)

    assert leaks(find(worlds(), leaks))
