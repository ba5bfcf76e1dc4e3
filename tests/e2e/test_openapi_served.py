"""The API reference through the real Envoy: GET /v1/openapi.json on the admin listener."""

from __future__ import annotations

import json

from support.http import request
from support.suite import Suite

from gateway import openapi

CHECK = "/envoy.service.auth.v3.Authorization/Check"


def test_the_admin_listener_serves_the_committed_document_to_anyone(suite: Suite) -> None:
    checks = suite.recorders["auth"].calls
    before = len([c for c in checks if c.method == CHECK])
    reply = request("GET", suite.admin_port, "/v1/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == json.loads(openapi.DOCUMENT.read_text())
    # Public, so no credential is asked for: the auth service is not consulted.
    assert len([c for c in checks if c.method == CHECK]) == before


def test_only_get_is_served(suite: Suite) -> None:
    reply = request("POST", suite.admin_port, "/v1/openapi.json", body={})
    assert reply.status != 200


def test_the_data_listener_does_not_serve_it(suite: Suite) -> None:
    assert request("GET", suite.data_port, "/v1/openapi.json").status != 200


def test_the_404_names_where_the_reference_is(suite: Suite) -> None:
    reply = request("GET", suite.admin_port, "/v2/things")
    assert reply.status == 404
    assert "/v1/openapi.json" in reply.json()["message"]
    assert "docs/api.md" in reply.json()["message"]
