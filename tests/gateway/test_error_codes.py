"""The ext_authz refusals and the gateway's local replies carry the same code per status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from p13n.auth.v1 import identity_pb2

from gateway.render import GatewayConfig, build
from services.auth.authz import Request, decide
from services.common.status_codes import code_for_http_status

CONFIG = GatewayConfig.on_kubernetes()  # the codes are the same for every machine
SHOP = "https://shop.example"
PUBLIC = identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PUBLIC)


class _Directory:
    """One public token for one shop; ``limited`` rate-limits every caller."""

    def __init__(self, *, limited: bool = False) -> None:
        self._limited = limited

    def identify_token(self, token: str) -> identity_pb2.Identity | None:
        return PUBLIC if token == "good" else None

    def token_allows_origin(self, identity: identity_pb2.Identity, origin: str) -> bool:
        return identity == PUBLIC and origin == SHOP

    def token_allows_ip(self, identity: identity_pb2.Identity, ip: str) -> bool:
        return identity == PUBLIC and bool(ip)

    def identify_credentials(self, authorization: str) -> identity_pb2.Identity | None:
        return PUBLIC if authorization == "TD1 good" else None

    def preflight_allows(self, origin: str, database: str, table: str) -> bool:
        return (origin, database, table) == (SHOP, "shop_db", "page_views")

    def rate_limited(self, identity: identity_pb2.Identity | None, ip: str) -> float:
        return 1.0 if self._limited and (identity is None or bool(ip)) else 0.0

    def data_credential_failed(self, ip: str) -> float:
        return 1.0 if self._limited and ip else 0.0

    def admin_failures_wait(self, ip: str) -> float:
        return 1.0 if self._limited and ip else 0.0

    def admin_credential_failed(self, ip: str) -> None:
        pass


def _request(listener: str, method: str, path: str, **headers: str) -> Request:
    return Request(listener, method, path, dict(headers), "192.0.2.1")


def _found(node: Any, key: str) -> list[Any]:
    """Every value under ``key`` anywhere in ``node``."""
    if isinstance(node, list):
        return [found for value in node for found in _found(value, key)]
    if not isinstance(node, dict):
        return []
    own = [node[key]] if key in node else []
    return own + [found for value in node.values() for found in _found(value, key)]


def _mapped_codes() -> dict[int, int]:
    """Each status a local-reply mapper of the rendered config matches → the code it writes."""
    codes: dict[int, int] = {}
    for config in _found(build(CONFIG), "local_reply_config"):
        for mapper in config["mappers"]:
            code = mapper.get("body_format_override", {}).get("json_format", {}).get("code")
            for status_filter in _found(mapper["filter"], "status_code_filter"):
                status = status_filter["comparison"]["value"]["default_value"]
                if code is not None:
                    assert codes.setdefault(status, code) == code, status
    return codes


def test_every_local_reply_code_is_the_tables() -> None:
    codes = _mapped_codes()
    assert {400, 404, 503} <= set(codes)  # the template's own 503 mapper is among them
    assert codes == {status: code_for_http_status(status) for status in codes}


@pytest.mark.parametrize(
    ("request_", "directory", "status"),
    [
        pytest.param(_request("data", "POST", "/nowhere"), _Directory(), 404, id="404"),
        pytest.param(_request("admin", "GET", "/v1/me"), _Directory(), 401, id="401"),
        pytest.param(
            _request(
                "data", "OPTIONS", "/public/shop_db/views", origin="https://elsewhere.example"
            ),
            _Directory(),
            403,
            id="403",
        ),
        pytest.param(
            _request(
                "data",
                "POST",
                "/public/shop_db/views",
                **{"wp13n-token": "good", "origin": SHOP},
                **{"content-type": "text/plain"},
            ),
            _Directory(),
            415,
            id="415",
        ),
        pytest.param(
            _request("admin", "POST", "/v1/sessions"), _Directory(limited=True), 429, id="429"
        ),
    ],
)
def test_an_ext_authz_refusal_carries_the_code_envoy_would_write(
    request_: Request, directory: _Directory, status: int
) -> None:
    decision = decide(request_, directory)
    assert decision.status == status
    assert json.loads(decision.body)["code"] == _mapped_codes()[status]
