"""Loads the benchmark's configuration into a running suite, as a customer would.

The account comes from the operator commands (``p13n bootstrap``, ``p13n flags set``);
everything else goes through the real admin API with the master key: a parent segment,
the workload's events, attributes and personalizations, a public service with its token,
and a write-only API key for the Ingest API.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from bench import workload
from bench.http import call
from bench.suite import Suite

FLAGS = ("eng-lc-realtime-personalization-m2-1", "eng-lc-realtime-personalization-m2-2")
# The limiter still runs on every request; the bench measures capacity, not the limit.
BENCH_RATE_LIMIT = {"requests_per_second": 100_000, "burst": 100_000}


class ConfigurationError(RuntimeError):
    """The admin API refused a step; the message says which and why."""


class Admin:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.key = key

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        reply = call(method, self.port, path, body, {"authorization": f"TD1 {self.key}"})
        if reply.status != 200:
            raise ConfigurationError(
                f"{method} {path} -> {reply.status}: {reply.body[:300].decode(errors='replace')}"
            )
        return reply.json()


@dataclass
class Configured:
    """What the load needs to know about the configured account."""

    parent_segment_id: str
    public_token: str
    write_key: str
    admin: Admin
    personalization_ids: list[str] = field(default_factory=list)
    account_id: str = ""

    @property
    def personalizations(self) -> int:
        return len(self.personalization_ids)

    def set_personalizations(self, count: int) -> None:
        """Replaces the personalizations with ``count`` of the workload's."""
        base = f"/v1/parent_segments/{self.parent_segment_id}/personalizations"
        while self.personalization_ids:
            self.admin.ok("DELETE", f"{base}/{self.personalization_ids.pop()}")
        for personalization in workload.personalizations(count):
            self.personalization_ids.append(str(self.admin.ok("POST", base, personalization)["id"]))

    def first_answer(self, suite: Suite) -> dict[str, Any]:
        """The public path's answer to one page view, checked before any load is timed;
        ``ConfigurationError`` when it is not a 200 with offers."""
        reply = call(
            "POST",
            suite.data_port,
            f"/public/{workload.DATABASE}/{workload.PAGE_TABLE}",
            workload.page_event(0, random.Random(1)),
            {"wp13n-token": self.public_token, "origin": workload.ORIGIN},
        )
        if reply.status != 200 or "offers" not in reply.json():
            raise ConfigurationError(
                f"the public path answers {reply.status}: {reply.body[:200]!r}"
            )
        answer: dict[str, Any] = reply.json()
        return answer


def _account(suite: Suite) -> tuple[str, str]:
    created = json.loads(
        suite.run_cli(
            "bootstrap",
            "--email",
            "bench@shop.example",
            "--password",
            "bench password 1234",
            "--account",
            "bench",
            "--json",
        )
    )
    for flag in FLAGS:
        suite.run_cli("flags", "set", "--account", created["account_id"], f"{flag}=on")
    return created["account_id"], created["api_key"]


def _wait_known(admin: Admin, timeout: float = 10.0) -> None:
    # The auth service learns of a key made by the operator command on its next refresh.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            me = call("GET", admin.port, "/v1/me", headers={"authorization": f"TD1 {admin.key}"})
            if me.status == 200:
                return
        time.sleep(0.1)
    raise ConfigurationError("the auth service did not learn the bench's API key")


def configure(suite: Suite, *, list_items: int = 10) -> Configured:
    """All but the personalizations; raises ConfigurationError naming a refused call."""
    account_id, master = _account(suite)
    admin = Admin(suite.admin_port, master)
    _wait_known(admin)
    ps = admin.ok(
        "POST", "/v1/parent_segments", {"name": "Shoppers", "primary_key": "td_client_id"}
    )["id"]
    base = f"/v1/parent_segments/{ps}"
    for key in ("email", "user_id"):
        admin.ok("POST", f"{base}/stitching_keys", {"name": key})
    for event in workload.EVENTS:
        admin.ok("POST", f"{base}/events", event)
    for attribute in workload.attributes(list_items):
        admin.ok("POST", f"{base}/attributes", attribute)
    service = admin.ok(
        "POST",
        f"{base}/services",
        {
            "name": "Web",
            "type": "PUBLIC",
            "allowed_origins": [workload.ORIGIN],
            "rate_limit": BENCH_RATE_LIMIT,
        },
    )["id"]
    token = admin.ok("POST", f"{base}/services/{service}/tokens", {"name": "web"})["token"]
    write_key = admin.ok("POST", "/v1/api_keys", {"type": "WRITE_ONLY"})["key"]
    return Configured(str(ps), str(token), str(write_key), admin, account_id=account_id)
