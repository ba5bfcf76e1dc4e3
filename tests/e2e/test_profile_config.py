"""The profile service's configuration API through the real Envoy: rules, messages, updates."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import internal_service_pb2, internal_service_pb2_grpc
from support.admin import Account
from support.suite import Suite

from services.common import identity
from services.common.events import to_struct

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    segment = account.parent_segment("Config rules")
    account.event(segment, "page_view", "cfg_db", "page_views")
    return segment


def _attribute(**fields: Any) -> dict[str, Any]:
    return {
        "name": "a",
        "type": "SINGLE",
        "event": "page_view",
        "field": "x",
        "sensitivity": "NON_SENSITIVE",
        **fields,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            _attribute(sensitivity="SENSITIVITY_UNSPECIFIED"),
            "Sensitivity can't be blank",
            id="single-without-sensitivity",
        ),
        pytest.param(
            _attribute(
                type="COUNTER",
                sensitivity="SENSITIVE",
                counter={"window": "7d"},
            ),
            "Counter attributes cannot be sensitive",
            id="sensitive-counter",
        ),
        pytest.param(
            _attribute(
                type="COUNTER",
                sensitivity="SENSITIVITY_UNSPECIFIED",
                counter={"window": "90d"},
            ),
            "Window must be 'total' or from 1h to 60d",
            id="counter-window",
        ),
        pytest.param(
            _attribute(
                type="LIST",
                sensitivity="SENSITIVITY_UNSPECIFIED",
                list={
                    "max_items": 101,
                    "expire_days": 7,
                    "aggregations": [{"name": "p", "field": "p", "sensitivity": "SENSITIVE"}],
                },
            ),
            "Max items must be from 1 to 100",
            id="list-cap",
        ),
        pytest.param(
            _attribute(
                type="LIST",
                sensitivity="SENSITIVITY_UNSPECIFIED",
                list={
                    "max_items": 10,
                    "expire_days": 61,
                    "aggregations": [{"name": "p", "field": "p", "sensitivity": "SENSITIVE"}],
                },
            ),
            "Expire days must be from 1 to 60",
            id="list-expiry",
        ),
        pytest.param(
            _attribute(
                type="LIST",
                sensitivity="SENSITIVITY_UNSPECIFIED",
                list={
                    "max_items": 10,
                    "expire_days": 7,
                    "aggregations": [{"name": "p", "field": "p"}],
                },
            ),
            "Sensitivity can't be blank",
            id="aggregation-without-sensitivity",
        ),
        pytest.param(
            _attribute(
                type="LIST",
                sensitivity="SENSITIVE",
                list={
                    "max_items": 10,
                    "expire_days": 7,
                    "aggregations": [{"name": "p", "field": "p", "sensitivity": "NON_SENSITIVE"}],
                },
            ),
            "A list attribute has no sensitivity of its own: set it on each aggregation "
            "(list.aggregations[].sensitivity)",
            id="list-with-its-own-sensitivity",
        ),
        pytest.param(
            _attribute(event="nope"), "Event 'nope' is not an event definition", id="unknown-event"
        ),
        pytest.param(_attribute(name=""), "Name can't be blank", id="blank-name"),
        pytest.param(
            _attribute(name="n" * 101),
            "Name is too long (maximum is 100 characters)",
            id="long-name",
        ),
    ],
)
def test_attribute_rules(account: Account, ps: str, body: dict[str, Any], message: str) -> None:
    reply = account.call("POST", f"/v1/parent_segments/{ps}/attributes", body)
    assert reply.status == 400, reply.body
    assert reply.json()["message"].startswith(message)


@pytest.mark.parametrize(
    ("database", "table", "message"),
    [
        pytest.param("public", "page_views", "Database name 'public' is reserved", id="public"),
        pytest.param("records", "page_views", "Database name 'records' is reserved", id="records"),
        pytest.param("v1", "page_views", "Database name 'v1' is invalid", id="v1-too-short"),
        pytest.param("Shop", "page_views", "Database name 'Shop' is invalid", id="upper-case"),
        pytest.param("shop_db", "x" * 129, "Table name", id="long-table"),
    ],
)
def test_event_table_names(
    account: Account, ps: str, database: str, table: str, message: str
) -> None:
    reply = account.call(
        "POST",
        f"/v1/parent_segments/{ps}/events",
        {"name": f"e_{database}_{len(table)}", "database": database, "table": table},
    )
    assert reply.status == 400
    assert reply.json()["message"].startswith(message)


def test_a_list_shows_how_many_aggregations_are_sensitive(account: Account, ps: str) -> None:
    created = account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/attributes",
        {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 10,
                "expire_days": 30,
                "aggregations": [
                    {
                        "name": "product",
                        "field": "product",
                        "sensitivity": "NON_SENSITIVE",
                    },
                    {"name": "email", "field": "email", "sensitivity": "SENSITIVE"},
                ],
            },
        },
    )
    assert created["sensitivity_summary"] == "1/2 Sensitive"


def test_every_resource_can_be_updated_by_mask(account: Account, ps: str) -> None:
    base = f"/v1/parent_segments/{ps}"
    event = account.event(ps, "product_view", "cfg_db", "product_views")
    updated = account.ok(
        "PATCH",
        f"{base}/events/{event['id']}?update_mask=filters",
        {"filters": [{"field": "td_path", "regex": "/products/.*"}]},
    )
    assert updated["filters"] == [{"field": "td_path", "regex": "/products/.*"}]
    attribute = account.ok("POST", f"{base}/attributes", _attribute(name="last_page"))
    renamed = account.ok(
        "PATCH",
        f"{base}/attributes/{attribute['id']}?update_mask=name,field",
        {"name": "last_path", "field": "td_path"},
    )
    assert (renamed["name"], renamed["field"]) == ("last_path", "td_path")
    key = account.ok("POST", f"{base}/stitching_keys", {"name": "member_id"})
    key = account.ok(
        "PATCH",
        f"{base}/stitching_keys/{key['id']}?update_mask=exclusions",
        {"exclusions": ["0", "test"]},
    )
    assert key["exclusions"] == ["0", "test"]
    segment = account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "SENSITIVE"})
    segment = account.ok(
        "PATCH",
        f"{base}/segments/{segment['id']}?update_mask=sensitivity",
        {"sensitivity": "NON_SENSITIVE"},
    )
    assert segment["sensitivity"] == "NON_SENSITIVE"
    parent = account.ok("PATCH", f"{base}?update_mask=description", {"description": "changed"})
    assert parent["description"] == "changed"
    refused = account.call(
        "PATCH",
        f"{base}/attributes/{attribute['id']}?update_mask=sensitivity",
        {"sensitivity": "SENSITIVITY_UNSPECIFIED"},
    )
    assert refused.status == 400
    assert refused.json()["message"] == "Sensitivity can't be blank"


def test_the_primary_key_cannot_be_deleted(account: Account, ps: str) -> None:
    keys = account.ok("GET", f"/v1/parent_segments/{ps}/stitching_keys")["stitching_keys"]
    primary = next(k for k in keys if k["name"] == "td_client_id")
    reply = account.call("DELETE", f"/v1/parent_segments/{ps}/stitching_keys/{primary['id']}")
    assert reply.status == 400
    assert "primary key" in reply.json()["message"]


def test_without_the_sensitivity_flag_attributes_are_unspecified(suite: Suite) -> None:
    account = Account.create(suite, flags=())
    ps = account.parent_segment("No flags")
    account.event(ps, "page_view", "noflag_db", "page_views")
    created = account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/attributes",
        _attribute(sensitivity="SENSITIVITY_UNSPECIFIED"),
    )
    assert created["sensitivity"] == "SENSITIVITY_UNSPECIFIED"
    refused = account.call(
        "POST",
        f"/v1/parent_segments/{ps}/attributes",
        _attribute(name="b", sensitivity="NON_SENSITIVE"),
    )
    assert refused.status == 400
    assert "eng-lc-realtime-personalization-m2-2" in refused.json()["message"]


@pytest.mark.parametrize(
    ("resource", "limit", "body"),
    [
        pytest.param(
            "events",
            100,
            lambda i: {"name": f"e{i}", "database": "lim_db", "table": f"t_{i:03d}"},
            id="events-100",
        ),
        pytest.param("stitching_keys", 200, lambda i: {"name": f"k{i}"}, id="keys-200"),
        pytest.param("attributes", 200, lambda i: _attribute(name=f"a{i}"), id="attributes-200"),
    ],
)
def test_per_segment_limits(account: Account, resource: str, limit: int, body: Any) -> None:
    ps = account.parent_segment(f"Limits {resource}")
    account.event(ps, "page_view", "lim_db", "page_views")
    existing = len(
        account.ok("GET", f"/v1/parent_segments/{ps}/{resource}?page_size=1000")[resource]
    )
    for i in range(limit - existing):
        account.ok("POST", f"/v1/parent_segments/{ps}/{resource}", body(i))
    reply = account.call("POST", f"/v1/parent_segments/{ps}/{resource}", body(limit))
    assert reply.status == 400
    assert f"at most {limit}" in reply.json()["message"]


def test_a_deleted_parent_segments_id_is_never_given_again(suite: Suite) -> None:
    first, second = Account.create(suite), Account.create(suite)
    deleted = first.parent_segment("Short-lived")
    first.ok("DELETE", f"/v1/parent_segments/{deleted}")
    assert second.parent_segment("Newcomer") != deleted


def test_track_refuses_a_parent_segment_of_another_account(suite: Suite) -> None:
    owner, other = Account.create(suite), Account.create(suite)
    ps = owner.parent_segment("Owned")
    owner.event(ps, "page_view", "own_db", "page_views")
    forwarded = identity_pb2.Identity(
        account_id=other.account_id,
        parent_segment_id=ps,
        caller_service="offers",
        token_type=identity_pb2.TOKEN_TYPE_PRIVATE,
    )
    metadata = ((identity.IDENTITY_HEADER, identity.sign(forwarded, suite.settings.internal_key)),)
    request = internal_service_pb2.TrackRequest(
        parent_segment_id=ps,
        database="own_db",
        table="page_views",
        event=to_struct({"td_client_id": "visitor-1"}),
    )
    with suite.channel("profile", caller="offers") as channel:
        stub = internal_service_pb2_grpc.InternalProfileServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Track(request, metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        own = identity_pb2.Identity()
        own.CopyFrom(forwarded)
        own.account_id = owner.account_id
        signed = identity.sign(own, suite.settings.internal_key)
        tracked = stub.Track(request, metadata=((identity.IDENTITY_HEADER, signed),), timeout=10)
    assert tracked.canonical_id == "visitor-1"


def test_a_regex_re2_cannot_run_is_refused(account: Account, ps: str) -> None:
    reply = account.call(
        "POST",
        f"/v1/parent_segments/{ps}/events",
        {
            "name": "backref",
            "database": "cfg_db",
            "table": "page_views",
            "filters": [{"field": "td_path", "regex": "(a)\\1"}],
        },
    )
    assert reply.status == 400, reply.body
    assert reply.json()["message"].startswith(
        "Regex '(a)\\\\1' is not supported: invalid escape sequence: \\1"
    )


def test_event_definitions_are_listed_under_events(account: Account) -> None:
    """ListEventDefinitions keeps the HTTP contract ListEvents had: the path and the key."""
    segment = account.parent_segment("Listed events")
    created = account.event(segment, "page_view", "cfg_db", "page_views")
    listed = account.ok("GET", f"/v1/parent_segments/{segment}/events")
    assert listed == {"events": [created], "next_page_token": ""}
