"""Hostile input on every JSON entry point, through the real Envoy (issue 13).

Each case is sent to the public, private, ingest and admin paths. Every answer is a 4xx
in JSON with a message a developer can act on, and nothing is stored: no event in
profile.db, no imported profile, no service. Before the gateway read bodies strictly,
protobuf's lenient parser stored malformed JSON with 200, ``2**64`` became
``1.8446744073709552e+19``, a misspelled field was dropped, headers of 16-60 KiB were
answered 429 with gRPC's metadata text and ``%00`` or ``%2F`` in a path 400 with no message.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support import stored
from support.admin import Account
from support.http import Response, request
from support.suite import Suite

pytestmark = pytest.mark.both_backends

_ids = itertools.count(1)
ORIGIN = "https://shop.example"


@dataclass(frozen=True)
class World:
    suite: Suite
    account: Account
    ps: str
    public_token: str
    private_token: str


@pytest.fixture(scope="module")
def world(suite: Suite, account: Account) -> World:
    ps = account.parent_segment("Hostile JSON")
    account.event(ps, "page_view", "shop_db", "page_views")
    for name in ("tier", "points"):
        account.ok(
            "POST",
            f"/v1/parent_segments/{ps}/attributes",
            {"name": name, "type": "IMPORTED", "sensitivity": "NON_SENSITIVE"},
        )
    public = account.token(ps, account.service(ps, "web", origins=[ORIGIN]))
    private = account.token(ps, account.service(ps, "backend", type_="PRIVATE"))
    return World(suite, account, ps, public, private)


# A path's way of sending one JSON object (the event, or the imported attributes), the
# client id it names, and whether anything with that id was stored.
@dataclass(frozen=True)
class Path:
    listener: str  # "data" or "admin"
    template: str  # the URL, {ps} filled in
    headers: Callable[[World], dict[str, str]]
    wrap: Callable[[bytes, str], bytes]  # (object, client id) -> body
    stored: Callable[[World, str], bool]

    def url(self, world: World) -> str:
        return self.template.format(ps=world.ps)

    def port(self, world: World) -> int:
        return world.suite.admin_port if self.listener == "admin" else world.suite.data_port


def _events(world: World, client_id: str) -> bool:
    query = "SELECT count(*) FROM events WHERE body LIKE ?"
    [(count,)] = stored.rows(world.suite.settings, "profile", query, f"%{client_id}%")
    return bool(count)


def _imported(world: World, client_id: str) -> bool:
    reply = world.account.call(
        "GET", f"/v1/parent_segments/{world.ps}/profiles/td_client_id/{client_id}"
    )
    assert reply.status in (200, 404), reply.body
    return reply.status == 200


def _in_event(obj: bytes, client_id: str) -> bytes:
    # The object's first member becomes the identifier: {"td_client_id": "<id>", ...
    return obj.replace(b"KEY", b"td_client_id").replace(b"VALUE", client_id.encode())


PATHS = {
    "public": Path(
        "data",
        "/public/shop_db/page_views",
        lambda w: {"wp13n-token": w.public_token, "origin": ORIGIN},
        _in_event,
        _events,
    ),
    "private": Path(
        "data",
        "/shop_db/page_views",
        lambda w: {"wp13n-token": w.private_token},
        _in_event,
        _events,
    ),
    "ingest": Path(
        "data",
        "/records/shop_db/page_views",
        lambda w: {"authorization": f"TD1 {w.account.api_key}"},
        lambda obj, client_id: b'{"records": [' + _in_event(obj, client_id) + b"]}",
        _events,
    ),
    "admin": Path(
        "admin",
        "/v1/parent_segments/{ps}/imports",
        lambda w: {"authorization": f"TD1 {w.account.api_key}"},
        lambda obj, client_id: (
            b'{"key": "td_client_id", "records": [{"value": "'
            + client_id.encode()
            + b'", "attributes": '
            + obj.replace(b"KEY", b"tier").replace(b"VALUE", b"gold")
            + b"}]}"
        ),
        _imported,
    ),
}

# Each object as the attack sent it; KEY and VALUE become the path's own member.
MALFORMED = {
    "single-quotes": b"{'KEY': 'VALUE'}",
    "unquoted-key": b'{KEY: "VALUE"}',
    "trailing-comma": b'{"KEY": "VALUE",}',
    "raw-0x01": b'{"KEY": "VALUE\x01"}',
    "duplicate-key": b'{"KEY": "VALUE", "KEY": "VALUE"}',
    "big-integer": b'{"KEY": "VALUE", "points": 18446744073709551616}',
}


def _refused(reply: Response, status: int) -> str:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    message: str = reply.json()["message"]
    assert message.strip()
    return message


CASES = [pytest.param(path, case, id=f"{case}-{path}") for case in MALFORMED for path in PATHS]


@pytest.mark.parametrize(("path_name", "case"), CASES)
def test_malformed_json_is_400_and_nothing_is_stored(
    world: World, path_name: str, case: str
) -> None:
    path = PATHS[path_name]
    client_id = f"hostile{next(_ids)}"
    reply = request(
        "POST",
        path.port(world),
        path.url(world),
        headers=path.headers(world),
        body=path.wrap(MALFORMED[case], client_id),
    )
    message = _refused(reply, 400)
    if case == "big-integer":
        assert "points: integers beyond ±2^53" in message
    assert not path.stored(world, client_id)


@pytest.mark.parametrize("path_name", list(PATHS))
def test_a_client_cannot_claim_its_body_was_cut(world: World, path_name: str) -> None:
    """The auth service answers a body cut at the route's limit 413 without reading it;
    Envoy sets the header that says it was cut over any the client sent."""
    path = PATHS[path_name]
    client_id = f"partial{next(_ids)}"
    reply = request(
        "POST",
        path.port(world),
        path.url(world),
        headers=path.headers(world) | {"x-envoy-auth-partial-body": "true"},
        body=path.wrap(MALFORMED["single-quotes"], client_id),
    )
    _refused(reply, 400)
    assert not path.stored(world, client_id)


def test_well_formed_json_is_stored_on_every_path(world: World) -> None:
    """The control: the same requests with good JSON pass, so the checks above can fail."""
    for path in PATHS.values():
        client_id = f"fine{next(_ids)}"
        body = path.wrap(b'{"KEY": "VALUE", "points": 9007199254740992}', client_id)
        reply = request(
            "POST", path.port(world), path.url(world), headers=path.headers(world), body=body
        )
        assert reply.status == 200, reply.body
        assert path.stored(world, client_id)


def test_an_unknown_ingest_field_is_400_naming_it(world: World) -> None:
    path = PATHS["ingest"]
    client_id = f"unknown{next(_ids)}"
    body = json.dumps({"records": [{"td_client_id": client_id}], "databse": "shop_db"})
    reply = request(
        "POST", world.suite.data_port, path.url(world), headers=path.headers(world), body=body
    )
    assert _refused(reply, 400).startswith('Unknown field "databse"')
    assert not path.stored(world, client_id)


# The transcoder ignores trailing slashes (and normalization turns "/." into one): each
# spelling must be checked as the plain path is.
@pytest.mark.parametrize("suffix", ["", "/", "//", "/."])
def test_a_misspelled_admin_field_is_400_and_creates_nothing(world: World, suffix: str) -> None:
    services = f"/v1/parent_segments/{world.ps}/services"
    before = world.account.ok("GET", services)
    reply = world.account.call(
        "POST", services + suffix, {"name": "typo", "type": "PUBLIC", "allowed_origin": [ORIGIN]}
    )
    message = _refused(reply, 400)
    assert message.startswith('Unknown field "service.allowed_origin"; ')
    assert "allowed_origins" in message
    [info, bad_request] = reply.json()["details"]
    assert info["reason"] == "UNKNOWN_FIELD"
    assert bad_request["field_violations"][0]["field"] == "service.allowed_origin"
    assert world.account.ok("GET", services) == before


@pytest.mark.parametrize("kib", [pytest.param(kib, id=f"{kib}KiB") for kib in (33, 60, 100)])
@pytest.mark.parametrize("path_name", list(PATHS))
def test_headers_over_the_limit_are_431_json(world: World, path_name: str, kib: int) -> None:
    path = PATHS[path_name]
    client_id = f"headers{next(_ids)}"
    reply = request(
        "POST",
        path.port(world),
        path.url(world),
        headers=path.headers(world) | {"x-padding": "a" * (kib * 1024)},
        body=path.wrap(b'{"KEY": "VALUE"}', client_id),
    )
    assert _refused(reply, 431) == "Request headers too large"
    assert not path.stored(world, client_id)


@pytest.mark.parametrize("path_name", list(PATHS))
def test_headers_under_the_limit_pass(world: World, path_name: str) -> None:
    """24 KiB: gRPC's own metadata limit (16 KiB) answered this 429 before."""
    path = PATHS[path_name]
    client_id = f"headers{next(_ids)}"
    reply = request(
        "POST",
        path.port(world),
        path.url(world),
        headers=path.headers(world) | {"x-padding": "a" * (24 * 1024)},
        body=path.wrap(b'{"KEY": "VALUE"}', client_id),
    )
    assert reply.status == 200, reply.body
    assert path.stored(world, client_id)


ESCAPES = ["%00", "%2F", "%2f", "%5C"]


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("path_name", list(PATHS))
def test_an_escaped_nul_or_slash_in_a_path_is_400_with_a_message(
    world: World, path_name: str, escape: str
) -> None:
    path = PATHS[path_name]
    client_id = f"escape{next(_ids)}"
    url = path.url(world).replace("_", escape, 1)
    reply = request(
        "POST",
        path.port(world),
        url,
        headers=path.headers(world),
        body=path.wrap(b'{"KEY": "VALUE"}', client_id),
    )
    assert "encoded NUL (%00), an encoded slash (%2F or %5C)" in _refused(reply, 400)
    assert not path.stored(world, client_id)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_body_on_a_read_or_delete_is_refused_and_cannot_name_another_id(
    world: World, method: str
) -> None:
    """The transcoder reads such a body into the request: `GET /v1/parent_segments/A` with
    `{"parent_segment_id": B}` answered B, and a DELETE with lenient JSON deleted."""
    other = world.account.parent_segment(f"other-{method}")
    reply = world.account.call(
        method, f"/v1/parent_segments/{world.ps}", {"parent_segment_id": other}
    )
    assert _refused(reply, 404).startswith("Unknown path or method for a request with a body")
    assert world.account.ok("GET", f"/v1/parent_segments/{other}")["id"] == other
    assert world.account.ok("GET", f"/v1/parent_segments/{world.ps}")["id"] == str(world.ps)
