"""What the demo consists of: its configuration file (``demo.yaml``, the format of
`p13n apply`) and the data and secrets that do not belong in such a file.

The configuration is read from the file once, at import; the names below pick out of it
what the loader, the shop page and the tests rely on, so a file that loses one of them
fails at import instead of in a browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.declarative.document import Document, load

DEMO_FILE = Path(__file__).with_name("demo.yaml")
DOCUMENT: Document = load(DEMO_FILE.read_text(encoding="utf-8"), str(DEMO_FILE))[0]


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [item for item in items if item.get("name") == name]
    if not found:
        raise LookupError(f"{DEMO_FILE} has no item named {name!r}")
    return found[0]


PARENT_SEGMENT: dict[str, Any] = DOCUMENT.parent_segment()
EVENTS = DOCUMENT.items["events"]
STITCHING_KEYS = DOCUMENT.items["stitching_keys"]
ATTRIBUTES = DOCUMENT.items["attributes"]
SEGMENTS = DOCUMENT.items["segments"]
SERVICES = DOCUMENT.items["services"]
PERSONALIZATIONS = DOCUMENT.items["personalizations"]

PAGE_VIEW = "page_view"
PRODUCT_VIEW = "product_view"
DATABASE: str = _named(EVENTS, PAGE_VIEW)["database"]
TABLE: str = _named(EVENTS, PAGE_VIEW)["table"]

PUBLIC_SERVICE = _named(SERVICES, "Demo shop (browser)")
PRIVATE_SERVICE = _named(SERVICES, "Demo backend (server)")

# The sections the shop page (shop/shop.js) shows, by name.
WELCOME_BANNER = "Welcome Banner"
LOYALTY_DISCOUNT = "Loyalty Discount"
RECENTLY_VIEWED = "Recently Viewed"
SILVER_REWARDS = "Silver rewards just for you!"


def _static(section_name: str, field: str) -> Any:
    sections = [s for p in PERSONALIZATIONS for s in p.get("sections", [])]
    return _named(_named(sections, section_name)["payload"], field)["static"]


WELCOME_MESSAGE: str = _static(WELCOME_BANNER, "welcome_message")
DISCOUNT_CODE: str = _static(LOYALTY_DISCOUNT, "discount_code")
PROMOTIONS_MESSAGE: str = _static(SILVER_REWARDS, "promotions_message")

# Not configuration: data, and the secrets the suite hands out (never in a file).
MEMBER_KEY = _named(STITCHING_KEYS, "member_id")["name"]
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
LOYALTY_SEGMENT = _named(SEGMENTS, "loyalty_members")["name"]
SEGMENT_MEMBERS: dict[str, dict[str, Any]] = {
    LOYALTY_SEGMENT: {"key": MEMBER_KEY, "values": [DEMO_MEMBER_ID]}
}

PUBLIC_TOKEN: dict[str, Any] = {"name": "shop-page"}
# The shop's server signs its members' ids with it; never sent to a browser.
IDENTITY_SECRET: dict[str, Any] = {"name": "shop-server"}
PRIVATE_TOKEN: dict[str, Any] = {"name": "backend", "allowed_ips": ["127.0.0.1/32", "::1/128"]}
