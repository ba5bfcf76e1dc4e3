"""`p13n get|describe|delete` against a running suite: tables name what the API holds,
-o json is the API's own objects, names resolve to ids, a wrong name is refused naming what
exists, delete asks first, and profiles show each attribute's sensitivity."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from support.admin import Account

from .conftest import CliRunner


@dataclass(frozen=True)
class World:
    ps: str
    base: str  # /v1/parent_segments/{ps}


@pytest.fixture(scope="module")
def world(account: Account) -> World:
    """One parent segment holding one of each kind, made through the admin API."""
    ps = account.parent_segment("Shoppers")
    base = f"/v1/parent_segments/{ps}"
    account.event(ps, "page_view", "shop_db", "page_views")
    account.event(ps, "purchase", "shop_db", "purchases")
    account.ok(
        "POST",
        f"{base}/attributes",
        {
            "name": "recent",
            "type": "LIST",
            "event": "page_view",
            "list": {
                "max_items": 5,
                "expire_days": 7,
                "aggregations": [
                    {"name": "urls", "field": "td_url", "sensitivity": "NON_SENSITIVE"},
                    {"name": "terms", "field": "search", "sensitivity": "SENSITIVE"},
                ],
            },
        },
    )
    account.ok(
        "POST",
        f"{base}/attributes",
        {"name": "tier", "type": "IMPORTED", "sensitivity": "SENSITIVE"},
    )
    account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "NON_SENSITIVE"})
    account.ok("POST", f"{base}/stitching_keys", {"name": "email", "regex": ".+@.+"})
    service = account.service(ps, "web-shop", origins=["https://shop.example"])
    account.token(ps, service, name="browser")
    account.ok(
        "POST",
        f"{base}/personalizations",
        {
            "name": "welcome",
            "trigger_events": ["page_view"],
            "sections": [
                {
                    "name": "greeting",
                    "criteria": {},
                    "payload": [
                        {"name": "text", "static": "hello"},
                        {"name": "recent_urls", "attribute": "recent", "aggregation": "urls"},
                    ],
                }
            ],
        },
    )
    account.ok(
        "POST",
        f"{base}/imports",
        {"key": "td_client_id", "records": [{"value": "c-1", "attributes": {"tier": "gold"}}]},
    )
    return World(ps, base)


def _names(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["name"]) for item in items]


@pytest.mark.parametrize(
    ("kind", "collection", "field"),
    [
        pytest.param("events", "events", "events", id="events"),
        pytest.param("attributes", "attributes", "attributes", id="attributes"),
        pytest.param("stitching-keys", "stitching_keys", "stitching_keys", id="stitching-keys"),
        pytest.param("segment", "segments", "segments", id="segment-singular"),
        pytest.param("services", "services", "services", id="services"),
        pytest.param("personalizations", "personalizations", "personalizations", id="p13ns"),
    ],
)
def test_get_lists_a_kind_as_a_table_and_as_the_apis_objects(
    p13n: CliRunner, world: World, kind: str, collection: str, field: str
) -> None:
    listed = p13n.account.ok("GET", f"{world.base}/{collection}")[field]
    assert listed
    table = p13n("get", kind)
    assert table.code == 0, table.err
    for name in _names(listed):
        assert name in table.out
    as_json = p13n("get", kind, "-o", "json")
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out) == listed


@pytest.mark.usefixtures("world")
def test_parent_segments_and_the_audit_log_are_listed_for_the_account(p13n: CliRunner) -> None:
    ran = p13n("get", "parent-segments", "-o", "json")
    assert json.loads(ran.out) == p13n.account.ok("GET", "/v1/parent_segments")["parent_segments"]
    audit = p13n("get", "audit-log", "-o", "json")
    assert audit.code == 0, audit.err
    entries = json.loads(audit.out)
    assert {"attribute", "personalization", "token"} <= {e["resource_type"] for e in entries}
    table = p13n("get", "audit-log")
    assert "personalization" in table.out
    assert "create" in table.out


def test_get_one_by_name_or_id_is_the_apis_get(p13n: CliRunner, world: World) -> None:
    event = next(
        e
        for e in p13n.account.ok("GET", f"{world.base}/events")["events"]
        if e["name"] == "purchase"
    )
    fetched = p13n.account.ok("GET", f"{world.base}/events/{event['id']}")
    for given in ("purchase", event["id"]):
        ran = p13n("get", "event", given, "-o", "json", "-s", "Shoppers")
        assert ran.code == 0, ran.err
        assert json.loads(ran.out) == fetched
    table = p13n("get", "event", "purchase")
    assert "purchases" in table.out
    assert "page_views" not in table.out


def test_an_unknown_name_is_refused_naming_what_exists(p13n: CliRunner, world: World) -> None:
    ran = p13n("describe", "event", "checkout")
    assert ran.code == 1
    assert f"no event has the id or name 'checkout' in parent segment {world.ps}" in ran.err
    assert "'page_view' (id " in ran.err
    assert "'purchase' (id " in ran.err
    wrong_segment = p13n("get", "events", "-s", "Nobody")
    assert wrong_segment.code == 1
    assert "no parent segment has the id or name 'Nobody'" in wrong_segment.err


def test_a_name_that_is_also_another_resources_id_is_refused_as_ambiguous(
    p13n: CliRunner, world: World
) -> None:
    vip = next(s for s in p13n.account.ok("GET", f"{world.base}/segments")["segments"])
    p13n.account.ok(
        "POST", f"{world.base}/segments", {"name": vip["id"], "sensitivity": "NON_SENSITIVE"}
    )
    ran = p13n("get", "segment", vip["id"])
    assert ran.code == 1
    assert f"{vip['id']!r} names 2 segments in parent segment {world.ps}" in ran.err
    assert "give the id" in ran.err


def test_describe_lays_out_a_list_attributes_aggregations(p13n: CliRunner, world: World) -> None:
    ran = p13n("describe", "attribute", "recent")
    assert ran.code == 0, ran.err
    assert f"attribute 'recent' in parent segment {world.ps}" in ran.out
    lines = ran.out.splitlines()
    # Each aggregation is a row of its own with its sensitivity, not a JSON blob.
    assert any("urls" in line and "td_url" in line and "NON_SENSITIVE" in line for line in lines)
    assert any("terms" in line and "search" in line and " SENSITIVE" in line for line in lines)
    assert "{" not in ran.out


def test_describe_lays_out_a_personalizations_sections(p13n: CliRunner, world: World) -> None:
    ran = p13n("describe", "personalization", "welcome")
    assert ran.code == 0, ran.err
    assert "1. greeting" in ran.out
    assert any("recent_urls" in line and "urls" in line for line in ran.out.splitlines())
    as_yaml = p13n("describe", "personalization", "welcome", "-o", "json")
    listed = p13n.account.ok("GET", f"{world.base}/personalizations")["personalizations"]
    assert json.loads(as_yaml.out) == listed[0]


def test_tokens_need_a_service_and_are_listed_by_its_name(p13n: CliRunner, world: World) -> None:
    missing = p13n("get", "tokens")
    assert missing.code == 2
    assert "give --service ID|NAME" in missing.err
    ran = p13n("get", "tokens", "--service", "web-shop", "-o", "json")
    assert ran.code == 0, ran.err
    assert _names(json.loads(ran.out)) == ["browser"]
    assert not json.loads(ran.out)[0].get("token")  # listed without its secret
    service = p13n.account.ok("GET", f"{world.base}/services")["services"][0]["id"]
    p13n.account.ok("POST", f"{world.base}/services/{service}/identity_secrets", {"name": "proofs"})
    secrets = p13n("get", "identity-secrets", "--service", "web-shop")
    assert secrets.code == 0, secrets.err
    assert "proofs" in secrets.out


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        pytest.param("api-keys", "the admin API does not list API keys", id="api-keys"),
        pytest.param("users", "the admin API does not list, show or delete users", id="users"),
    ],
)
def test_kinds_the_api_cannot_list_are_refused_saying_so(
    p13n: CliRunner, kind: str, said: str
) -> None:
    ran = p13n("get", kind)
    assert ran.code == 1
    assert said in ran.err


def test_delete_asks_and_an_answer_of_no_keeps_the_resource(
    p13n: CliRunner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    p13n.account.event(world.ps, "doomed", "shop_db", "doomed_rows")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    kept = p13n("delete", "event", "doomed")
    assert kept.code == 1
    assert "Delete event 'doomed'? [y/N]" in kept.err
    assert "doomed" in _names(p13n.account.ok("GET", f"{world.base}/events")["events"])

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    deleted = p13n("delete", "event", "doomed")
    assert deleted.code == 0, deleted.err
    assert "deleted event 'doomed'" in deleted.out
    assert "doomed" not in _names(p13n.account.ok("GET", f"{world.base}/events")["events"])


def test_delete_yes_does_not_ask(p13n: CliRunner, world: World) -> None:
    p13n.account.ok("POST", f"{world.base}/segments", {"name": "gone", "sensitivity": "SENSITIVE"})
    ran = p13n("delete", "segments", "gone", "--yes")
    assert ran.code == 0, ran.err
    assert "Delete" not in ran.out + ran.err
    assert "gone" not in _names(p13n.account.ok("GET", f"{world.base}/segments")["segments"])


def test_a_profile_shows_each_attributes_sensitivity(p13n: CliRunner, world: World) -> None:
    ran = p13n("get", "profile", "td_client_id=c-1")
    assert ran.code == 0, ran.err
    assert any(
        "tier" in line and "gold" in line and "Sensitive" in line for line in ran.out.splitlines()
    )
    described = p13n("describe", "profile", "td_client_id", "c-1")
    assert described.code == 0, described.err
    assert "canonical_id" in described.out
    assert "gold" in described.out
    as_json = p13n("get", "profile", "td_client_id=c-1", "-o", "json")
    assert json.loads(as_json.out) == p13n.account.ok(
        "GET", f"{world.base}/profiles/td_client_id/c-1"
    )
    usage = p13n("get", "profiles")
    assert usage.code == 2
    assert "KEY=VALUE" in usage.err


def test_the_merge_log_is_listed(p13n: CliRunner, world: World) -> None:
    ran = p13n("get", "merge-log", "-o", "json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == p13n.account.ok("GET", f"{world.base}/merge_log").get(
        "entries", []
    )


def test_without_login_or_environment_a_command_says_to_run_login(p13n: CliRunner) -> None:
    ran = p13n("get", "events", env={})
    assert ran.code == 1
    assert "not logged in" in ran.err
    assert "run `p13n login`" in ran.err
