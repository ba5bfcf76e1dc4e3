"""The benchmark's configuration and traffic: a small shop, as a customer would set it up.

10 event definitions, 30 real-time attributes of every type (SINGLE, LIST, COUNTER,
IMPORTED; sensitive and not), and personalizations of 3 sections each where every other
section references something sensitive (so half are redacted on the public path). Traffic
mixes page views and product views from a pool of ``td_client_id``s; the same shapes are
used by the preload, by wrk's Lua script and by the open-loop generator.
"""

from __future__ import annotations

import random
from typing import Any

DATABASE = "shop_db"
PAGE_TABLE = "page_views"
PRODUCT_TABLE = "product_views"
ORIGIN = "https://www.shop.example"
PAGE_SHARE = 0.6  # the rest are product views

NS = "NON_SENSITIVE"
S = "SENSITIVE"

EVENTS: list[dict[str, Any]] = [
    {"name": "page_view", "database": DATABASE, "table": PAGE_TABLE},
    {"name": "product_view", "database": DATABASE, "table": PRODUCT_TABLE},
    {
        "name": "category_view",
        "database": DATABASE,
        "table": PAGE_TABLE,
        "filters": [{"field": "td_path", "regex": "/category/.*"}],
    },
    {
        "name": "add_to_cart",
        "database": DATABASE,
        "table": "cart_events",
        "filters": [{"field": "action", "regex": "add"}],
    },
    {
        "name": "remove_from_cart",
        "database": DATABASE,
        "table": "cart_events",
        "filters": [{"field": "action", "regex": "remove"}],
    },
    {"name": "purchase", "database": DATABASE, "table": "orders"},
    {"name": "search", "database": DATABASE, "table": "searches"},
    {"name": "login", "database": DATABASE, "table": "logins"},
    {"name": "newsletter_signup", "database": DATABASE, "table": "signups"},
    {"name": "checkout_start", "database": DATABASE, "table": "checkouts"},
]

PRODUCTS = [f"product-{n:03d}" for n in range(200)]
CATEGORIES = ["shoes", "bags", "coats", "shirts", "hats", "socks", "belts", "watches"]


def _single(name: str, event: str, field: str, sensitivity: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "SINGLE",
        "event": event,
        "field": field,
        "sensitivity": sensitivity,
    }


def _list(name: str, event: str, aggregations: list[tuple[str, str, str]], max_items: int) -> Any:
    return {
        "name": name,
        "type": "LIST",
        "event": event,
        "list": {
            "max_items": max_items,
            "expire_days": 30,
            "aggregations": [{"name": n, "field": f, "sensitivity": s} for n, f, s in aggregations],
        },
    }


def _counter(name: str, event: str, window: str, sum_field: str = "") -> dict[str, Any]:
    counter = {"window": window, **({"sum_field": sum_field} if sum_field else {})}
    return {"name": name, "type": "COUNTER", "event": event, "counter": counter}


def _imported(name: str, sensitivity: str) -> dict[str, Any]:
    return {"name": name, "type": "IMPORTED", "sensitivity": sensitivity}


def attributes(list_items: int = 10) -> list[dict[str, Any]]:
    """The 30 attributes; LIST attributes keep ``list_items`` items."""
    return [
        _single("last_url", "page_view", "td_url", NS),
        _single("last_path", "page_view", "td_path", NS),
        _single("last_title", "page_view", "td_title", NS),
        _single("last_product", "product_view", "product_name", NS),
        _single("last_category", "product_view", "product_category", NS),
        _single("last_price", "product_view", "price", NS),
        _single("last_search", "search", "query", S),
        _single("email", "login", "email", S),
        _single("last_order_total", "purchase", "total", S),
        _single("newsletter_opt_in", "newsletter_signup", "opted_in", NS),
        _list(
            "viewed_products",
            "product_view",
            [("name", "product_name", NS), ("category", "product_category", NS)],
            list_items,
        ),
        _list("related_products", "product_view", [("item", "product_list", NS)], list_items),
        _list("browsed_categories", "product_view", [("name", "category_list", NS)], list_items),
        _list("recent_paths", "page_view", [("path", "td_path", NS)], list_items),
        _list(
            "cart_items",
            "add_to_cart",
            [("name", "product_name", NS), ("price", "price", S)],
            list_items,
        ),
        _list("searches", "search", [("query", "query", S)], list_items),
        _list("purchased", "purchase", [("item", "product_list", S)], list_items),
        _list("category_paths", "category_view", [("path", "td_path", NS)], list_items),
        _counter("page_views_1h", "page_view", "1h"),
        _counter("page_views_total", "page_view", "total"),
        _counter("product_views_24h", "product_view", "24h"),
        _counter("product_views_7d", "product_view", "7d"),
        _counter("cart_adds_30d", "add_to_cart", "30d"),
        _counter("purchases_total", "purchase", "total"),
        _counter("revenue_60d", "purchase", "60d", sum_field="total"),
        _imported("loyalty_tier", S),
        _imported("lifetime_value", S),
        _imported("preferred_store", NS),
        _imported("churn_score", S),
        _imported("segment_label", NS),
    ]


# Section templates: (criteria, payload). Even-numbered ones reference only
# non-sensitive data; odd-numbered ones reference a sensitive attribute or aggregation.
_SECTIONS: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    (
        {"attribute": "page_views_1h", "op": "gte", "value": 1},
        [
            {"name": "headline", "static": "Welcome back"},
            {"name": "last_product", "attribute": "last_product"},
            {"name": "recent", "attribute": "viewed_products", "aggregation": "name"},
        ],
    ),
    (
        {"attribute": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]},
        [
            {"name": "tier", "attribute": "loyalty_tier"},
            {"name": "email", "attribute": "email"},
        ],
    ),
    (
        {
            "all": [
                {"attribute": "product_views_24h", "op": "gt", "value": 0},
                {"attribute": "last_category", "op": "exists"},
            ]
        },
        [
            {"name": "category", "attribute": "last_category"},
            {"name": "views", "attribute": "product_views_7d"},
            {"name": "related", "attribute": "related_products", "aggregation": "item"},
        ],
    ),
    (
        {
            "any": [
                {"attribute": "last_order_total", "op": "gt", "value": 100},
                {"attribute": "page_views_total", "op": "gte", "value": 1},
            ]
        },
        [
            {"name": "cart_prices", "attribute": "cart_items", "aggregation": "price"},
            {"name": "banner", "static": {"text": "Free shipping", "color": "#0a0"}},
        ],
    ),
    (
        {"event": "td_path", "op": "starts_with", "value": "/"},
        [
            {"name": "path", "attribute": "last_path"},
            {"name": "categories", "attribute": "browsed_categories", "aggregation": "name"},
            {"name": "store", "attribute": "preferred_store"},
        ],
    ),
    (
        {"not": {"attribute": "churn_score", "op": "lt", "value": 0.2}},
        [
            {"name": "offer", "static": "10% off your next order"},
            {"name": "ltv", "attribute": "lifetime_value"},
        ],
    ),
]


def personalizations(count: int = 20) -> list[dict[str, Any]]:
    """``count`` personalizations of 3 sections each, half of all sections sensitive."""
    result = []
    for p in range(count):
        sections = []
        for s in range(3):
            # Templates alternate non-sensitive/sensitive: starting on an even one gives
            # 1 sensitive section of 3, on an odd one 2 of 3, so pairs split exactly half.
            template = (p + s) % 6
            criteria, payload = _SECTIONS[template]
            sections.append({"name": f"p{p:03d}_s{s}", "criteria": criteria, "payload": payload})
        trigger = ["page_view"] if p % 2 == 0 else ["product_view", "category_view"]
        result.append(
            {"name": f"campaign_{p:03d}", "trigger_events": trigger, "sections": sections}
        )
    return result


def client_id(n: int) -> str:
    """The ``n``-th visitor's ``td_client_id`` (the same formula as in the Lua script)."""
    return f"{n:08x}-5a1e-4c2b-9f3e-{n * 7919 % 2**48:012x}"


def page_event(n: int, rng: random.Random) -> dict[str, Any]:
    category = rng.choice(CATEGORIES)
    path = f"/category/{category}" if rng.random() < 0.3 else f"/p/{rng.choice(PRODUCTS)}"
    return {
        "td_client_id": client_id(n),
        "td_url": f"https://www.shop.example{path}",
        "td_path": path,
        "td_title": f"Shop - {category}",
        "td_referrer": "https://www.search.example/",
    }


def product_event(n: int, rng: random.Random, list_len: int = 5) -> dict[str, Any]:
    product = rng.choice(PRODUCTS)
    return {
        "td_client_id": client_id(n),
        "td_url": f"https://www.shop.example/p/{product}",
        "td_path": f"/p/{product}",
        "product_name": product,
        "product_category": rng.choice(CATEGORIES),
        "price": rng.randrange(5, 500) * 100,
        "product_list": [rng.choice(PRODUCTS) for _ in range(list_len)],
        "category_list": rng.sample(CATEGORIES, 3),
    }


def event(n: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One load event for visitor ``n``: (table, body)."""
    if rng.random() < PAGE_SHARE:
        return PAGE_TABLE, page_event(n, rng)
    return PRODUCT_TABLE, product_event(n, rng)
