"""What the demo consists of: the configuration a marketer would click together, as data.

It reproduces the examples of the client-side guide (Welcome Banner, Loyalty Discount,
"Silver rewards just for you!") on a small shop, and uses every kind of thing the product
has: two event definitions (one filtered), attributes of all four types, a stitching key
besides the primary key, a batch segment and imported values for one known visitor, a
public service for the shop's origin and a private one for servers.

The bodies are exactly what ``POST /v1/...`` takes, so the loader sends them as they are
and a reader can copy one into curl. Names, not ids, link the parts together.
"""

from __future__ import annotations

from typing import Any

DATABASE = "demo_shop"
TABLE = "events"

PARENT_SEGMENT: dict[str, Any] = {
    "name": "Demo shop visitors",
    "description": "Visitors of the demo shop served by `p13n up --demo`.",
    "primary_key": "td_client_id",
}

# The shop sends member_id once a visitor signs in; stitching links it to the browser's
# td_client_id, so what was imported for the member applies to the browsing profile.
# Verified: from the browser, the value counts only with the proof the shop's server made
# at sign-in (docs/design.md#verified-identifiers); anyone can type "M-1001".
MEMBER_KEY = "member_id"
STITCHING_KEYS: list[dict[str, Any]] = [
    {"name": MEMBER_KEY, "regex": "M-[0-9]{4}", "verified": True}
]

# The one known visitor: a loyalty member whose back-office data was imported.
DEMO_MEMBER_ID = "M-1001"
# Imported as SENSITIVE: the browser must never see it (tests look for this exact value).
SENSITIVE_TIER = "Platinum"
DEMO_MEMBER_IMPORT: dict[str, Any] = {
    "key": MEMBER_KEY,
    "records": [
        {
            "value": DEMO_MEMBER_ID,
            "attributes": {"membership_tier": SENSITIVE_TIER, "total_purchase": 28700},
        }
    ],
}

PAGE_VIEW = "page_view"
PRODUCT_VIEW = "product_view"
EVENTS: list[dict[str, Any]] = [
    # Every event the shop sends is a page view; those on a product page are also
    # product views (the guide's td_path filter).
    {"name": PAGE_VIEW, "database": DATABASE, "table": TABLE},
    {
        "name": PRODUCT_VIEW,
        "database": DATABASE,
        "table": TABLE,
        "filters": [{"field": "td_path", "regex": "/products/[a-z0-9-]+"}],
    },
]

_NON_SENSITIVE = "NON_SENSITIVE"
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "name": "membership_tier",
        "type": "IMPORTED",
        "sensitivity": "SENSITIVE",
    },
    {"name": "total_purchase", "type": "IMPORTED", "sensitivity": _NON_SENSITIVE},
    {
        "name": "recently_viewed",
        "type": "LIST",
        "event": PRODUCT_VIEW,
        "list": {
            "max_items": 10,
            "expire_days": 30,
            "aggregations": [
                {"name": "products", "field": "product_name", "sensitivity": _NON_SENSITIVE}
            ],
        },
    },
    {
        "name": "product_views",
        "type": "COUNTER",
        "event": PRODUCT_VIEW,
        "counter": {"window": "30d"},
    },
    {
        "name": "last_category",
        "type": "SINGLE",
        "event": PRODUCT_VIEW,
        "field": "product_category",
        "sensitivity": _NON_SENSITIVE,
    },
]

LOYALTY_SEGMENT = "loyalty_members"
SEGMENTS: list[dict[str, Any]] = [{"name": LOYALTY_SEGMENT, "sensitivity": _NON_SENSITIVE}]
SEGMENT_MEMBERS: dict[str, dict[str, Any]] = {
    LOYALTY_SEGMENT: {"key": MEMBER_KEY, "values": [DEMO_MEMBER_ID]}
}

PUBLIC_SERVICE: dict[str, Any] = {
    "name": "Demo shop (browser)",
    "description": "The demo shop page's public token; allowed from the shop's origin only.",
    "type": "PUBLIC",
}
PUBLIC_TOKEN: dict[str, Any] = {"name": "shop-page"}
# The shop's server signs its members' ids with it; never sent to a browser.
IDENTITY_SECRET: dict[str, Any] = {"name": "shop-server"}
PRIVATE_SERVICE: dict[str, Any] = {
    "name": "Demo backend (server)",
    "description": "A server-side token: sees sensitive sections; from this machine only.",
    "type": "PRIVATE",
}
PRIVATE_TOKEN: dict[str, Any] = {"name": "backend", "allowed_ips": ["127.0.0.1/32", "::1/128"]}

WELCOME_BANNER = "Welcome Banner"
LOYALTY_DISCOUNT = "Loyalty Discount"
RECENTLY_VIEWED = "Recently Viewed"
SILVER_REWARDS = "Silver rewards just for you!"
DISCOUNT_CODE = "LOYAL-15"
WELCOME_MESSAGE = "Welcome to our website! Enjoy your shopping!"
PROMOTIONS_MESSAGE = "Enjoy your 15% discount for your next purchase!"

PERSONALIZATIONS: list[dict[str, Any]] = [
    {
        "name": "Welcome",
        "description": "The guide's Welcome Banner: static, shown to everyone.",
        "trigger_events": [PAGE_VIEW],
        "sections": [
            {
                "name": WELCOME_BANNER,
                "criteria": {},
                "payload": [
                    {"name": "welcome_message", "static": WELCOME_MESSAGE},
                    {"name": "loyalty_member", "segment": LOYALTY_SEGMENT},
                ],
            }
        ],
    },
    {
        "name": "Loyalty discount",
        "description": "The guide's redaction example: it shows the sensitive imported "
        "membership_tier, so the public path always answers it as {}.",
        "trigger_events": [PAGE_VIEW],
        "sections": [
            {
                "name": LOYALTY_DISCOUNT,
                "criteria": {"segment": LOYALTY_SEGMENT},
                "payload": [
                    {"name": "discount_code", "static": DISCOUNT_CODE},
                    {"name": "membership_tier", "attribute": "membership_tier"},
                ],
            }
        ],
    },
    {
        "name": "Recently viewed",
        "description": "The products this visitor viewed, newest first.",
        "trigger_events": [PAGE_VIEW],
        "sections": [
            {
                "name": RECENTLY_VIEWED,
                "criteria": {
                    "attribute": "recently_viewed",
                    "aggregation": "products",
                    "op": "exists",
                },
                "payload": [
                    {"name": "products", "attribute": "recently_viewed", "aggregation": "products"},
                    {"name": "last_category", "attribute": "last_category"},
                ],
            }
        ],
    },
    {
        "name": "Silver rewards",
        "description": "The guide's rewards offer, unlocked by viewing three products.",
        "trigger_events": [PAGE_VIEW],
        "sections": [
            {
                "name": SILVER_REWARDS,
                "criteria": {"attribute": "product_views", "op": "gte", "value": 3},
                "payload": [
                    {"name": "product_views", "attribute": "product_views"},
                    {"name": "total_purchase", "attribute": "total_purchase"},
                    {"name": "items_purchased", "static": []},
                    {"name": "order_summary", "static": "Here is your order summary!"},
                    {"name": "thank_you_message", "static": "Thank you for shopping with us!"},
                    {"name": "promotions_message", "static": PROMOTIONS_MESSAGE},
                ],
            }
        ],
    },
]
