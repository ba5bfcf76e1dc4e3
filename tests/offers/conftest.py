"""A small shop's parent segment, one visitor's profile and one incoming event; and a running
offers service for the service-level tests.

Values are floats where the profile service would send them (protobuf doubles), so that
the tests exercise what production sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.offers_harness import Offers, running_offers

from services.offers.catalog import Attribute, AttributeType, Catalog, ProfileView, Sensitivity

SINGLE, LIST, COUNTER, IMPORTED = (
    AttributeType.SINGLE,
    AttributeType.LIST,
    AttributeType.COUNTER,
    AttributeType.IMPORTED,
)
SENSITIVE, NON_SENSITIVE, UNSPECIFIED = (
    Sensitivity.SENSITIVE,
    Sensitivity.NON_SENSITIVE,
    Sensitivity.UNSPECIFIED,
)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        attributes={
            "tier": Attribute(SINGLE, NON_SENSITIVE),
            "age": Attribute(SINGLE, NON_SENSITIVE),
            "score": Attribute(IMPORTED, NON_SENSITIVE),
            "opted_in": Attribute(SINGLE, NON_SENSITIVE),
            "nickname": Attribute(SINGLE, NON_SENSITIVE),
            "first_name": Attribute(SINGLE, SENSITIVE),
            "membership_tier": Attribute(IMPORTED, SENSITIVE),
            "legacy_code": Attribute(SINGLE, UNSPECIFIED),
            "visits": Attribute(COUNTER, UNSPECIFIED),
            "cart_adds": Attribute(COUNTER, SENSITIVE),
            "total_purchase": Attribute(COUNTER, NON_SENSITIVE),
            "recent_products": Attribute(
                LIST,
                UNSPECIFIED,
                {"brand": NON_SENSITIVE, "sku": NON_SENSITIVE, "price": SENSITIVE},
                max_items=10,
            ),
            "recent_categories": Attribute(LIST, NON_SENSITIVE, {"name": NON_SENSITIVE}),
            "viewed_pages": Attribute(LIST, SENSITIVE, {"path": NON_SENSITIVE}),
        },
        segments={"vip": SENSITIVE, "newsletter": NON_SENSITIVE, "beta": UNSPECIFIED},
        events=frozenset({"page_view", "add_to_cart", "purchase"}),
    )


@pytest.fixture
def view() -> ProfileView:
    return ProfileView(
        attributes={
            "tier": "gold",
            "age": 30.0,
            "score": 4.5,
            "opted_in": True,
            "first_name": "John",
            "membership_tier": "platinum",
            "legacy_code": "L-7",
            "visits": 3.0,
            "total_purchase": 28700.0,
            "recent_products": {
                "brand": ["acme", "zeta"],
                "sku": ["A-1", "Z-9"],
                "price": [19.99, 5.0],
            },
            "viewed_pages": {"path": ["/home"]},
        },
        segments=frozenset({"vip", "newsletter"}),
    )


@pytest.fixture
def event() -> dict[str, object]:
    return {
        "td_path": "/sale/shoes",
        "qty": 2,
        "price": 9.5,
        "member": True,
        "coupon": None,
        "label": "",
        "product_list": ["shoes", "hat"],
        "category_list": [],
        "meta": {"k": 1},
        "date": "2024-05-01",
    }


@pytest.fixture
async def offers(tmp_path: Path, database_env: dict[str, str]) -> AsyncIterator[Offers]:
    """A real offers service with stand-ins for profile and auth (support.offers_harness),
    on each backend."""
    async with running_offers(tmp_path, database_env) as running:
        yield running
