"""Setting up an account through the real admin API, as a user would.

``Account.create(suite)`` bootstraps an account (the operator command's code, against the
suite's data directory), turns both feature flags on unless told otherwise, and returns a
client that calls ``/v1/...`` through Envoy with the master key.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from services.auth import operator
from services.auth.validation import FLAG_ATTRIBUTE_SENSITIVITY, FLAG_PUBLIC_SERVICES
from support.http import Response, request
from support.suite import Suite

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    suite: Suite
    account_id: str
    user_id: str
    api_key: str
    email: str

    @classmethod
    def create(cls, suite: Suite, *, flags: tuple[str, ...] | None = None) -> Account:
        n = next(_counter)
        email = f"owner{n}@shop{n}.example"
        result = asyncio.run(
            operator.bootstrap(
                suite.settings,
                suite.settings.secret_key,
                email=email,
                password=PASSWORD,
                account=f"shop-{n}-{id(suite)}",
            )
        )
        for flag in (FLAG_PUBLIC_SERVICES, FLAG_ATTRIBUTE_SENSITIVITY) if flags is None else flags:
            asyncio.run(operator.set_flag(suite.settings, result["account_id"], flag, True))
        account = cls(suite, result["account_id"], result["user_id"], result["api_key"], email)
        account.wait_until_known()
        return account

    def wait_until_known(self, timeout: float = 5.0) -> None:
        """The running auth service learns of the new key within its refresh interval."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", "/v1/me").status == 200:
                return
            time.sleep(0.1)
        raise TimeoutError("the auth service did not learn the new API key")

    def call(
        self, method: str, path: str, body: Any = None, *, authorization: str | None = None
    ) -> Response:
        headers = {"authorization": authorization or f"TD1 {self.api_key}"}
        return request(method, self.suite.admin_port, path, headers=headers, body=body)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """Calls and returns the JSON body, failing loudly on anything but 200."""
        reply = self.call(method, path, body)
        assert reply.status == 200, (method, path, reply.status, reply.body)
        return reply.json()

    # -- shortcuts for the common set-up --------------------------------------------

    def parent_segment(self, name: str = "Shoppers", primary_key: str = "td_client_id") -> str:
        created = self.ok("POST", "/v1/parent_segments", {"name": name, "primary_key": primary_key})
        return str(created["id"])

    def event(self, ps: str, name: str, database: str, table: str, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "database": database, "table": table, **extra}
        result: dict[str, Any] = self.ok("POST", f"/v1/parent_segments/{ps}/events", body)
        return result

    def counted_page_views(self, ps: str) -> None:
        """A ``page_view`` event on shop_db.page_views and a ``views`` COUNTER of it (all time)."""
        self.event(ps, "page_view", "shop_db", "page_views")
        body = {"name": "views", "type": "COUNTER", "event": "page_view"}
        self.ok(
            "POST", f"/v1/parent_segments/{ps}/attributes", {**body, "counter": {"window": "total"}}
        )

    def service(
        self, ps: str, name: str, type_: str = "PUBLIC", origins: list[str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name, "type": type_}
        if origins is not None:
            body["allowed_origins"] = origins
        return str(self.ok("POST", f"/v1/parent_segments/{ps}/services", body)["id"])

    def token(
        self, ps: str, service: str, name: str = "web", allowed_ips: list[str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name}
        if allowed_ips:
            body["allowed_ips"] = allowed_ips
        created = self.ok("POST", f"/v1/parent_segments/{ps}/services/{service}/tokens", body)
        return str(created["token"])
