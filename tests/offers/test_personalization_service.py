"""Personalizations through the admin RPCs, preview and the internal ListReferences, against
a real offers server whose profile service is a stand-in."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format
from google.rpc import error_details_pb2, status_pb2
from p13n.offers.v1 import internal_service_pb2, personalization_pb2
from p13n.offers.v1 import personalization_config_service_pb2 as api
from support.offers_harness import (
    OTHER_ACCOUNT,
    Offers,
    Visitor,
    editor,
    message_fields,
    signed,
    wire_order,
)

from services.common import identity
from services.common.rpc_status import details_of
from services.offers.catalog import Catalog

BANNER = {
    "name": "Homepage",
    "description": "What a visitor sees first",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "Welcome Banner",
            "criteria": {"event": "td_path", "op": "starts_with", "value": "/sale"},
            "payload": [{"name": "welcome_message", "static": "Hello, new user!"}],
        },
        {
            "name": "Loyalty Discount",
            "criteria": {"attribute": "membership_tier", "op": "eq", "value": "platinum"},
            "payload": [
                {"name": "discount_code", "static": "LOYAL-15"},
                {"name": "brands", "attribute": "recent_products", "aggregation": "brand"},
                {"name": "vip", "segment": "vip"},
            ],
        },
    ],
}


def body(**changes: Any) -> dict[str, Any]:
    return {**BANNER, **changes}


async def error_of(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_create_get_list_update_delete(offers: Offers, catalog: Catalog) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    assert created.id
    assert created.create_time.seconds
    stored = json_format.MessageToDict(created, preserving_proto_field_name=True)["sections"]
    assert stored == BANNER["sections"]  # as given, in order
    key = {"parent_segment_id": ps, "personalization_id": created.id}
    got = await offers.config.GetPersonalization(
        api.GetPersonalizationRequest(**key), metadata=editor()
    )
    assert got == created

    change = personalization_pb2.Personalization(name="Home", description="ignored")
    updated = await offers.config.UpdatePersonalization(
        api.UpdatePersonalizationRequest(
            **key, personalization=change, update_mask=field_mask_pb2.FieldMask(paths=["name"])
        ),
        metadata=editor(),
    )
    assert (updated.name, updated.description) == ("Home", BANNER["description"])
    assert updated.sections == created.sections

    second = await offers.create(ps, body(name="Other", sections=[{"name": "Footer"}]))
    page = await offers.config.ListPersonalizations(
        api.ListPersonalizationsRequest(parent_segment_id=ps, page_size=1), metadata=editor()
    )
    assert [p.name for p in page.personalizations] == ["Home"]
    rest = await offers.config.ListPersonalizations(
        api.ListPersonalizationsRequest(parent_segment_id=ps, page_token=page.next_page_token),
        metadata=editor(),
    )
    assert [p.id for p in rest.personalizations] == [second.id]
    assert rest.next_page_token == ""

    await offers.config.DeletePersonalization(
        api.DeletePersonalizationRequest(**key), metadata=editor()
    )
    gone = await error_of(
        offers.config.GetPersonalization(api.GetPersonalizationRequest(**key), metadata=editor())
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"trigger_events": ["checkout"]},
            "trigger_events[0]",
            "no event definition named 'checkout'",
            id="unknown-event",
        ),
        pytest.param(
            {"sections": [{"name": "S", "payload": [{"name": "x", "attribute": "tire"}]}]},
            "sections[0].payload[0].attribute",
            "no attribute named 'tire' in this parent segment; did you mean 'tier'?",
            id="unknown-attribute",
        ),
        pytest.param(
            {"sections": [{"name": "S", "criteria": {"attribute": "visits", "op": "regex"}}]},
            "sections[0].criteria.op",
            "op 'regex' does not apply to counter 'visits'",
            id="op-not-for-type",
        ),
        pytest.param(
            {"sections": [{"name": "S", "criteria": {"event": "p", "op": "regex", "value": "("}}]},
            "sections[0].criteria.value",
            "invalid regular expression",
            id="bad-regex",
        ),
        pytest.param(
            {"sections": [{"name": "S", "payload": [{"name": "x", "segment": "v", "static": 1}]}]},
            "sections[0].payload[0]",
            "a field needs exactly one of static, attribute, segment; found static, segment",
            id="two-sources",
        ),
        pytest.param({"name": " "}, "name", "Name can't be blank", id="blank-name"),
        pytest.param(
            {"description": "d" * 1001},
            # Refused by the shared limits (services.common.limits), which name the field
            # by its place in the request.
            "personalization.description",
            "Description is too long (maximum is 1000 characters)",
            id="long-description",
        ),
    ],
)
async def test_invalid_personalizations_are_refused_at_the_mistake(
    offers: Offers, catalog: Catalog, changes: dict[str, Any], field: str, message: str
) -> None:
    ps = offers.segment(catalog)
    error = await error_of(offers.create(ps, body(**changes)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (error.details() or "")
    assert field_of(error) == field


def field_of(error: grpc.aio.AioRpcError) -> str:
    """The ``field`` of the error's ``google.rpc.ErrorInfo``."""
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    return str(info.metadata["field"])


async def test_names_are_unique_and_so_are_section_names_in_a_parent_segment(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    await offers.create(ps, BANNER)
    taken = await error_of(offers.create(ps, body(name="homepage", sections=[])))
    assert taken.details() == "Name has already been taken"
    reused = await error_of(
        offers.create(ps, body(name="Other", sections=[{"name": "Welcome Banner"}]))
    )
    assert reused.details() == (
        "sections[0].name: section name 'Welcome Banner' is already used in personalization "
        "'Homepage'; section names are unique within a parent segment"
    )
    # Another parent segment has its own names.
    await offers.create(offers.segment(catalog), BANNER)


async def test_warnings_come_back_on_save(offers: Offers, catalog: Catalog) -> None:
    fields = [{"name": f"f{i}", "static": i} for i in range(21)]
    created = await offers.create(
        offers.segment(catalog), body(sections=[{"name": "Loud", "payload": fields}])
    )
    assert list(created.warnings) == [
        "sections[0].payload: 21 fields: more than 20 slows the page down; consider splitting "
        "the section"
    ]


async def test_a_parent_segment_of_another_account_is_not_found(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    request = api.GetPersonalizationRequest(parent_segment_id=ps, personalization_id=created.id)
    error = await error_of(
        offers.config.GetPersonalization(request, metadata=editor(OTHER_ACCOUNT))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == f"Parent segment {ps!r} not found"


async def outgrown(offers: Offers, catalog: Catalog) -> tuple[str, Any]:
    """A saved BANNER whose parent segment then lost an attribute it renders."""
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    attributes = {k: v for k, v in catalog.attributes.items() if k != "recent_products"}
    offers.change_config(ps, Catalog(attributes, catalog.segments, catalog.events))
    return ps, created


async def test_a_personalization_the_configuration_outgrew_says_so_in_its_warnings(
    offers: Offers, catalog: Catalog
) -> None:
    ps, created = await outgrown(offers, catalog)
    got = await offers.config.GetPersonalization(
        api.GetPersonalizationRequest(parent_segment_id=ps, personalization_id=created.id),
        metadata=editor(),
    )
    assert len(got.warnings) == 1
    assert got.warnings[0].startswith("sections[1].payload[1].attribute: no attribute named")
    assert "it answers nothing" in got.warnings[0]


@pytest.mark.parametrize(
    ("reference", "names"),
    [
        pytest.param({"attribute": "membership_tier"}, ["Homepage"], id="attribute-in-criteria"),
        pytest.param({"attribute": "recent_products"}, ["Homepage", "All"], id="list"),
        pytest.param(
            {"attribute": "recent_products", "aggregation": "brand"},
            ["Homepage", "All"],
            id="aggregation-or-whole-list",
        ),
        pytest.param(
            {"attribute": "recent_products", "aggregation": "sku"}, ["All"], id="other-aggregation"
        ),
        pytest.param({"segment": "vip"}, ["Homepage"], id="segment"),
        pytest.param({"event": "purchase"}, ["All"], id="event"),
        pytest.param({"attribute": "tier"}, [], id="unreferenced"),
    ],
)
async def test_list_references(
    offers: Offers, catalog: Catalog, reference: dict[str, str], names: list[str]
) -> None:
    ps = offers.segment(catalog)
    await offers.create(ps, BANNER)
    await offers.create(
        ps,
        {
            "name": "All",
            "trigger_events": ["purchase"],
            "sections": [{"name": "R", "payload": [{"name": "r", "attribute": "recent_products"}]}],
        },
    )
    reply = await offers.internal.ListReferences(
        internal_service_pb2.ListReferencesRequest(parent_segment_id=ps, **reference),
        metadata=signed(identity.service_identity("profile")),
    )
    assert list(reply.personalization_names) == names


async def test_list_references_is_internal(offers: Offers) -> None:
    error = await error_of(
        offers.internal.ListReferences(
            internal_service_pb2.ListReferencesRequest(parent_segment_id="1", attribute="tier"),
            metadata=editor(),
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"attribute": "tier"},
            "Parent segment id can't be blank: name the parent segment to search",
            id="no-parent-segment",
        ),
        pytest.param(
            {"parent_segment_id": "1"},
            "Name an attribute, a segment or an event",
            id="no-reference",
        ),
    ],
)
async def test_list_references_refuses_an_incomplete_question(
    offers: Offers, fields: dict[str, str], message: str
) -> None:
    """An empty parent segment id would search nothing and answer "unused" (it is REQUIRED)."""
    error = await error_of(
        offers.internal.ListReferences(
            internal_service_pb2.ListReferencesRequest(**fields),
            metadata=signed(identity.service_identity("profile")),
        )
    )
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)


# Preview.


def preview_request(ps: str, personalization_id: str, **extra: Any) -> Any:
    request = api.PreviewPersonalizationRequest(
        parent_segment_id=ps,
        personalization_id=personalization_id,
        database="shop_db",
        table="page_views",
    )
    request.event.update({"td_client_id": "c-1", "td_path": "/sale/shoes"})
    json_format.ParseDict(extra, request)
    return request


async def preview(offers: Offers, request: Any) -> tuple[bytes, Any]:
    call = offers.channel.unary_unary(
        "/p13n.offers.v1.PersonalizationConfigService/PreviewPersonalization",
        request_serializer=api.PreviewPersonalizationRequest.SerializeToString,
        response_deserializer=None,
    )
    data: bytes = await call(request, metadata=editor())
    return data, api.PreviewPersonalizationResponse.FromString(data)


async def test_preview_shows_both_answers_and_why_without_storing_anything(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    offers.profile.visitors[ps] = Visitor(
        {"membership_tier": "platinum", "recent_products": {"brand": ["acme"]}},
        ["vip"],
        ["page_view"],
    )
    data, response = await preview(offers, preview_request(ps, created.id))

    request, _ = offers.profile.tracked[-1]
    assert request.dry_run
    public = {n: dict(o.attributes) for n, o in response.public_response.offers.items()}
    assert public == {
        "Welcome Banner": {"welcome_message": "Hello, new user!"},
        "Loyalty Discount": {},
    }
    private = response.private_response.offers["Loyalty Discount"].attributes
    assert json_format.MessageToDict(private) == {
        "discount_code": "LOYAL-15",
        "brands": ["acme"],
        "vip": True,
    }
    assert [
        (s.name, s.matched, s.redacted_for_public, list(s.sensitive_references))
        for s in response.sections
    ] == [
        ("Welcome Banner", True, False, []),
        ("Loyalty Discount", True, True, ["membership_tier", "segment:vip"]),
    ]
    assert list(response.warnings) == []
    # Both answers keep section order on the wire.
    parts = dict(message_fields(data))
    assert [name for name, _ in wire_order(parts[1])] == ["Welcome Banner", "Loyalty Discount"]
    assert wire_order(parts[2]) == [
        ("Welcome Banner", ["welcome_message"]),
        ("Loyalty Discount", ["discount_code", "brands", "vip"]),
    ]


async def test_preview_with_a_profile_override_and_an_event_that_triggers_nothing(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    offers.profile.visitors[ps] = Visitor({"membership_tier": "platinum"}, ["vip"], ["purchase"])
    override = {"attributes": {"membership_tier": "bronze"}, "segments": []}
    _, response = await preview(offers, preview_request(ps, created.id, profile=override))
    assert [(s.name, s.matched) for s in response.sections] == [
        ("Welcome Banner", False),
        ("Loyalty Discount", False),
    ]
    assert dict(response.private_response.offers) == {}
    assert response.warnings[0].startswith(
        "The event matches none of the trigger events (page_view); it matched purchase"
    )
    offers.profile.visitors[ps] = Visitor({"membership_tier": "platinum"}, ["vip"], ["page_view"])
    _, response = await preview(offers, preview_request(ps, created.id, profile=override))
    assert [(s.name, s.matched) for s in response.sections] == [
        ("Welcome Banner", True),
        ("Loyalty Discount", False),
    ]


async def test_an_update_must_say_what_it_changes(offers: Offers, catalog: Catalog) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    for paths in ([], ["name", "id"]):
        error = await error_of(
            offers.config.UpdatePersonalization(
                api.UpdatePersonalizationRequest(
                    parent_segment_id=ps,
                    personalization_id=created.id,
                    personalization=personalization_pb2.Personalization(name="X"),
                    update_mask=field_mask_pb2.FieldMask(paths=paths),
                ),
                metadata=editor(),
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            "update_mask must name some of: name, description, trigger_events, sections"
        )


async def test_preview_warns_of_a_section_that_renders_over_10_kib(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    big = {"name": "Big", "payload": [{"name": "text", "static": "x" * 11000}]}
    created = await offers.create(ps, body(sections=[big]))
    assert created.warnings[0].startswith("sections[0].payload: can render up to 11")
    offers.profile.visitors[ps] = Visitor(matched_events=["page_view"])
    _, response = await preview(offers, preview_request(ps, created.id))
    assert list(response.warnings) == [
        created.warnings[0],
        "Section 'Big' rendered 11026 bytes, over 10240: the whole section is sent to every "
        "visitor it matches",
    ]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        pytest.param({"attributes": {"tire": "x"}}, "profile.attributes.tire", id="unknown"),
        pytest.param({"segments": "vip"}, "profile.segments", id="not-a-list"),
        pytest.param({"traits": {}}, "profile.traits", id="unknown-key"),
    ],
)
async def test_preview_refuses_a_bad_profile_override(
    offers: Offers, catalog: Catalog, override: dict[str, Any], field: str
) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    error = await error_of(preview(offers, preview_request(ps, created.id, profile=override)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(field)
    assert field_of(error) == field


async def test_a_refused_save_names_its_reason_and_the_field_violation(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    sections = [{"name": "S", "payload": [{"name": "x", "attribute": "tire"}]}]
    error = await error_of(offers.create(ps, body(sections=sections)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith("sections[0].payload[0].attribute: ")
    sent = details_of(error.trailing_metadata())
    assert (sent.reason, sent.field) == (
        "INVALID_PERSONALIZATION",
        "sections[0].payload[0].attribute",
    )
    assert violation_of(error) == ("sections[0].payload[0].attribute", error.details())


def violation_of(error: grpc.aio.AioRpcError) -> tuple[str, str]:
    """The one ``google.rpc.BadRequest.FieldViolation`` of the error."""
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    bad_request = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad_request) for d in status_pb2.Status.FromString(details).details)
    [violation] = bad_request.field_violations
    return violation.field, violation.description


async def test_a_bad_profile_override_says_so_in_its_reason(
    offers: Offers, catalog: Catalog
) -> None:
    ps = offers.segment(catalog)
    created = await offers.create(ps, BANNER)
    override = {"attributes": {"tire": "x"}}
    error = await error_of(preview(offers, preview_request(ps, created.id, profile=override)))
    assert details_of(error.trailing_metadata()).reason == "INVALID_PROFILE_OVERRIDE"
    assert violation_of(error)[0] == "profile.attributes.tire"


async def test_previewing_a_personalization_the_configuration_outgrew_is_refused(
    offers: Offers, catalog: Catalog
) -> None:
    ps, created = await outgrown(offers, catalog)
    error = await error_of(preview(offers, preview_request(ps, created.id)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(
        "The personalization no longer fits the parent segment's configuration: "
        "sections[1].payload[1].attribute: no attribute named 'recent_products'"
    )
    sent = details_of(error.trailing_metadata())
    assert (sent.reason, sent.field) == (
        "PERSONALIZATION_OUTDATED",
        "sections[1].payload[1].attribute",
    )
