"""An error's JSON body through the real Envoy: code, message and machine-readable details.

A client branches on ``details``, not on the message: an ``ErrorInfo`` always (its reason,
domain ``p13n.dev``), and for a mistake in one field a ``BadRequest`` whose field
violation names that field with the same reason (docs/design.md#errors).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.admin import Account

pytestmark = pytest.mark.both_backends

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    return account.parent_segment("Error details")


def _details(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [detail for detail in body["details"] if detail["@type"] == kind]


def test_a_field_error_names_its_field_in_a_field_violation(account: Account, ps: str) -> None:
    reply = account.call(
        "POST", f"/v1/parent_segments/{ps}/events", {"name": "", "database": "d1", "table": "t"}
    )
    assert reply.status == 400, reply.body
    body = reply.json()
    assert body["code"] == 3
    assert body["message"] == "Name can't be blank"
    [info] = _details(body, ERROR_INFO)
    assert info["domain"] == "p13n.dev"
    assert info["metadata"]["field"] == "event.name"
    [bad_request] = _details(body, BAD_REQUEST)
    assert bad_request["field_violations"] == [
        {"field": "event.name", "description": "Name can't be blank", "reason": info["reason"]}
    ]


def test_an_error_without_a_field_has_no_field_violation(account: Account) -> None:
    reply = account.call("GET", "/v1/parent_segments/999999")
    assert reply.status == 404, reply.body
    body = reply.json()
    [info] = _details(body, ERROR_INFO)
    assert info["reason"] == "NOT_FOUND"
    assert _details(body, BAD_REQUEST) == []
