"""The API reference generated from protos/: fresh, valid OpenAPI 3.1, and saying what the
transcoder really does (field names, bodies, field behaviours, documented errors)."""

from __future__ import annotations

from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from gateway import openapi
from gateway.render import OPENAPI_MAX_BYTES, TEMPLATE


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build()


def test_the_committed_document_and_page_are_fresh(document: dict[str, Any]) -> None:
    stale = f"is stale: run `{openapi.REGENERATE}` and commit it"
    assert openapi.DOCUMENT.read_text() == openapi.to_json(document), f"docs/openapi.json {stale}"
    assert openapi.PAGE.read_text() == openapi.to_markdown(document), f"docs/api.md {stale}"


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_validator_refuses_a_broken_document() -> None:
    """The validity test above can fail: a response without its description is refused."""
    broken = openapi.build()
    del broken["paths"]["/v1/me"]["get"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def _bound_methods() -> set[str]:
    files = descriptor_pb2.FileDescriptorSet.FromString(openapi.DESCRIPTOR.read_bytes())
    return {
        f"{service.name}.{method.name}"
        for file in files.file
        if file.package.startswith("p13n.")
        for service in file.service
        for method in service.method
        if method.options.HasExtension(annotations_pb2.http)
    }


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }


def test_every_method_with_an_http_binding_is_in_the_document(document: dict[str, Any]) -> None:
    assert set(_operations(document)) == _bound_methods()
    assert "InternalProfileService.Track" not in _operations(document)


def test_field_names_are_the_proto_names_as_the_transcoder_prints_them(
    document: dict[str, Any],
) -> None:
    # The document's snake_case holds only while the gateway keeps proto field names.
    assert "preserve_proto_field_names: true" in TEMPLATE.read_text()
    parameters = document["paths"]["/v1/parent_segments/{parent_segment_id}/events"]["get"][
        "parameters"
    ]
    assert [p["name"] for p in parameters] == ["parent_segment_id", "page_size", "page_token"]
    assert [p["in"] for p in parameters] == ["path", "query", "query"]


def test_bodies_follow_the_http_rule(document: dict[str, Any]) -> None:
    operations = _operations(document)
    # body: "event": the body is the field itself, the resource unwrapped.
    create = operations["ConfigService.CreateEventDefinition"]["requestBody"]
    schema = create["content"]["application/json"]["schema"]
    assert schema["$ref"] == "#/components/schemas/p13n.profile.v1.EventDefinition"
    # body: "*": every field not in the path.
    reveal = operations["RegistryService.RevealToken"]["requestBody"]
    properties = reveal["content"]["application/json"]["schema"]["properties"]
    assert "token_id" not in properties
    assert "parent_segment_id" not in properties
    assert "requestBody" not in operations["ConfigService.GetParentSegment"]


def test_field_behaviours_and_comments(document: dict[str, Any]) -> None:
    event = document["components"]["schemas"]["p13n.profile.v1.EventDefinition"]
    assert event["required"] == ["name", "database", "table"]
    assert event["properties"]["id"]["readOnly"] is True
    assert event["properties"]["id"]["description"] == "The id the server assigns at creation."


def test_the_documented_errors_have_their_status_and_an_example(document: dict[str, Any]) -> None:
    responses = _operations(document)["ConfigService.CreateEventDefinition"]["responses"]
    assert {"400", "401", "403", "404", "429", "503"} <= set(responses)
    forbidden = responses["403"]["content"]["application/json"]
    assert responses["403"]["description"] == "PERMISSION_DENIED below EDITOR"
    assert forbidden["examples"]["PERMISSION_DENIED"]["value"]["code"] == 7
    assert responses["401"] == {"$ref": "#/components/responses/UNAUTHENTICATED"}


def test_the_page_names_every_path(document: dict[str, Any]) -> None:
    page = openapi.to_markdown(document)
    for path, item in document["paths"].items():
        for verb in item:
            assert f"## {verb.upper()} `{path}`" in page


def test_each_path_names_the_credential_it_takes(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/v1/sessions"]["post"]["security"] == []
    assert paths["/v1/me"]["get"]["security"] == [{"apiKey": []}, {"session": []}]
    assert paths["/records/{database}/{table}"]["post"]["security"] == [{"apiKey": []}]
    token: list[dict[str, list[str]]] = [{"personalizationToken": []}]
    assert paths["/public/{database}/{table}"]["post"]["security"] == token
    assert paths["/{database}/{table}"]["post"]["security"] == token


def test_the_page_says_which_header_and_metadata_carry_each_credential(
    document: dict[str, Any],
) -> None:
    page = openapi.to_markdown(document)
    assert "- **personalizationToken**: the `WP13n-Token` header" in page
    assert "- **apiKey**: the `Authorization` header, `TD1 <API key>`" in page
    assert "PersonalizeService/PrivatePersonalize` with `wp13n-token: <token>`" in page


def test_the_document_fits_the_gateways_direct_response() -> None:
    """Envoy refuses a configuration whose direct response exceeds its bound: say so first."""
    size = openapi.DOCUMENT.stat().st_size
    assert size < OPENAPI_MAX_BYTES, f"{size} bytes: raise OPENAPI_MAX_BYTES in gateway/render.py"


def test_a_body_may_be_refused_by_the_gateway_before_the_method_runs(
    document: dict[str, Any],
) -> None:
    """The strict JSON check and the transcoder answer 400, the body limit 413, to any
    method taking a body, whether or not its comment names INVALID_ARGUMENT."""
    operations = _operations(document)
    sign_in = operations["IdentityService.CreateSession"]["responses"]
    refused = sign_in["400"]["content"]["application/json"]["examples"]["INVALID_JSON"]["value"]
    assert refused["details"][0]["reason"] == "INVALID_JSON"
    assert "413" in sign_in
    # Joined to the method's own 400 cases rather than replacing them.
    create = operations["ConfigService.CreateEventDefinition"]["responses"]["400"]
    assert {"INVALID_ARGUMENT", "INVALID_JSON"} <= set(
        create["content"]["application/json"]["examples"]
    )
    assert "400" not in operations["IdentityService.DeleteSession"]["responses"]


def test_the_data_planes_own_refusals_are_documented(document: dict[str, Any]) -> None:
    """Found by tests/e2e/test_openapi_fuzz.py: the gateway's 415 for an event that is not
    JSON, its 404 for a table name outside the rule, and the server path's NOT_FOUND."""
    paths = document["paths"]
    server_path = paths["/{database}/{table}"]["post"]
    assert {"404", "415"} <= set(server_path["responses"])
    assert "415" in paths["/public/{database}/{table}"]["post"]["responses"]
    assert "415" not in paths["/records/{database}/{table}"]["post"]["responses"]
    database = server_path["parameters"][0]["schema"]
    assert database["pattern"] == "^[a-z0-9_]{3,128}$"
    assert database["not"] == {"enum": ["public", "records", "v1"]}
