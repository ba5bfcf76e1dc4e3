"""The shop's web server on its own, without a suite: what it serves and what it refuses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from support.http import request

from services.demo.shop import SDK_FILE, PageConfig, ShopServer, load_products, member_proof
from services.profile import proofs

PAGE = PageConfig(
    endpoint="http://127.0.0.1:18080",
    token="7/3/p13n_pub_example",
    database="demo_shop",
    table="events",
    member_id="M-1001",
)


SECRET = "p13n_idv_" + "x" * 49


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ShopServer("127.0.0.1", 0, PAGE, identity_secret=SECRET)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        pytest.param("/", b'id="products"', id="home"),
        pytest.param("/index.html", b'id="products"', id="index"),
        pytest.param("/products/kids-hoodie", b'id="product"', id="product"),
    ],
)
def test_pages_carry_a_strict_csp_that_allows_only_the_gateway(
    port: int, path: str, marker: bytes
) -> None:
    reply = request("GET", port, path)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert marker in reply.body
    csp = reply.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:18080;" in csp
    assert "require-trusted-types-for 'script'; trusted-types p13n" in csp


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/products/no-such-thing", id="unknown-product"),
        pytest.param("/products/../shop.py", id="traversal"),
        pytest.param("/products.json", id="data-file"),
        pytest.param("/shop.py", id="source"),
    ],
)
def test_anything_else_is_404(port: int, path: str) -> None:
    assert request("GET", port, path).status == 404


def test_config_script_carries_the_page_settings_and_the_catalog(port: int) -> None:
    reply = request("GET", port, "/config.js")
    assert reply.headers["content-type"].startswith("text/javascript")
    name, _, value = reply.body.decode().partition(" = ")
    assert name == "window.P13N_DEMO"
    settings = json.loads(value.removesuffix(";\n"))
    assert settings == {
        "endpoint": PAGE.endpoint,
        "token": PAGE.token,
        "database": PAGE.database,
        "table": PAGE.table,
        "timeoutMs": 1000,
        "memberId": PAGE.member_id,
        "products": load_products(),
    }


def test_the_sdk_is_the_gateway_file(port: int) -> None:
    reply = request("GET", port, "/sdk/p13n.js")
    assert reply.status == 200
    assert reply.body == SDK_FILE.read_bytes()


def test_sign_in_answers_the_member_and_the_proof_the_gateway_checks(port: int) -> None:
    reply = request("POST", port, "/sign-in")
    assert reply.status == 200, reply.body
    signed = reply.json()
    assert signed == {"member_id": "M-1001", "proof": member_proof(SECRET, "M-1001")}
    # The shop's stdlib-only signing is exactly what the profile service verifies.
    given = {"member_id": signed["proof"]}
    assert proofs.Proofs(given, (SECRET,)).check("member_id", "M-1001") is None
    # The secret itself is never served: not in the answer, not in the page settings.
    assert SECRET.encode() not in reply.body
    assert SECRET.encode() not in request("GET", port, "/config.js").body


def test_without_an_identity_secret_sign_in_is_a_clear_503() -> None:
    server = ShopServer("127.0.0.1", 0, PAGE)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        reply = request("POST", int(server.server_address[1]), "/sign-in")
    finally:
        server.shutdown()
        server.server_close()
    assert reply.status == 503
    assert "no identity secret" in reply.json()["message"]
    assert "hidden" in repr(server)
