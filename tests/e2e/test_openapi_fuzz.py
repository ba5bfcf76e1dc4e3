"""The running suite against its own OpenAPI document: schemathesis drives the admin API.

Every operation of docs/openapi.json under ``/v1/`` is called with requests generated from
the document, valid ones and invalid ones, through the real Envoy with a master key. Every
answer must be documented: no 5xx, a status the operation lists, a JSON body matching that
status's schema. Path parameters are real ids most of the time (a parent segment and one of
each of its resources, made first), so the calls reach the handlers rather than only 404s.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.admin import Account
from support.suite import Suite

from gateway import openapi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def ids(account: Account) -> dict[str, str]:
    """One real resource of each kind, by the name of the path parameter that names it."""
    ps = account.parent_segment()
    base = f"/v1/parent_segments/{ps}"
    account.counted_page_views(ps)
    events = account.ok("GET", f"{base}/events")["events"]
    attributes = account.ok("GET", f"{base}/attributes")["attributes"]
    key = account.ok("POST", f"{base}/stitching_keys", {"name": "member_id"})
    segment = account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "SENSITIVE"})
    personalization = account.ok(
        "POST",
        f"{base}/personalizations",
        {
            "name": "Show views",
            "trigger_events": ["page_view"],
            "sections": [{"name": "views", "payload": [{"name": "n", "attribute": "views"}]}],
        },
    )
    service = account.service(ps, "web", origins=["https://shop.example"])
    token = account.ok("POST", f"{base}/services/{service}/tokens", {"name": "web"})
    secret = account.ok("POST", f"{base}/services/{service}/identity_secrets", {"name": "shop"})
    return {
        "parent_segment_id": ps,
        "event_id": str(events[0]["id"]),
        "attribute_id": str(attributes[0]["id"]),
        "stitching_key_id": str(key["id"]),
        "segment_id": str(segment["id"]),
        "personalization_id": str(personalization["id"]),
        "service_id": service,
        "token_id": str(token["id"]),
        "identity_secret_id": str(secret["id"]),
    }


# The real ids the ``ids`` fixture made, read by the hook below while examples are drawn.
SEEDED: dict[str, str] = {}

# Loaded at import (pytest makes one test per operation from it); the suite's port is given
# at each call. ``schemathesis.pytest.from_fixture`` would load it from a fixture, but it
# sets ``node._nodeid``, which pytest 9 no longer has.
schema = schemathesis.openapi.from_path(openapi.DOCUMENT).include(path_regex="^/v1/")


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    # A DELETE keeps its generated ids: the seeded resources stay for the other operations.
    if path_parameters and context.operation.method.upper() != "DELETE":
        for name in path_parameters:
            if name in SEEDED:
                path_parameters[name] = SEEDED[name]
    return path_parameters


@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(
    case: Any, suite: Suite, account: Account, ids: dict[str, str]
) -> None:
    SEEDED.update(ids)
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{suite.admin_port}",
        headers={"Authorization": f"TD1 {account.api_key}"},
        checks=CHECKS,
    )


def test_the_audit_logs_filter_by_an_id_that_names_nothing_lists_nothing(
    account: Account,
) -> None:
    """Found by the run above: the profile service refused the filter passed on to it, 404."""
    reply = account.call("GET", "/v1/audit_log?resource_type=token&resource_id=not-an-id")
    assert reply.status == 200, reply.body
    assert reply.json().get("entries", []) == []
