"""Imports and the operator's commands in ``GET /v1/audit_log``, through the real Envoy.

Found in review (issue 13): the audit log recorded every admin configuration change but no
data import, though an import changes what the public path shows (a SENSITIVE tier made
visible to segments, a batch segment a personalization targets), and nothing the operator did
with ``p13n bootstrap`` or ``p13n flags set``. Now each import call, each committed chunk of a
streamed import and each operator change has its entry, with counts and names, never values.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest
from p13n.profile.v1 import profile_service_pb2 as api
from p13n.profile.v1 import profile_service_pb2_grpc
from support import stored
from support.admin import Account
from support.suite import Suite

from services.auth.validation import FLAG_ATTRIBUTE_SENSITIVITY, FLAG_PUBLIC_SERVICES
from services.common.events import to_struct

pytestmark = pytest.mark.both_backends

# Every value sent below; none may appear in the audit log, its rows or the services' logs.
TIER = "platinum-0c7e"
MEMBER = "M-8231"
STREAMED = [f"M-9{n:03d}" for n in range(6)]
SEGMENT_MEMBERS = ["M-7001", "M-7002"]
# Eight digits: four (4242 once) turned up by chance in the nanoseconds of an entry's time.
POINTS = 73737373
VALUES = [TIER, MEMBER, str(POINTS), *STREAMED, *SEGMENT_MEMBERS]


@pytest.fixture(scope="module")
def ready(account: Account) -> Account:
    """The account once the audit log answers: auth starts before profile, so its channel to
    profile may still be in gRPC's reconnect backoff (503) for a few seconds after start."""
    deadline = time.monotonic() + 20
    while account.call("GET", "/v1/audit_log?page_size=1").status == 503:
        assert time.monotonic() < deadline, "the audit log still answers 503"
        time.sleep(0.2)
    return account


@pytest.fixture(scope="module")
def ps(ready: Account) -> str:
    account = ready
    ps = account.parent_segment("Imports audited")
    account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/stitching_keys",
        {"name": "member_id", "regex": "M-[0-9]{4}"},
    )
    for name, sensitivity in [("tier", "SENSITIVE"), ("points", "NON_SENSITIVE")]:
        account.ok(
            "POST",
            f"/v1/parent_segments/{ps}/attributes",
            {"name": name, "type": "IMPORTED", "sensitivity": sensitivity},
        )
    return ps


def _pages(account: Account, **query: Any) -> list[str]:
    """Every page of the log as the API answers it, following ``next_page_token``."""
    bodies, token = [], ""
    while True:
        more = {"page_token": token} if token else {}
        reply = account.call("GET", "/v1/audit_log?" + urlencode({**query, **more}))
        assert reply.status == 200, reply.body
        bodies.append(reply.body.decode())
        token = reply.json().get("next_page_token", "")
        if not token:
            return bodies


def _entries(account: Account, **query: Any) -> list[dict[str, Any]]:
    return [e for body in _pages(account, **query) for e in json.loads(body).get("entries", [])]


def _rows(suite: Suite) -> str:
    found = []
    for service in ("auth", "profile", "offers"):
        rows = stored.rows(suite.settings, service, "SELECT * FROM audit_log")
        found += [json.dumps(list(row), default=str) for row in rows]
    return "\n".join(found)


def _chunks(ps: str) -> Iterator[api.StreamImportAttributesRequest]:
    for first in (0, 3):
        yield api.StreamImportAttributesRequest(
            parent_segment_id=ps if first == 0 else "",
            key="member_id" if first == 0 else "",
            records=[
                api.ImportRecord(value=value, attributes=to_struct({"tier": TIER}))
                for value in STREAMED[first : first + 3]
            ],
        )


def test_imports_are_recorded_with_counts_and_names_never_values(
    suite: Suite, account: Account, ps: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    base = f"/v1/parent_segments/{ps}"
    imported = account.ok(
        "POST",
        f"{base}/imports",
        {
            "key": "member_id",
            "records": [{"value": MEMBER, "attributes": {"tier": TIER, "points": POINTS}}],
        },
    )
    assert imported == {"imported": 1}
    with grpc.insecure_channel(f"127.0.0.1:{suite.admin_port}") as channel:
        stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
        progress = [
            reply.imported
            for reply in stub.StreamImportAttributes(
                _chunks(ps), metadata=(("authorization", f"TD1 {account.api_key}"),), timeout=30
            )
        ]
    assert progress == [3, 6]
    vip = account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "SENSITIVE"})["id"]
    members = account.ok(
        "POST",
        f"{base}/segments/{vip}:import_members",
        {"key": "member_id", "values": SEGMENT_MEMBERS},
    )
    assert members == {"imported": 2}

    found = _entries(account, resource_type="imported_attributes")
    assert [
        (e["source"], e["action"], e["resource_id"], e["parent"], e["after"]) for e in found
    ] == [
        (
            "profile",
            "import",
            "member_id",
            f"parent_segments/{ps}",
            {
                "parent_segment_id": ps,
                "stitching_key": "member_id",
                "records": 1,
                "attribute_names": ["points", "tier"],
            },
        ),
        *[
            (
                "profile",
                "import",
                "member_id",
                f"parent_segments/{ps}",
                {
                    "parent_segment_id": ps,
                    "stitching_key": "member_id",
                    "records": 3,
                    "attribute_names": ["tier"],
                    "streamed": {
                        "chunk": n,
                        "first_record": first,
                        "records_committed": first + 3,
                    },
                },
            )
            for n, first in ((1, 0), (2, 3))
        ],
    ]
    [segment] = _entries(account, resource_type="segment_members", resource_id=vip)
    assert (segment["action"], segment["parent"], segment["after"]) == (
        "import",
        f"parent_segments/{ps}",
        {
            "parent_segment_id": ps,
            "segment_id": vip,
            "stitching_key": "member_id",
            "values_sent": 2,
            "members": 2,
        },
    )
    # Who: the account's master key, the one ``p13n bootstrap`` created (its entry says which).
    [master] = [
        e["resource_id"]
        for e in _entries(account, resource_type="api_key")
        if e["actor"] == "operator"
    ]
    assert {e["actor"] for e in [*found, segment]} == {f"api_keys/{master}"}

    # No value anywhere: the whole log as the API answers it, its stored rows, the logs.
    logged = "".join(_pages(account))
    rows = _rows(suite)
    messages = caplog.text
    for value in VALUES:
        assert value not in logged
        assert value not in rows
        assert value not in messages


def test_the_operators_bootstrap_and_flags_are_recorded(ready: Account) -> None:
    account = ready
    # ``Account.create`` ran ``p13n bootstrap`` and ``p13n flags set`` (the operator's code).
    flags = _entries(account, resource_type="flag")
    assert [(e["actor"], e["action"], e["resource_id"], e["after"]) for e in flags] == [
        ("operator", "update", flag, {"name": flag, "on": True})
        for flag in (FLAG_PUBLIC_SERVICES, FLAG_ATTRIBUTE_SENSITIVITY)
    ]
    assert all(e["before"] == {"name": e["resource_id"], "on": False} for e in flags)
    created = [
        (e["resource_type"], e["resource_id"])
        for e in _entries(account)
        if e["actor"] == "operator" and e["action"] == "create"
    ]
    assert created[:2] == [("account", account.account_id), ("user", account.user_id)]
    assert [kind for kind, _ in created] == ["account", "user", "api_key"]
    assert account.api_key not in "".join(_pages(account))
