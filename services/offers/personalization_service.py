"""Personalizations through the admin API (docs/design.md#admin-offers) and preview.

Every admin call first asks the profile service for the parent segment's configuration:
it says which account owns the segment (a segment of another account is NOT_FOUND, so
nothing about it leaks) and is the catalog a save is validated against. A save compiles
the personalization with the engine, exactly as requests will use it, so whatever could
fail a request fails the save instead, with the path of the mistake.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2
from p13n.offers.v1 import personalization_config_service_pb2 as api
from p13n.offers.v1 import personalization_config_service_pb2_grpc, personalization_pb2
from p13n.profile.v1 import internal_service_pb2 as profile_api
from typing_extensions import override

from services.common import audit, identity
from services.common.errors import (
    InvalidArgument,
    Unauthenticated,
    parent_segment_not_found,
)
from services.common.names import validate_name
from services.common.paging import one_page, page_after, page_size
from services.offers import preview
from services.offers.catalog import Catalog
from services.offers.engine import Personalization, compile_personalizations
from services.offers.errors import InvalidConfigError
from services.offers.messages import (
    personalization_message,
    section_json,
    struct_json,
    warning_text,
)
from services.offers.personalize_service import decode_event
from services.offers.profile_client import ProfileClient, catalog_of, view_of
from services.offers.store import Draft, PersonalizationStore, Record
from services.offers.upstream import Deadline

MAX_DESCRIPTION_LENGTH = 1000
_MASKABLE = ("name", "description", "trigger_events", "sections")
_OUTDATED = "The personalization no longer fits the parent segment's configuration: "


class PersonalizationServicer(
    personalization_config_service_pb2_grpc.PersonalizationConfigServiceServicer
):
    def __init__(self, store: PersonalizationStore, profile: ProfileClient) -> None:
        self._store = store
        self._profile = profile

    async def _catalog(self, parent_segment_id: str, context: Any) -> Catalog:
        """The catalog of a parent segment the caller's account owns; NOT_FOUND otherwise."""
        caller = identity.current.get()
        if caller is None or not caller.account_id:
            raise Unauthenticated("Credentials are required")
        config = await self._profile.realtime_config(
            parent_segment_id, Deadline.of(context).timeout()
        )
        if config.account_id != caller.account_id:
            raise parent_segment_not_found(parent_segment_id)
        return catalog_of(config)

    @override
    async def CreatePersonalization(
        self, request: api.CreatePersonalizationRequest, context: Any
    ) -> personalization_pb2.Personalization:
        catalog = await self._catalog(request.parent_segment_id, context)
        draft = _draft(request.personalization)
        async with self._store.writing(request.parent_segment_id) as writer:
            draft, warnings = _validated(draft, await writer.records(), catalog)
            record = await writer.insert(draft)
            await writer.audit(audit.CREATE, None, record)
        return personalization_message(record, warnings)

    @override
    async def GetPersonalization(
        self, request: api.GetPersonalizationRequest, context: Any
    ) -> personalization_pb2.Personalization:
        catalog = await self._catalog(request.parent_segment_id, context)
        record = await self._store.record(request.parent_segment_id, request.personalization_id)
        return personalization_message(record, _current_warnings(record, catalog))

    @override
    async def ListPersonalizations(
        self, request: api.ListPersonalizationsRequest, context: Any
    ) -> api.ListPersonalizationsResponse:
        size = page_size(request.page_size)
        after = page_after(request.page_token)
        catalog = await self._catalog(request.parent_segment_id, context)
        records = await self._store.page(request.parent_segment_id, after, size + 1)
        page, token = one_page(records, size)
        return api.ListPersonalizationsResponse(
            personalizations=[
                personalization_message(r, _current_warnings(r, catalog)) for r in page
            ],
            next_page_token=token,
        )

    @override
    async def UpdatePersonalization(
        self, request: api.UpdatePersonalizationRequest, context: Any
    ) -> personalization_pb2.Personalization:
        paths = set(request.update_mask.paths)
        if not paths or paths - set(_MASKABLE):
            raise InvalidArgument(
                f"update_mask must name some of: {', '.join(_MASKABLE)}", field="update_mask"
            )
        catalog = await self._catalog(request.parent_segment_id, context)
        changes = _draft(request.personalization)
        async with self._store.writing(request.parent_segment_id) as writer:
            current = await writer.record(request.personalization_id)
            draft = Draft(
                name=changes.name if "name" in paths else current.name,
                description=changes.description if "description" in paths else current.description,
                trigger_events=(
                    changes.trigger_events if "trigger_events" in paths else current.trigger_events
                ),
                sections=changes.sections if "sections" in paths else current.sections,
            )
            others = [r for r in await writer.records() if r.id != current.id]
            draft, warnings = _validated(draft, others, catalog)
            record = await writer.update(current.id, draft)
            await writer.audit(audit.UPDATE, current, record)
        return personalization_message(record, warnings)

    @override
    async def DeletePersonalization(
        self, request: api.DeletePersonalizationRequest, context: Any
    ) -> empty_pb2.Empty:
        await self._catalog(request.parent_segment_id, context)
        async with self._store.writing(request.parent_segment_id) as writer:
            record = await writer.record(request.personalization_id)
            await writer.delete(record.id)
            await writer.audit(audit.DELETE, record, None)
        return empty_pb2.Empty()

    @override
    async def PreviewPersonalization(
        self, request: api.PreviewPersonalizationRequest, context: Any
    ) -> bytes:
        deadline = Deadline.of(context)
        if not request.database or not request.table:
            raise InvalidArgument(
                "database and table are required: the event table the event is sent to",
                field="database" if not request.database else "table",
            )
        catalog = await self._catalog(request.parent_segment_id, context)
        record = await self._store.record(request.parent_segment_id, request.personalization_id)
        event = decode_event(request.event)
        try:
            compiled = compile_personalizations(catalog, [record.personalization()])
        except InvalidConfigError as error:
            # Valid when saved: what is wrong now is the parent segment's configuration.
            raise error.recast("PERSONALIZATION_OUTDATED", _OUTDATED) from None
        # A dry run: the event is applied to the profile in memory only, nothing is stored.
        tracked = await self._profile.track(
            profile_api.TrackRequest(
                parent_segment_id=request.parent_segment_id,
                database=request.database,
                table=request.table,
                event=request.event,
                dry_run=True,
            ),
            budget=deadline.timeout(),
        )
        view = preview.with_override(view_of(tracked), struct_json(request.profile), catalog)
        return preview.response(
            compiled, record.trigger_events, tracked.matched_events, view, event
        )


def _draft(message: personalization_pb2.Personalization) -> Draft:
    return Draft(
        name=message.name,
        description=message.description,
        trigger_events=list(message.trigger_events),
        sections=[section_json(section) for section in message.sections],
    )


def _validated(draft: Draft, others: list[Record], catalog: Catalog) -> tuple[Draft, list[str]]:
    """The draft as it will be stored, and its warnings; INVALID_ARGUMENT at the mistake."""
    name = validate_name(draft.name, [r.name for r in others], field="name")
    if len(draft.description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument(
            f"Description is too long (maximum is {MAX_DESCRIPTION_LENGTH} characters)",
            field="description",
        )
    reserved = {
        str(section.get("name")): other.name for other in others for section in other.sections
    }
    candidate = Personalization(name, draft.trigger_events, draft.sections)
    compiled = compile_personalizations(catalog, [candidate], reserved=reserved)
    validated = Draft(name, draft.description, draft.trigger_events, draft.sections)
    return validated, [warning_text(w) for w in compiled.warnings]


def _current_warnings(record: Record, catalog: Catalog) -> list[str]:
    """Its warnings against today's catalog, or why it no longer compiles (and answers)."""
    try:
        compiled = compile_personalizations(catalog, [record.personalization()])
    except InvalidConfigError as error:
        return [
            f"{error.message} (the parent segment's configuration changed "
            "since this was saved; until it is fixed, it answers nothing)"
        ]
    return [warning_text(w) for w in compiled.warnings]
