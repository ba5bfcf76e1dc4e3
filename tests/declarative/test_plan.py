"""The plan, computed from a document and the suite's objects as the API answers them
(ids, output-only fields, defaults filled in): pure, so every rule is checked directly."""

from __future__ import annotations

import copy
from typing import Any

from services.declarative.document import Document
from services.declarative.kinds import BY_KEY, canonical
from services.declarative.plan import Action, Current, make_plan

DOCUMENT = Document(
    "Shop",
    "td_client_id",
    "Visitors",
    {
        "events": [{"name": "view", "database": "shop", "table": "events"}],
        "stitching_keys": [{"name": "member_id", "verified": True}],
        "attributes": [
            {"name": "views", "type": "COUNTER", "event": "view", "counter": {"window": "30d"}}
        ],
        "segments": [{"name": "vip", "sensitivity": "SENSITIVE"}],
        "services": [{"name": "web", "type": "PUBLIC", "allowed_origins": ["https://a.example"]}],
        "personalizations": [
            {
                "name": "Hello",
                "trigger_events": ["view"],
                "sections": [
                    {"name": "Hi", "criteria": {}, "payload": [{"name": "x", "static": []}]}
                ],
            }
        ],
    },
)

# What the API answers for DOCUMENT applied: ids, output-only fields, every default.
SUITE: dict[str, list[dict[str, Any]]] = {
    "events": [{"id": "1", "name": "view", "database": "shop", "table": "events", "filters": []}],
    "stitching_keys": [
        {"id": "1", "name": "td_client_id", "regex": "", "exclusions": [], "verified": False},
        {"id": "2", "name": "member_id", "regex": "", "exclusions": [], "verified": True},
    ],
    "attributes": [
        {
            "id": "4",
            "name": "views",
            "type": "COUNTER",
            "event": "view",
            "field": "",
            "sensitivity": "NON_SENSITIVE",  # filled in: counters are never sensitive
            "counter": {"window": "30d", "sum_field": ""},
            "sensitivity_summary": "Non-Sensitive",
        }
    ],
    "segments": [{"id": "1", "name": "vip", "sensitivity": "SENSITIVE"}],
    "services": [
        {
            "id": "7",
            "parent_segment_id": "3",
            "name": "web",
            "description": "",
            "type": "PUBLIC",
            "allowed_origins": ["https://a.example"],
            "rate_limit": {"requests_per_second": 0, "burst": 0},
            "create_time": "2026-12-05T22:59:38Z",
        }
    ],
    "personalizations": [
        {
            "id": "9",
            "name": "Hello",
            "description": "",
            "trigger_events": ["view"],
            "sections": [
                {
                    "name": "Hi",
                    "payload": [
                        {
                            "name": "x",
                            "static": [],
                            "attribute": "",
                            "aggregation": "",
                            "segment": "",
                        }
                    ],
                }
            ],
            "warnings": [],
            "update_time": "2026-12-05T22:59:38Z",
        }
    ],
}
PARENT = {"id": "3", "name": "Shop", "description": "Visitors", "primary_key": "td_client_id"}


def _suite(**changed: list[dict[str, Any]]) -> Current:
    return Current(dict(PARENT), {**copy.deepcopy(SUITE), **changed})


def test_a_new_parent_segment_is_created_with_everything_in_dependency_order() -> None:
    plan = make_plan(DOCUMENT, None)
    assert [(c.action, c.kind.label, c.name) for c in plan.changes] == [
        (Action.CREATE, "parent segment", "Shop"),
        (Action.CREATE, "event", "view"),
        (Action.CREATE, "stitching key", "member_id"),
        (Action.CREATE, "attribute", "views"),
        (Action.CREATE, "segment", "vip"),
        (Action.CREATE, "service", "web"),
        (Action.CREATE, "personalization", "Hello"),
    ]
    assert plan.changes[3].body == DOCUMENT.items["attributes"][0]  # the POST body as written
    assert plan.parent_segment_id == ""


def test_the_suite_as_the_api_answers_it_matches_its_file() -> None:
    plan = make_plan(DOCUMENT, _suite())
    assert plan.changes == ()
    assert plan.lines() == ['no changes to parent segment "Shop"']


def test_one_changed_field_is_one_update_of_that_field() -> None:
    suite = _suite()
    suite.items["services"][0]["allowed_origins"] = ["https://old.example"]
    plan = make_plan(DOCUMENT, suite)
    [change] = plan.changes
    assert (change.action, change.id, change.fields) == (Action.UPDATE, "7", ("allowed_origins",))
    assert change.body == {"allowed_origins": ["https://a.example"]}
    assert plan.lines() == [
        '~ service "web"',
        '    allowed_origins: ["https://old.example"] → ["https://a.example"]',
    ]


def test_a_field_the_file_leaves_out_is_reset_to_its_default() -> None:
    suite = _suite()
    suite.parent_segment["description"] = "Someone wrote this"
    suite.items["stitching_keys"][1]["regex"] = "M-[0-9]+"
    plan = make_plan(DOCUMENT, suite)
    assert [(c.name, c.fields, c.body) for c in plan.changes] == [
        ("Shop", ("description",), {"description": "Visitors"}),
        ("member_id", ("regex",), {}),  # absent from the body: the mask resets it
    ]
    assert plan.changes[1].lines()[1] == '    regex: "M-[0-9]+" → (none)'


def test_without_prune_extra_items_are_kept_and_listed_with_prune_deleted_last() -> None:
    extra = {
        "segments": [*SUITE["segments"], {"id": "2", "name": "old", "sensitivity": "SENSITIVE"}],
        "events": [*SUITE["events"], {"id": "5", "name": "gone", "database": "a", "table": "b"}],
    }
    kept = make_plan(DOCUMENT, _suite(**extra))
    assert kept.changes == ()
    assert kept.lines() == [
        '  event "gone": not in file (kept; --prune deletes)',
        '  segment "old": not in file (kept; --prune deletes)',
        'no changes to parent segment "Shop"',
    ]
    with_new = Document(
        DOCUMENT.name,
        DOCUMENT.primary_key,
        DOCUMENT.description,
        {**DOCUMENT.items, "events": [*DOCUMENT.items["events"], {"name": "new"}]},
    )
    pruned = make_plan(with_new, _suite(**extra), prune=True)
    # Creates first, deletes after, the segment (which may refer to nothing) before the
    # event (which attributes may refer to): reverse order of kinds.
    assert [(c.action.value, c.name, c.id) for c in pruned.changes] == [
        ("+", "new", ""),
        ("-", "old", "2"),
        ("-", "gone", "5"),
    ]
    assert pruned.kept == ()


def test_the_primary_keys_stitching_key_is_never_pruned() -> None:
    plan = make_plan(DOCUMENT, _suite(), prune=True)
    assert plan.changes == ()


def test_a_change_the_api_refuses_is_reported_not_planned() -> None:
    suite = _suite()
    suite.items["services"][0]["type"] = "PRIVATE"
    suite.items["attributes"][0]["description"] = "ignored: not a field of attributes"
    suite.parent_segment["primary_key"] = "email"
    plan = make_plan(DOCUMENT, suite)
    assert plan.refused == (
        'cannot change primary_key of parent segment "Shop": delete and re-create it',
        'cannot change type of service "web": delete and re-create it',
    )
    assert plan.changes == ()
    assert "no changes" not in "\n".join(plan.lines())


def test_the_counter_sensitivity_the_server_fills_in_is_no_difference() -> None:
    explicit = copy.deepcopy(DOCUMENT.items)
    explicit["attributes"][0]["sensitivity"] = "NON_SENSITIVE"
    plan = make_plan(Document("Shop", "td_client_id", "Visitors", explicit), _suite())
    assert plan.changes == ()
    assert BY_KEY["attributes"].immutable == frozenset({"type"})


def test_json_the_server_answers_in_another_key_order_exports_the_same() -> None:
    criteria = {"op": "gte", "attribute": "views", "value": 3}
    reordered = {"value": 3, "attribute": "views", "op": "gte"}
    kind = BY_KEY["personalizations"]
    first = canonical(kind, {"name": "p", "sections": [{"name": "s", "criteria": criteria}]})
    second = canonical(kind, {"name": "p", "sections": [{"name": "s", "criteria": reordered}]})
    assert list(first["sections"][0]["criteria"]) == ["attribute", "op", "value"]
    assert list(second["sections"][0]["criteria"]) == ["attribute", "op", "value"]


def test_origins_written_another_way_than_the_server_saves_them_are_no_difference() -> None:
    written = copy.deepcopy(DOCUMENT.items)
    written["services"][0]["allowed_origins"] = [" HTTPS://A.example:443", "https://a.example"]
    plan = make_plan(Document("Shop", "td_client_id", "Visitors", written), _suite())
    assert plan.changes == ()


def test_origins_the_server_refuses_are_sent_as_written_for_it_to_name() -> None:
    written = copy.deepcopy(DOCUMENT.items)
    written["services"][0]["allowed_origins"] = ["HTTPS://A.example/"]
    plan = make_plan(Document("Shop", "td_client_id", "Visitors", written), _suite())
    [change] = plan.changes
    assert change.body == {"allowed_origins": ["HTTPS://A.example/"]}


def test_the_primary_keys_stitching_key_left_out_of_the_file_is_reset() -> None:
    suite = _suite()
    suite.items["stitching_keys"][0]["regex"] = "[0-9a-f-]{36}"
    for prune in (False, True):
        plan = make_plan(DOCUMENT, suite, prune=prune)
        [change] = plan.changes
        assert (change.action, change.name, change.id) == (Action.UPDATE, "td_client_id", "1")
        assert (change.fields, change.body) == (("regex",), {})


def test_an_update_shows_only_the_values_that_differ_by_their_path() -> None:
    sections: list[dict[str, Any]] = [
        {"name": "Hi", "criteria": {"attribute": "views", "op": "gte", "value": 3}},
        {"name": "Bye", "payload": [{"name": "x", "static": "a"}]},
    ]
    kind = BY_KEY["personalizations"]
    changed: list[dict[str, Any]] = copy.deepcopy(sections)
    changed[0]["criteria"]["value"] = 5
    changed[1]["payload"][0]["static"] = ["b"]
    changed[1]["payload"].append({"name": "y", "segment": "vip"})
    wanted = {"name": "p", "sections": changed}
    document = Document("Shop", "td_client_id", "Visitors", {"personalizations": [wanted]})
    current = _suite(personalizations=[{"id": "9", "name": "p", "sections": sections}])
    [change] = make_plan(document, current).changes
    assert canonical(kind, wanted)["sections"] == change.body["sections"]  # the whole field
    assert change.lines() == [
        '~ personalization "p"',
        "    sections[0].criteria.value: 3 → 5",
        '    sections[1].payload: [{"name": "x", "static": "a"}] → '
        '[{"name": "x", "static": ["b"]}, {"name": "y", "segment": "vip"}]',
    ]
