"""Native gRPC clients through the real Envoy (docs/design.md#grpc-clients).

The gateway is their one door: PrivatePersonalize and IngestRecords on the data listener
get the HTTP paths' decision (token or API key from metadata, the real peer address, IP
allow-lists, rate limits, revocation), and every refusal is a gRPC status with
``grpc-status`` and ``grpc-message``, never a bare HTTP answer. Each case is checked with
grpcio and, where a client not written here matters, with ``buf curl`` and raw HTTP/2.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from contracts.tooling import BUF, ROOT, installed_tools
from google.protobuf import json_format
from p13n.offers.v1 import personalize_service_pb2 as personalize
from p13n.offers.v1 import personalize_service_pb2_grpc
from p13n.profile.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from support.admin import Account
from support.auth import api_key
from support.http import request
from support.offers_shop import DATABASE, MEMBER, TIER, GuideShop
from support.suite import Suite, single_process

from services.common.events import to_struct

pytestmark = pytest.mark.both_backends

PRIVATE_PERSONALIZE = "p13n.offers.v1.PersonalizeService/PrivatePersonalize"
INGEST_RECORDS = "p13n.profile.v1.IngestService/IngestRecords"
SUITE_ADDRESS = "127.0.0.1"  # where the suite's clients connect from
OTHER_ADDRESS = "127.0.0.2"


@dataclass(frozen=True)
class World:
    shop: GuideShop
    here: str  # private token allowed from the suite's address only
    elsewhere: str  # private token allowed from another address only
    slow: str  # private token of a service limited to a burst of 3
    write_only: str  # API key


@pytest.fixture(scope="module")
def world(account: Account) -> World:
    shop = GuideShop.create(account)
    backend = account.service(shop.ps, "Office", "PRIVATE")
    slow = account.ok(
        "POST",
        f"/v1/parent_segments/{shop.ps}/services",
        {"name": "Slow", "type": "PRIVATE", "rate_limit": {"requests_per_second": 1, "burst": 3}},
    )["id"]
    return World(
        shop=shop,
        here=account.token(shop.ps, backend, "here", [f"{SUITE_ADDRESS}/32"]),
        elsewhere=account.token(shop.ps, backend, "elsewhere", [f"{OTHER_ADDRESS}/32"]),
        slow=account.token(shop.ps, str(slow), "slow"),
        write_only=api_key(account, "WRITE_ONLY"),
    )


@pytest.fixture(scope="module")
def channel(suite: Suite) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{suite.data_port}") as opened:
        yield opened


def _event(member: str = MEMBER) -> personalize.PrivatePersonalizeRequest:
    event = personalize.PrivatePersonalizeRequest(database=DATABASE, table="page_views")
    event.event.update({"td_client_id": member})
    return event


@dataclass(frozen=True)
class Answer:
    """What a gRPC client saw: the status and its message, and the reply if OK.

    grpcio reads the code from ``grpc-status`` (without one it reports UNKNOWN, as it did
    before the door existed) and keeps it out of the trailers it shows; the ``buf curl``
    tests below read the header lines themselves.
    """

    code: grpc.StatusCode
    message: str
    reply: Any = None


def _call(method: Any, message: Any, metadata: tuple[tuple[str, str], ...]) -> Answer:
    try:
        reply = method(message, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        failed: Any = error  # a grpc.Call as well
        return Answer(failed.code(), failed.details() or "")
    return Answer(grpc.StatusCode.OK, "", reply)


def _personalize(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> Answer:
    stub = personalize_service_pb2_grpc.PersonalizeServiceStub(channel)
    return _call(stub.PrivatePersonalize, _event(), metadata)


def _ingest(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...], client: str) -> Answer:
    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
    records = ingest_service_pb2.IngestRecordsRequest(
        database=DATABASE, table="page_views", records=[to_struct({"td_client_id": client})]
    )
    return _call(stub.IngestRecords, records, metadata)


def _loyalty(reply: personalize.PersonalizeResponse) -> Any:
    return {section.name: section.offer for section in reply.offers}["Loyalty Discount"]


def _token(value: str) -> tuple[tuple[str, str], ...]:
    return (("wp13n-token", value),)


# PrivatePersonalize with grpcio.


def test_a_private_token_from_its_allowed_address_gets_the_full_answer(
    channel: grpc.Channel, world: World
) -> None:
    answer = _personalize(channel, _token(world.here))
    assert answer.code == grpc.StatusCode.OK
    assert _loyalty(answer.reply).attributes["membership_tier"] == TIER


def test_a_private_token_from_another_address_is_permission_denied(
    channel: grpc.Channel, world: World
) -> None:
    # A client's claim about its address is not believed: the peer Envoy saw decides.
    claimed = (*_token(world.elsewhere), ("x-forwarded-for", OTHER_ADDRESS))
    answer = _personalize(channel, claimed)
    assert answer.code == grpc.StatusCode.PERMISSION_DENIED
    assert answer.message == "This token may not be used from this address"


def test_a_public_token_gets_the_redacted_answer(channel: grpc.Channel, world: World) -> None:
    # As on the HTTP private path: a public token is readable by anyone who opens the page.
    answer = _personalize(channel, _token(world.shop.public_token))
    assert answer.code == grpc.StatusCode.OK
    assert not _loyalty(answer.reply).HasField("attributes")
    assert TIER.encode() not in answer.reply.SerializeToString()


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        pytest.param(
            (), "Missing WP13n-Token header: expected account_id/reactor_id/secret", id="no-token"
        ),
        pytest.param(
            _token("1/1/p13n_priv_unknown"), "Unknown, malformed or revoked token", id="unknown"
        ),
    ],
)
def test_without_a_valid_token_it_is_unauthenticated(
    channel: grpc.Channel, metadata: tuple[tuple[str, str], ...], message: str
) -> None:
    answer = _personalize(channel, metadata)
    assert answer.code == grpc.StatusCode.UNAUTHENTICATED
    assert answer.message == message


def test_a_deleted_token_is_refused_within_five_seconds(
    channel: grpc.Channel, account: Account, world: World
) -> None:
    backend = account.service(world.shop.ps, "Doomed", "PRIVATE")
    tokens = f"/v1/parent_segments/{world.shop.ps}/services/{backend}/tokens"
    created = account.ok("POST", tokens, {"name": "doomed"})
    assert _personalize(channel, _token(created["token"])).code == grpc.StatusCode.OK
    deadline = time.monotonic() + 5  # counted from the moment the deletion is asked for
    account.ok("DELETE", f"{tokens}/{created['id']}")
    while (code := _personalize(channel, _token(created["token"])).code) is grpc.StatusCode.OK:
        assert time.monotonic() < deadline, "still answered 5 s after the token was deleted"
        time.sleep(0.1)
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_the_tokens_rate_limit_is_resource_exhausted(channel: grpc.Channel, world: World) -> None:
    codes = [_personalize(channel, _token(world.slow)).code for _ in range(8)]
    assert codes[:3] == [grpc.StatusCode.OK] * 3
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[3:]


def test_a_forged_identity_header_is_dropped_at_the_door(
    suite: Suite, channel: grpc.Channel, world: World
) -> None:
    # Only ext_authz writes x-p13n-identity: a client's is removed, its token decides.
    forged_value = "eyJhY2NvdW50X2lkIjoiMSJ9.bm90YW1hYw"
    forged = (("x-p13n-identity", forged_value),)
    offers = suite.recorders["offers"].calls
    before = len(offers)
    assert _personalize(channel, forged).code == grpc.StatusCode.UNAUTHENTICATED
    assert len(offers) == before, "a call without a token reached offers"
    answer = _personalize(channel, (*forged, *_token(world.here)))
    assert answer.code == grpc.StatusCode.OK
    received = offers[-1].metadata.get("x-p13n-identity", "")
    assert received, "offers got no identity"
    assert forged_value not in received, "the client's header reached offers"


# IngestRecords with grpcio.


def test_ingest_with_a_write_only_key_is_stored(
    suite: Suite, channel: grpc.Channel, world: World
) -> None:
    answer = _ingest(channel, (("authorization", f"TD1 {world.write_only}"),), "grpc-ingest")
    assert answer.code == grpc.StatusCode.OK
    assert answer.reply.received == 1
    stored = request(
        "GET",
        suite.admin_port,
        f"/v1/parent_segments/{world.shop.ps}/profiles/td_client_id/grpc-ingest",
        headers={"authorization": f"TD1 {world.shop.account.api_key}"},
    )
    assert stored.status == 200, stored.body


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        pytest.param(
            (("authorization", "TD1 p13n_write_not-a-real-key"),),
            "Unknown API key in Authorization",
            id="wrong-key",
        ),
        pytest.param((), "Missing Authorization header: expected TD1 <API key>", id="no-key"),
    ],
)
def test_ingest_without_a_valid_key_is_unauthenticated(
    channel: grpc.Channel, metadata: tuple[tuple[str, str], ...], message: str
) -> None:
    answer = _ingest(channel, metadata, "never-stored")
    assert answer.code == grpc.StatusCode.UNAUTHENTICATED
    assert answer.message == message


def test_the_services_own_refusal_reaches_the_client(channel: grpc.Channel, world: World) -> None:
    # Past the door, a service's status and message pass through as they were sent.
    stub = personalize_service_pb2_grpc.PersonalizeServiceStub(channel)
    unknown = personalize.PrivatePersonalizeRequest(database=DATABASE, table="no_such_table")
    unknown.event.update({"td_client_id": MEMBER})
    answer = _call(stub.PrivatePersonalize, unknown, _token(world.here))
    assert answer.code == grpc.StatusCode.NOT_FOUND
    assert "no_such_table" in answer.message


@pytest.mark.parametrize(
    ("service", "message"),
    [
        pytest.param("offers", "A p13n service is unavailable; retry shortly", id="past-the-door"),
        pytest.param(
            "auth", "The authorization service is unavailable; retry shortly", id="at-the-door"
        ),
    ],
)
def test_envoys_own_reply_is_a_grpc_status_from_the_table(
    suite: Suite, channel: grpc.Channel, world: World, service: str, message: str
) -> None:
    # With a service down Envoy answers itself (a 503): as gRPC, with the gateway's message,
    # not its own "upstream connect error" nor the JSON an HTTP client gets.
    suite.stop_service(service)
    try:
        answer = _personalize(channel, _token(world.here))
    finally:
        suite.start_service(service)
    assert answer.code == grpc.StatusCode.UNAVAILABLE
    if single_process():
        # Offers' process is auth's: with offers, the door is gone too.
        message = "The authorization service is unavailable; retry shortly"
    assert answer.message == message


# Everything else a gRPC client may try is refused with a gRPC status.


def _raw_grpc(port: int, path: str, token: str) -> Answer:
    """A unary gRPC call with an empty message, by path: methods no stub here would call."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        method = opened.unary_unary(path)
        return _call(method, b"", _token(token))


@pytest.mark.parametrize(
    ("listener", "path", "code"),
    [
        pytest.param(
            "data",
            "/p13n.offers.v1.PersonalizeService/PublicPersonalize",
            grpc.StatusCode.PERMISSION_DENIED,
            id="public-rpc",
        ),
        pytest.param(
            "data",
            "/public/shop_db/page_views",
            grpc.StatusCode.PERMISSION_DENIED,
            id="public-path",
        ),
        pytest.param(
            "data",
            "/p13n.offers.v1.PersonalizeService/PrivatePersonalizeHttp",
            grpc.StatusCode.NOT_FOUND,
            id="the-http-paths-rpc",
        ),
        pytest.param(
            "data",
            "/p13n.profile.v1.ConfigService/ListParentSegments",
            grpc.StatusCode.NOT_FOUND,
            id="admin-rpc-on-data",
        ),
        pytest.param(
            "data", "/shop_db/page_views", grpc.StatusCode.INVALID_ARGUMENT, id="http-path"
        ),
        pytest.param(
            "admin",
            "/p13n.profile.v1.ConfigService/ListParentSegments",
            grpc.StatusCode.PERMISSION_DENIED,
            id="admin-listener",
        ),
    ],
)
def test_grpc_to_any_other_method_is_refused_with_a_grpc_status(
    suite: Suite, world: World, listener: str, path: str, code: grpc.StatusCode
) -> None:
    port = suite.data_port if listener == "data" else suite.admin_port
    answer = _raw_grpc(port, path, world.here)
    assert answer.code == code
    assert answer.message


def test_grpc_content_type_on_an_http_path_is_a_clear_refusal(suite: Suite, world: World) -> None:
    # What curl sees: not "200 with an empty body" but a gRPC status saying what to do.
    reply = request(
        "POST",
        suite.data_port,
        "/shop_db/page_views",
        headers={"wp13n-token": world.here, "content-type": "application/grpc"},
        body={"td_client_id": MEMBER},
    )
    assert reply.headers["grpc-status"] == str(grpc.StatusCode.INVALID_ARGUMENT.value[0])
    assert "takes JSON" in reply.headers["grpc-message"]


def test_http_answers_still_hide_grpc_internals(world: World) -> None:
    reply = world.shop.private("page_views", {"td_client_id": MEMBER}, token=world.here)
    assert reply.status == 200
    assert not {name for name in reply.headers if name.lower().startswith("grpc-")}


# A client not written here: buf curl with nothing but protos/.


def _buf_curl(suite: Suite, path: str, body: dict[str, Any], *headers: str) -> Any:
    installed_tools()
    arguments = [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-v"]
    arguments += ["--schema", "protos/", "--data", json.dumps(body)]
    for header in headers:
        arguments += ["--header", header]
    arguments.append(f"http://127.0.0.1:{suite.data_port}/{path}")
    return subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True, timeout=60)


def _buf_status(stderr: str) -> tuple[str, str, str]:
    """A refused call as buf curl -v shows it: the grpc-status and grpc-message lines it
    received, and the code it printed (as JSON, after its verbose lines, on stderr)."""
    received = dict(
        line.split(") ", 1)[1].split(": ", 1)
        for line in stderr.splitlines()
        if line.startswith("buf: < (#1) Grpc-")
    )
    printed = json.loads(stderr[stderr.rindex("\n{") :])
    return received["Grpc-Status"], received["Grpc-Message"], printed["code"]


EVENT = json_format.MessageToDict(_event(), preserving_proto_field_name=True)


def test_buf_curl_with_a_private_token_gets_the_full_answer(suite: Suite, world: World) -> None:
    called = _buf_curl(suite, PRIVATE_PERSONALIZE, EVENT, f"wp13n-token: {world.here}")
    assert called.returncode == 0, called.stderr
    offers = {o["name"]: o["offer"] for o in json.loads(called.stdout)["offers"]}
    assert offers["Loyalty Discount"]["attributes"]["membership_tier"] == TIER


def test_buf_curl_with_a_public_token_gets_the_redacted_answer(suite: Suite, world: World) -> None:
    called = _buf_curl(suite, PRIVATE_PERSONALIZE, EVENT, f"wp13n-token: {world.shop.public_token}")
    assert called.returncode == 0, called.stderr
    assert TIER not in called.stdout


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param(
            None,
            ("16", "Missing WP13n-Token header: expected account_id/reactor_id/secret"),
            id="no-token",
        ),
        pytest.param(
            "elsewhere", ("7", "This token may not be used from this address"), id="elsewhere"
        ),
    ],
)
def test_buf_curl_refusals_carry_grpc_status_and_message(
    suite: Suite, world: World, token: str | None, status: tuple[str, str]
) -> None:
    headers = [f"wp13n-token: {world.elsewhere}"] if token else []
    called = _buf_curl(suite, PRIVATE_PERSONALIZE, EVENT, *headers)
    assert called.returncode != 0
    grpc_status, grpc_message, code = _buf_status(called.stderr)
    assert (grpc_status, grpc_message) == status
    assert code == {"16": "unauthenticated", "7": "permission_denied"}[grpc_status]


def test_buf_curl_ingest_with_a_write_only_key(suite: Suite, world: World) -> None:
    body = {"database": DATABASE, "table": "page_views", "records": [{"td_client_id": "buf-1"}]}
    called = _buf_curl(suite, INGEST_RECORDS, body, f"authorization: TD1 {world.write_only}")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {"received": 1}
    refused = _buf_curl(suite, INGEST_RECORDS, body, "authorization: TD1 p13n_write_nope")
    assert _buf_status(refused.stderr)[::2] == ("16", "unauthenticated")
