"""A small shop configured through the admin API of a scaled suite, and its stored rows.

``Shop.create`` makes an account with the operator commands and, through the gateway with
the master key: a parent segment keyed on ``td_client_id`` with a ``user_id`` stitching key
(so events that carry both merge profiles), a ``page_view`` event with a ``views`` counter
over all time, and a public service with a token for ``ORIGIN``.

``ProfileRows`` reads what the profile service stored, straight from its tables (the
SQLite file or the PostgreSQL schema): the tests compare it with the clients' own log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.configure import FLAGS, Admin
from bench.http import Reply, call
from support.scale_out import ScaledSuite

ORIGIN = "https://www.shop.example"
DATABASE = "shop_db"
TABLE = "page_views"
PUBLIC_PATH = f"/public/{DATABASE}/{TABLE}"
INGEST_PATH = f"/records/{DATABASE}/{TABLE}"
# The limiter still runs on every request; these tests are about replicas, not limits.
NO_LIMIT = {"requests_per_second": 100_000, "burst": 100_000}


@dataclass
class Shop:
    suite: ScaledSuite
    account_id: str
    admin: Admin
    parent_segment_id: str
    service_id: str
    token: str

    @classmethod
    def create(cls, suite: ScaledSuite, name: str) -> Shop:
        created = json.loads(
            suite.run_cli(
                "bootstrap",
                "--email",
                f"owner@{name}.example",
                "--password",
                "correct horse battery staple",
                "--account",
                name,
                "--json",
            )
        )
        for flag in FLAGS:
            suite.run_cli("flags", "set", "--account", created["account_id"], f"{flag}=on")
        admin = Admin(suite.admin_port, created["api_key"])
        _wait_until_known(admin)
        ps = str(
            admin.ok("POST", "/v1/parent_segments", {"name": name, "primary_key": "td_client_id"})[
                "id"
            ]
        )
        base = f"/v1/parent_segments/{ps}"
        admin.ok("POST", f"{base}/stitching_keys", {"name": "user_id"})
        admin.ok(
            "POST", f"{base}/events", {"name": "page_view", "database": DATABASE, "table": TABLE}
        )
        views = {"name": "views", "type": "COUNTER", "event": "page_view"}
        admin.ok("POST", f"{base}/attributes", {**views, "counter": {"window": "total"}})
        service = str(
            admin.ok(
                "POST",
                f"{base}/services",
                {
                    "name": "Web",
                    "type": "PUBLIC",
                    "allowed_origins": [ORIGIN],
                    "rate_limit": NO_LIMIT,
                },
            )["id"]
        )
        shop = cls(suite, created["account_id"], admin, ps, service, "")
        shop.token = shop.new_token("web")
        return shop

    @property
    def base(self) -> str:
        return f"/v1/parent_segments/{self.parent_segment_id}"

    def new_token(self, name: str) -> str:
        return str(self.create_token(name)["token"])

    def create_token(self, name: str) -> dict[str, Any]:
        """A token of the shop's public service: ``id``, ``name``, ``token`` (the secret)."""
        path = f"{self.base}/services/{self.service_id}/tokens"
        created: dict[str, Any] = self.admin.ok("POST", path, {"name": name})
        return created

    def delete_token(self, token_id: str) -> None:
        self.admin.ok("DELETE", f"{self.base}/services/{self.service_id}/tokens/{token_id}")

    def public(self, event: dict[str, Any], token: str | None = None) -> Reply:
        """One event on the browser path, on a fresh connection."""
        headers = {"wp13n-token": token or self.token, "origin": ORIGIN}
        return call("POST", self.suite.data_port, PUBLIC_PATH, event, headers, timeout=10)

    def ingest(self, records: list[dict[str, Any]]) -> Reply:
        """Records through the Ingest API with the master key (Envoy to profile directly)."""
        headers = {"authorization": f"TD1 {self.admin.key}"}
        return call(
            "POST", self.suite.data_port, INGEST_PATH, {"records": records}, headers, timeout=10
        )

    def profile(self, key: str, value: str) -> dict[str, Any]:
        found: dict[str, Any] = self.admin.ok("GET", f"{self.base}/profiles/{key}/{value}")
        return found

    def merge_log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin.ok(
            "GET", f"{self.base}/merge_log?page_size=1000"
        )["entries"]
        return entries


def counters(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile's attributes by name, as the admin API shows them."""
    return {a["name"]: a["value"] for a in profile.get("attributes", [])}


def _wait_until_known(admin: Admin, timeout: float = 10.0) -> None:
    # The auth service learns of a key made by the operator command on its next refresh.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            me = call("GET", admin.port, "/v1/me", headers={"authorization": f"TD1 {admin.key}"})
            if me.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError("the auth service did not learn the new master key")


@dataclass(frozen=True)
class ProfileRows:
    """The profile service's tables, read directly: its SQLite file or PostgreSQL schema."""

    suite: ScaledSuite

    def _query(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        url = self.suite.env.get("P13N_DATABASE_URL")
        if url is None:
            path = self.suite.data_dir / "profile.db"
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                return list(db.execute(statement, args))
        schema = self.suite.env.get("P13N_DATABASE_SCHEMA_PREFIX", "p13n_") + "profile"
        numbered = statement
        for n in range(1, len(args) + 1):
            numbered = numbered.replace("?", f"${n}", 1)
        return asyncio.run(_postgres(url, schema, numbered, args))

    def event_bodies(self, account_id: str) -> list[dict[str, Any]]:
        """Every stored event of the account's table, as stored."""
        rows = self._query(
            "SELECT body FROM events WHERE account_id = ? AND database = ? AND table_name = ?",
            account_id,
            DATABASE,
            TABLE,
        )
        return [json.loads(body) if isinstance(body, str) else dict(body) for (body,) in rows]

    def owners(self, parent_segment_id: str) -> dict[tuple[str, str], int]:
        """Which profile row holds each identity (key, value) of the parent segment."""
        rows = self._query(
            "SELECT key, value, profile_id FROM identities WHERE parent_segment_id = ?",
            int(parent_segment_id),
        )
        return {(key, value): int(profile) for key, value, profile in rows}

    def canonical_ids(self, parent_segment_id: str) -> set[str]:
        rows = self._query(
            "SELECT canonical_id FROM profiles WHERE parent_segment_id = ?", int(parent_segment_id)
        )
        return {str(canonical) for (canonical,) in rows}

    def profile_ids(self, parent_segment_id: str) -> set[int]:
        rows = self._query(
            "SELECT id FROM profiles WHERE parent_segment_id = ?", int(parent_segment_id)
        )
        return {int(profile) for (profile,) in rows}


async def _postgres(
    url: str, schema: str, statement: str, args: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema}, timeout=10)
    try:
        return [tuple(row) for row in await conn.fetch(statement, *args)]
    finally:
        await conn.close()
