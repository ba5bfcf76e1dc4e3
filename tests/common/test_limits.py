"""The one table of admin request limits: every text and list bounded, names printable."""

from __future__ import annotations

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from p13n.offers.v1 import personalization_config_service_pb2 as offers_api
from p13n.profile.v1 import config_service_pb2 as api
from p13n.profile.v1 import ingest_service_pb2 as ingest_api
from p13n.profile.v1 import parent_segment_pb2

import services
from services.common.errors import InvalidArgument
from services.common.limits import (
    DEFAULT_ENTRIES,
    DEFAULT_TEXT,
    ENTRIES,
    MAX_RESOURCE_BYTES,
    NAME_FIELDS,
    TEXT,
    check_request,
    printable,
)

CREATE_PARENT_SEGMENT = "/p13n.profile.v1.ConfigService/CreateParentSegment"
CREATE_EVENT = "/p13n.profile.v1.ConfigService/CreateEventDefinition"
CREATE_PERSONALIZATION = "/p13n.offers.v1.PersonalizationConfigService/CreatePersonalization"


def _segment(**fields: str) -> api.CreateParentSegmentRequest:
    segment = parent_segment_pb2.ParentSegment(name="Shoppers", primary_key="td_client_id")
    for name, value in fields.items():
        setattr(segment, name, value)
    return api.CreateParentSegmentRequest(parent_segment=segment)


def _refusal(method: str, request: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        check_request(method, request)  # type: ignore[arg-type]
    return raised.value


def test_a_request_within_its_limits_passes() -> None:
    check_request(CREATE_PARENT_SEGMENT, _segment(description="d" * DEFAULT_TEXT))


def test_a_long_description_is_refused_naming_its_field() -> None:
    error = _refusal(CREATE_PARENT_SEGMENT, _segment(description="d" * (4 * 1024 * 1024)))
    assert error.message == "Description is too long (maximum is 1000 characters)"
    assert error.field == "parent_segment.description"
    assert error.metadata == {"maximum": "1000"}


def test_a_nested_field_is_named_by_its_place() -> None:
    request = offers_api.CreatePersonalizationRequest(parent_segment_id="1")
    request.personalization.name = "Home"
    request.personalization.sections.add(name="s" * 101)
    error = _refusal(CREATE_PERSONALIZATION, request)
    assert error.message == (
        "personalization.sections[0].name is too long (maximum is 100 characters)"
    )
    assert error.field == "personalization.sections[0].name"


def test_too_many_entries_are_refused() -> None:
    request = api.CreateEventDefinitionRequest(parent_segment_id="1")
    request.event.name = "view"
    for _ in range(ENTRIES["filters"] + 1):
        request.event.filters.add(field="kind", regex="a")
    error = _refusal(CREATE_EVENT, request)
    assert error.message == "Filters is too long (maximum is 20 entries)"
    assert error.field == "event.filters"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("td\u0000id", id="nul"),
        pytest.param("td\nid", id="line-break"),
        pytest.param("td\u200bid", id="zero-width-space"),
        pytest.param("td\u202eid", id="right-to-left-override"),
        pytest.param("td\u2028id", id="line-separator"),
    ],
)
def test_a_key_name_with_an_invisible_character_is_refused(key: str) -> None:
    error = _refusal(CREATE_PARENT_SEGMENT, _segment(primary_key=key))
    assert error.message == "Primary key must not contain control characters such as line breaks"
    assert error.field == "parent_segment.primary_key"


@pytest.mark.parametrize("name", ["Käufer", "顧客", "Покупатели", "shop 2026"])
def test_letters_of_any_script_are_names(name: str) -> None:
    assert printable(name)
    check_request(CREATE_PARENT_SEGMENT, _segment(name=name))


def test_a_resource_is_bounded_as_a_whole() -> None:
    request = offers_api.CreatePersonalizationRequest(parent_segment_id="1")
    request.personalization.name = "Home"
    for i in range(40):
        section = request.personalization.sections.add(name=f"s{i}")
        for j in range(40):
            section.payload.add(name=f"f{j}").static.string_value = "v" * 100
    assert request.personalization.ByteSize() > MAX_RESOURCE_BYTES
    error = _refusal(CREATE_PERSONALIZATION, request)
    assert error.field == "personalization"
    assert error.reason == "RESOURCE_TOO_LARGE"


def test_data_plane_requests_are_not_admin_requests() -> None:
    """Ingest has its own limits (500 records, 1 MiB each); the admin table is not theirs."""
    request = ingest_api.IngestRecordsRequest(database="d" * 5000)
    for _ in range(DEFAULT_ENTRIES + 1):
        request.records.add()
    check_request("/p13n.profile.v1.IngestService/IngestRecords", request)


def _admin_field_names() -> set[str]:
    with open(services.__path__[0] + "/_gen/p13n.binpb", "rb") as f:
        files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    messages = {f".{file.package}.{m.name}": m for file in files.file for m in file.message_type}
    names: set[str] = set()
    seen: set[str] = set()

    def walk(type_name: str) -> None:
        seen.add(type_name)
        for field in messages[type_name].field:
            names.add(field.name)
            if field.type_name in messages and field.type_name not in seen:
                walk(field.type_name)

    for file in files.file:
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                kind = rule.WhichOneof("pattern")
                if kind and getattr(rule, kind).startswith("/v1/"):
                    walk(method.input_type)
    return names


def test_the_table_names_only_fields_admin_requests_have() -> None:
    """A renamed field would silently fall back to the default: the table must follow it."""
    names = _admin_field_names()
    assert set(TEXT) <= names
    assert set(ENTRIES) <= names
    assert names >= NAME_FIELDS
