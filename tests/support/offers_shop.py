"""The client-side guide's shop, configured through the real admin API, for offers tests.

One parent segment keyed by ``td_client_id``: page views and purchases; imported back-office
data (a SENSITIVE ``membership_tier``, a non-sensitive ``first_name`` and ``tier``); a
COUNTER summing purchase amounts and a LIST of purchased products; the guide's
personalizations (Welcome Banner, Loyalty Discount, "Silver rewards just for you!"); a
public service for ``https://shop.example`` and a private one, a token of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.admin import Account
from support.http import Response, request

ORIGIN = "https://shop.example"
DATABASE = "shop_db"
SENSITIVE = "SENSITIVE"
NON_SENSITIVE = "NON_SENSITIVE"
MEMBER = "member-1"  # the visitor whose back-office data was imported
TIER = "platinum"  # their SENSITIVE membership tier: never in a public answer

# The personalizations as the JSON bodies the admin API takes.
HOMEPAGE: dict[str, Any] = {
    "name": "Homepage",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "Welcome Banner",
            "criteria": {},
            "payload": [{"name": "welcome_message", "static": "Hello, new user!"}],
        },
        {
            "name": "Loyalty Discount",
            "payload": [
                {"name": "discount_code", "static": "LOYAL-15"},
                {"name": "membership_tier", "attribute": "membership_tier"},
            ],
        },
    ],
}
REWARDS: dict[str, Any] = {
    "name": "Rewards",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "Silver rewards just for you!",
            "criteria": {"attribute": "tier", "op": "eq", "value": "silver"},
            "payload": [
                {"name": "first_name", "attribute": "first_name"},
                {"name": "total_purchase", "attribute": "total_purchase"},
                {
                    "name": "items_purchased",
                    "attribute": "items_purchased",
                    "aggregation": "product",
                },
                {"name": "order_summary", "static": "Here is your order summary!"},
                {"name": "thank_you_message", "static": "Thank you for shopping with us!"},
                {
                    "name": "promotions_message",
                    "static": "Enjoy your 15% discount for your next purchase!",
                },
            ],
        }
    ],
}
# Triggered by its own event, so a whole answer holds nothing but this sensitive section.
VIP: dict[str, Any] = {
    "name": "VIP",
    "trigger_events": ["vip_check"],
    "sections": [
        {
            "name": "VIP offer",
            "criteria": {"attribute": "membership_tier", "op": "eq", "value": TIER},
            "payload": [{"name": "code", "static": "VIP-20"}],
        }
    ],
}


@dataclass
class GuideShop:
    account: Account
    ps: str
    public_token: str
    private_token: str
    personalizations: dict[str, str]  # name -> id

    @classmethod
    def create(cls, account: Account, name: str = "Guide shop") -> GuideShop:
        ps = account.parent_segment(name)
        base = f"/v1/parent_segments/{ps}"
        account.event(ps, "page_view", DATABASE, "page_views")
        account.event(ps, "purchase", DATABASE, "purchases")
        account.event(ps, "vip_check", DATABASE, "vip_checks")
        for name, sensitivity in (
            ("membership_tier", SENSITIVE),
            ("first_name", NON_SENSITIVE),
            ("tier", NON_SENSITIVE),
        ):
            attribute = {
                "name": name,
                "type": "IMPORTED",
                "sensitivity": sensitivity,
            }
            account.ok("POST", f"{base}/attributes", attribute)
        account.ok(
            "POST",
            f"{base}/attributes",
            {
                "name": "total_purchase",
                "type": "COUNTER",
                "event": "purchase",
                "counter": {"window": "total", "sum_field": "amount"},
            },
        )
        account.ok(
            "POST",
            f"{base}/attributes",
            {
                "name": "items_purchased",
                "type": "LIST",
                "event": "purchase",
                "list": {
                    "max_items": 10,
                    "expire_days": 30,
                    "aggregations": [
                        {"name": "product", "field": "product_name", "sensitivity": NON_SENSITIVE}
                    ],
                },
            },
        )
        account.ok(
            "POST",
            f"{base}/imports",
            {
                "key": "td_client_id",
                "records": [
                    {
                        "value": MEMBER,
                        "attributes": {
                            "membership_tier": TIER,
                            "first_name": "John",
                            "tier": "silver",
                        },
                    }
                ],
            },
        )
        created = {
            body["name"]: str(account.ok("POST", f"{base}/personalizations", body)["id"])
            for body in (HOMEPAGE, REWARDS, VIP)
        }
        public = account.token(ps, account.service(ps, "Web", origins=[ORIGIN]))
        private = account.token(ps, account.service(ps, "Backend", "PRIVATE"), name="server")
        return cls(account, ps, public, private, created)

    def public(self, table: str, event: Any, token: str | None = None) -> Response:
        """What a browser on the shop's page gets."""
        return request(
            "POST",
            self.account.suite.data_port,
            f"/public/{DATABASE}/{table}",
            headers={"wp13n-token": token or self.public_token, "origin": ORIGIN},
            body=event,
        )

    def private(self, table: str, event: Any, token: str | None = None) -> Response:
        """What a server gets (the private token unless told otherwise)."""
        return request(
            "POST",
            self.account.suite.data_port,
            f"/{DATABASE}/{table}",
            headers={"wp13n-token": token or self.private_token},
            body=event,
        )
