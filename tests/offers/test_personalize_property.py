"""The redaction rule through the RPC layer: saved through the admin API, answered by the
personalize RPCs, read as the bytes that leave the service.

For random configurations (attributes, aggregations and segments with random
sensitivities; sections referring to random subsets of them in payload and criteria) and
random events: no sensitive value ever appears in the raw bytes of a public response (nor
in its JSON once decoded), a profile differing only in sensitive values gets byte-identical
public answers, and every non-sensitive section that matches is answered publicly exactly
as privately. The private path's two encodings (JSON for the gateway, typed for direct
callers) carry the same answer.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from p13n.offers.v1 import personalize_service_pb2
from support.offers_harness import Offers, Visitor, json_of, json_order, wire_order
from support.offers_worlds import MARK, World, worlds

from services.offers.catalog import ProfileView
from services.offers.engine import Personalization
from services.offers.rendering import to_json


def _body(personalization: Personalization) -> dict[str, Any]:
    sections = []
    for section in personalization.sections:
        body = {"name": section["name"], "payload": section["payload"]}
        if section.get("criteria") is not None:
            body["criteria"] = section["criteria"]
        sections.append(body)
    return {
        "name": personalization.name,
        "trigger_events": list(personalization.trigger_events),
        "sections": sections,
    }


def _visitor(view: ProfileView, world: World) -> Visitor:
    return Visitor(dict(view.attributes), view.segments, world.matched)


@settings(
    max_examples=100,
    deadline=None,
    # One service serves every example; each example configures its own parent segment.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(world=worlds())
async def test_no_sensitive_value_ever_leaves_in_a_public_response(
    offers: Offers, world: World
) -> None:
    ps = offers.segment(world.catalog)
    for personalization in world.personalizations:
        await offers.create(ps, _body(personalization))
    event = {**world.event, "td_client_id": "visitor"}

    offers.profile.visitors[ps] = _visitor(world.view, world)
    public = await offers.public(ps, event)
    private = await offers.private_http(ps, event)
    typed = await offers.private(ps, event)
    offers.profile.visitors[ps] = _visitor(world.twin, world)
    twin = await offers.public(ps, event)

    assert MARK.encode() not in public
    public_offers = json.loads(json_of(public))["offers"]
    assert MARK not in json.dumps(public_offers, ensure_ascii=False)
    assert twin == public, "changing only sensitive values changed the public answer"
    private_offers = json.loads(json_of(private))["offers"]
    typed_answer = personalize_service_pb2.PersonalizeResponse.FromString(typed)
    # MessageToDict leaves an empty list out; the typed answer lists the sections in order.
    typed_offers = json_format.MessageToDict(typed_answer).get("offers", [])
    assert [section["name"] for section in typed_offers] == list(private_offers)
    assert to_json({s["name"]: s["offer"] for s in typed_offers}) == private_offers
    assert wire_order(typed) == json_order(json_of(private))
    triggered = [
        str(section["name"])  # the world names every section with a string
        for p in world.personalizations
        if set(p.trigger_events) & set(world.matched)
        for section in p.sections
    ]
    for name in triggered:
        if name in world.secret_sections:
            assert public_offers[name] == {}
        elif name in private_offers:
            assert public_offers[name] == private_offers[name]
        else:
            assert name not in public_offers
    answered = [n for n in triggered if n in world.secret_sections or n in private_offers]
    # In section order; a section that always matches has its fields in payload order.
    assert [
        (n, fields if n in world.always_matching else None)
        for n, fields in json_order(json_of(public))
    ] == [(n, world.always_matching.get(n)) for n in answered]
