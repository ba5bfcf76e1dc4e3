"""Every admin route answers hostile ids and oversized fields with a clear 4xx, never a 500.

The routes come from the descriptor set (the ``google.api.http`` annotations of every RPC
bound under ``/v1/``), so a new route is attacked here without anyone remembering to add
it. Each request goes through the real Envoy's admin listener; the services run in this
process, so ``caplog`` sees every record they log, and none may carry a traceback.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from support.admin import Account
from support.contracts import admin_rules, descriptor_set
from support.http import Response
from support.offers_shop import GuideShop
from support.suite import Suite

_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Route:
    rpc: str
    method: str
    path: str  # the template, e.g. /v1/parent_segments/{parent_segment_id}/services
    body: str  # the request field the JSON body fills ("*", a field name, or "")
    request_type: str  # fully qualified, without the leading dot

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)


def _messages(files: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.DescriptorProto]:
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def add(prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = f"{prefix}.{message.name}"
        found[name] = message
        for nested in message.nested_type:
            add(name, nested)

    for file in files.file:
        for message in file.message_type:
            add(file.package, message)
    return found


FILES = descriptor_set()
MESSAGES = _messages(FILES)


def _routes() -> list[Route]:
    return [
        Route(
            f"{r.service.name}/{r.method.name}",
            r.verb,
            r.path,
            r.rule.body,
            r.method.input_type[1:],
        )
        for r in admin_rules(FILES)
    ]


ROUTES = _routes()
# No client error may log a traceback (or anything at ERROR) in any service.
pytestmark = [pytest.mark.usefixtures("no_tracebacks"), pytest.mark.both_backends]

# Each a path segment as a client could send it (already percent-encoded where needed).
HOSTILE_IDS = [
    pytest.param("99999999999999999999999999", id="beyond-int64"),
    pytest.param("9223372036854775808", id="int64-max-plus-one"),
    pytest.param("-1", id="negative"),
    pytest.param("1e3", id="exponent"),
    pytest.param("0x10", id="hex"),
    pytest.param("%2B1", id="plus-sign"),
    pytest.param("1%20", id="trailing-space"),
    pytest.param("%00", id="nul"),  # refused by Envoy itself, with a message
    pytest.param("9" * 2000, id="very-long"),
    pytest.param("%C2%B2", id="superscript-two"),
    pytest.param("%D9%A3", id="arabic-indic-digit"),
    pytest.param("%C3%A9", id="unicode-letter"),
]


@dataclass
class World:
    """Real resources, so a hostile id in one place is the only thing wrong with a path."""

    account: Account
    ids: dict[str, str]

    def path(self, route: Route, hostile: dict[str, str] | None = None) -> str:
        values = self.ids | (hostile or {})
        return _PARAM.sub(lambda m: values[m.group(1)], route.path)


@pytest.fixture(scope="module")
def world(account: Account) -> World:
    shop = GuideShop.create(account, "Hostile shop")
    base = f"/v1/parent_segments/{shop.ps}"

    def first(collection: str) -> str:
        return str(account.ok("GET", f"{base}/{collection}")[collection][0]["id"])

    account.ok("POST", f"{base}/stitching_keys", {"name": "member_id"})
    account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "SENSITIVE"})
    service = account.service(shop.ps, "hostile web", origins=["https://shop.example"])
    tokens = account.ok("GET", f"{base}/services/{service}/tokens")["tokens"]
    if not tokens:
        account.token(shop.ps, service)
        tokens = account.ok("GET", f"{base}/services/{service}/tokens")["tokens"]
    secret = account.ok("POST", f"{base}/services/{service}/identity_secrets", {"name": "site"})
    ids = {
        "parent_segment_id": shop.ps,
        "service_id": service,
        "identity_secret_id": str(secret["id"]),
        "token_id": str(tokens[0]["id"]),
        "personalization_id": shop.personalizations["Homepage"],
        "event_id": first("events"),
        "attribute_id": first("attributes"),
        "stitching_key_id": first("stitching_keys"),
        "segment_id": first("segments"),
        "api_key_id": str(account.ok("POST", "/v1/api_keys", {"type": "WRITE_ONLY"})["id"]),
        "key": "td_client_id",
        "value": "c1",
    }
    return World(account, ids)


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in logged]


def _expect_clear_4xx(reply: Response, what: str) -> None:
    assert 400 <= reply.status < 500, (what, reply.status, reply.body[:300])
    assert reply.headers.get("content-type", "").startswith("application/json"), (
        what,
        reply.headers,
        reply.body[:300],
    )
    message = reply.json().get("message", "")
    assert isinstance(message, str), (what, reply.body[:300])
    assert message.strip(), (what, reply.body[:300])


def _empty_body(route: Route) -> dict[str, Any] | None:
    return {} if route.body else None


ID_CASES = [
    pytest.param(route, param, id=f"{route.rpc}-{param}")
    for route in ROUTES
    for param in route.params
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
@pytest.mark.parametrize(("route", "param"), ID_CASES)
def test_a_hostile_id_is_a_clear_4xx(world: World, route: Route, param: str, hostile: str) -> None:
    path = world.path(route, {param: hostile})
    reply = world.account.call(route.method, path, _empty_body(route))
    _expect_clear_4xx(reply, f"{route.method} {path[:120]}")


def test_every_path_parameter_is_attacked() -> None:
    """The matrix above is not empty by accident: every id parameter of the API is in it."""
    attacked = {param for _route, param in (case.values for case in ID_CASES)}
    assert {p for r in ROUTES for p in r.params} == attacked
    assert {"parent_segment_id", "service_id", "token_id", "personalization_id"} <= attacked


# -- oversized fields in bodies ---------------------------------------------------------

BIG = 1024 * 1024 + 1  # a list of one such resource was once a 500 for its whole account
MANY = 20_000
_STRUCTS = {".google.protobuf.Struct", ".google.protobuf.Value", ".google.protobuf.ListValue"}
_OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY


def _example(rpc: str, world: World, n: int) -> dict[str, Any]:
    """A body the route would accept (names unique by ``n``), so one oversized field is
    the only thing wrong with it."""
    ps = world.ids["parent_segment_id"]
    examples: dict[str, dict[str, Any]] = {
        "IdentityService/CreateSession": {"email": "nobody@hostile.example", "password": "x" * 15},
        "IdentityService/ReauthenticateSession": {"password": "x" * 15},
        "IdentityService/CreateUser": {
            "email": f"u{n}@hostile.example",
            "password": "correct horse battery staple",
            "role": "VIEWER",
        },
        "IdentityService/CreateApiKey": {"type": "WRITE_ONLY"},
        "RegistryService/CreateService": {
            "name": f"svc {n}",
            "type": "PUBLIC",
            "description": "d",
            "allowed_origins": ["https://shop.example"],
        },
        "RegistryService/UpdateService": {
            "name": f"svc {n}",
            "description": "d",
            "allowed_origins": ["https://shop.example"],
        },
        "RegistryService/CreateToken": {"name": f"tok {n}"},
        "RegistryService/RevealToken": {},
        "RegistryService/CreateIdentitySecret": {"name": f"secret {n}"},
        "RegistryService/RevealIdentitySecret": {},
        "PersonalizationConfigService/CreatePersonalization": _personalization(n),
        "PersonalizationConfigService/UpdatePersonalization": _personalization(n),
        "PersonalizationConfigService/PreviewPersonalization": {
            "database": "shop_db",
            "table": "page_views",
            "event": {"td_client_id": "c1"},
            "profile": {},
        },
        "ConfigService/CreateParentSegment": {
            "name": f"ps {n}",
            "description": "d",
            "primary_key": "td_client_id",
        },
        "ConfigService/UpdateParentSegment": {"name": f"ps {n}", "description": "d"},
        "ConfigService/CreateEventDefinition": _event(n),
        "ConfigService/UpdateEventDefinition": _event(n),
        "ConfigService/CreateAttribute": _attribute(n),
        "ConfigService/UpdateAttribute": _attribute(n),
        "ConfigService/CreateStitchingKey": {
            "name": f"key{n}",
            "regex": "[a-z0-9]+",
            "exclusions": ["nobody"],
        },
        "ConfigService/UpdateStitchingKey": {"regex": "[a-z0-9]+", "exclusions": ["nobody"]},
        "ConfigService/CreateSegment": {"name": f"seg{n}", "sensitivity": "SENSITIVE"},
        "ConfigService/UpdateSegment": {"name": f"seg{n}", "sensitivity": "SENSITIVE"},
        "ConfigService/ImportSegmentMembers": {"key": "td_client_id", "values": ["c1"]},
        "ProfileService/ImportAttributes": {
            "key": "td_client_id",
            "records": [{"value": "c1", "attributes": {"tier": "gold"}}],
        },
    }
    assert ps
    return examples[rpc]


def _personalization(n: int) -> dict[str, Any]:
    return {
        "name": f"perso {n}",
        "description": "d",
        "trigger_events": ["page_view"],
        "sections": [
            {
                "name": "Banner",
                "criteria": {},
                "payload": [{"name": "tier", "attribute": "tier"}],
            }
        ],
    }


def _event(n: int) -> dict[str, Any]:
    return {
        "name": f"ev{n}",
        "database": "shop_db",
        "table": f"hostile_{n}",
        "filters": [{"field": "kind", "regex": "a.*"}],
    }


def _attribute(n: int) -> dict[str, Any]:
    return {
        "name": f"attr{n}",
        "type": "LIST",
        "event": "page_view",
        "field": "product_id",
        "list": {
            "max_items": 5,
            "expire_days": 5,
            "aggregations": [{"name": "viewed", "field": "product_id"}],
        },
    }


Path = tuple[str | int, ...]


def _field_paths(type_name: str, prefix: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every field a client may set whose size it chooses, as (path, kind), from the
    descriptor set: ``text``, ``texts`` (repeated strings, one of them long), ``entries``
    (too many of a repeated field) or ``json`` (a Struct or Value); output-only fields
    left out."""
    for field in MESSAGES[type_name.lstrip(".")].field:
        behaviors = field.options.Extensions[field_behavior_pb2.field_behavior]
        if _OUTPUT_ONLY in behaviors:
            continue
        repeated = field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
        path = (*prefix, field.name)
        if field.type_name in _STRUCTS:
            yield path, "json"
            continue
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            yield path, "texts" if repeated else "text"
        if repeated:
            yield path, "entries"
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE:
            yield from _field_paths(field.type_name, (*path, 0) if repeated else path)


def _body_type(route: Route) -> str:
    if route.body == "*":
        return route.request_type
    request = MESSAGES[route.request_type]
    field = next(f for f in request.field if f.name == route.body)
    return field.type_name.lstrip(".")


def _set(body: dict[str, Any], path: Path, value: Any) -> None:
    """Sets ``path`` in ``body``, making the containers on the way (index 0 of a list)."""
    here: Any = body
    for step, after in itertools.pairwise(path):
        if isinstance(step, int):
            if not here:
                here.append({})
            here = here[0]
            continue
        if step not in here or not isinstance(here[step], (dict, list)):
            here[step] = [] if isinstance(after, int) else {}
        here = here[step]
    here[path[-1]] = value


def _item_of(body: dict[str, Any], path: Path) -> Any:
    here: Any = body
    for step in path:
        if isinstance(step, int):
            here = here[0] if here else {}
        else:
            here = here.get(step, []) if isinstance(here, dict) else []
    return here[0] if isinstance(here, list) and here else "x"


BODY_ROUTES = [r for r in ROUTES if r.body]


def _body_cases() -> list[Any]:
    cases = []
    for route in BODY_ROUTES:
        for path, kind in _field_paths(_body_type(route)):
            if len(path) == 1 and path[0] in route.params:
                continue  # a path parameter: the id matrix above attacks it
            if kind == "json" and route.body == "*":
                continue  # an event or imported values: bounded by the event rules
            shown = ".".join(str(p) for p in path)
            cases.append(pytest.param(route, path, kind, id=f"{route.rpc}-{shown}-{kind}"))
    return cases


BODY_CASES = _body_cases()
_unique = iter(range(1, 1_000_000))


@pytest.mark.parametrize(("route", "path", "kind"), BODY_CASES)
def test_an_oversized_field_is_a_clear_4xx(
    world: World, route: Route, path: Path, kind: str
) -> None:
    body = _example(route.rpc, world, next(_unique))
    big = "x" * BIG
    value: Any
    if kind == "text":
        value = big
    elif kind == "texts":
        value = [big]
    elif kind == "entries":
        value = [_item_of(body, path)] * MANY
    elif path[-1] == "static":
        value = big
        body["sections"][0]["payload"][0].pop("attribute")  # one source per field
    else:
        value = {"all": [{"attribute": "tier", "op": "eq", "value": big}]}
    _set(body, path, value)
    url = world.path(route)
    if route.method == "PATCH":
        url += f"?update_mask={path[0]}"
    reply = world.account.call(route.method, url, body)
    what = f"{route.method} {route.path} {path}"
    _expect_clear_4xx(reply, what)
    assert reply.status != 429 or route.rpc.startswith("IdentityService/"), reply.body[:300]
    # Refused by a limit (services/common/limits.py, or a whole body's size cap: 413), not
    # by whatever else the value broke.
    assert reply.status == 413 or _reason(reply).endswith(LIMIT_REASONS), (what, reply.body[:300])


LIMIT_REASONS = ("_TOO_LONG", "_TOO_MANY", "RESOURCE_TOO_LARGE")


def _reason(reply: Response) -> str:
    for detail in reply.json().get("details", []):
        if "reason" in detail:
            return str(detail["reason"])
    return ""


def _lookup(body: dict[str, Any], path: Path) -> Any:
    here: Any = body
    for step in path:
        if isinstance(step, int):
            here = here[0] if isinstance(here, list) and here else None
        elif isinstance(here, dict):
            here = here.get(step)
        else:
            return None
    return here


def test_every_list_still_answers(world: World) -> None:
    """Whatever the attempts above stored, every list and every read of the account answers."""
    for route in ROUTES:
        if route.method != "GET":
            continue
        listing = any(f.name == "page_size" for f in MESSAGES[route.request_type].field)
        reply = world.account.call(
            "GET", world.path(route) + ("?page_size=1000" if listing else "")
        )
        assert reply.status in (200, 404), (route.path, reply.status, reply.body[:300])
        assert reply.status == 200 or route.rpc == "ProfileService/GetProfile", route.path


def test_every_body_route_has_an_example(world: World) -> None:
    """A new admin route with a body needs a valid example here before this file passes."""
    for route in BODY_ROUTES:
        assert _example(route.rpc, world, 0) is not None


def test_a_primary_key_with_nul_is_refused(world: World) -> None:
    reply = world.account.call(
        "POST",
        "/v1/parent_segments",
        {"name": "Nul key", "primary_key": "td\u0000id"},
    )
    _expect_clear_4xx(reply, "primary key with NUL")
    assert reply.status == 400
    assert reply.json()["message"] == (
        "Primary key must not contain control characters such as line breaks"
    )


def test_a_full_page_of_resources_at_their_limits_still_answers(suite: Suite) -> None:
    """A page of the largest resources allowed would pass the 8 MiB a service may send (a
    429 for the whole list); the page stops short by size and the next token carries on."""
    owner = Account.create(suite)
    ps = owner.parent_segment("Large personalizations")
    owner.event(ps, "page_view", "shop_db", "page_views")
    payload = [{"name": f"f{i}", "static": "v" * 3000} for i in range(20)]
    count = 140  # 140 x ~61 KiB: past 8 MiB in one answer
    for n in range(count):
        body = {
            "name": f"p{n}",
            "trigger_events": ["page_view"],
            "sections": [{"name": f"Big {n}", "payload": payload}],
        }
        owner.ok("POST", f"/v1/parent_segments/{ps}/personalizations", body)
    seen: list[str] = []
    token = ""
    while True:
        reply = owner.call(
            "GET", f"/v1/parent_segments/{ps}/personalizations?page_size=1000&page_token={token}"
        )
        assert reply.status == 200, reply.body[:300]
        answer = reply.json()
        seen += [p["name"] for p in answer["personalizations"]]
        token = answer["next_page_token"]
        if not token:
            break
    assert seen == [f"p{n}" for n in range(count)]
