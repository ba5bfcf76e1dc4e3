"""Parent segments and their real-time configuration (docs/design.md#admin-profile).

The handlers validate and decide; the store (``config_store.ConfigStore``, SQLite today)
reads and writes. A request's checks that depend on stored data (a unique name, an event
definition still in use) run inside the store's write transaction, so a refused request
leaves nothing written.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf import empty_pb2
from p13n.profile.v1 import config_service_pb2 as api
from p13n.profile.v1 import config_service_pb2_grpc
from typing_extensions import override

from services.common import audit
from services.common import identity as identities
from services.common.errors import FailedPrecondition, InvalidArgument, Unauthenticated
from services.common.names import validate_name
from services.common.paging import one_page, page_after, page_size
from services.profile import config_steps as steps
from services.profile import sensitivity
from services.profile.config_store import (
    ATTRIBUTES,
    EVENTS,
    SEGMENTS,
    STITCHING_KEYS,
    ConfigStore,
    Kind,
    M,
)

# Answers the account's feature flags (asked of the auth service).
FlagsLookup = Callable[[str], Awaitable[frozenset[str]]]
# Names the personalizations that reference an attribute/aggregation/segment (offers).
ReferencesLookup = Callable[..., Awaitable[list[str]]]
# Records batch segment members (a unit of the group-commit writer); returns how many.
MembersImport = Callable[[str, api.ImportSegmentMembersRequest], Awaitable[int]]


def _account() -> str:
    caller = identities.current.get()
    if caller is None or not caller.account_id:
        raise Unauthenticated("Credentials are required")
    return caller.account_id


def _role() -> int:
    caller = identities.current.get()
    return caller.role if caller is not None else 0


PARENT_SEGMENT = "parent_segment"


def _parent(segment_id: int) -> str:
    return f"parent_segments/{segment_id}"


class ConfigServicer(config_service_pb2_grpc.ConfigServiceServicer):
    def __init__(
        self,
        store: ConfigStore,
        flags: FlagsLookup,
        references: ReferencesLookup,
        import_members: MembersImport | None = None,
    ) -> None:
        self._store = store
        self._flags = flags
        self._references = references
        self._import_members = import_members

    # -- parent segments ---------------------------------------------------------------

    @override
    async def CreateParentSegment(
        self, request: api.CreateParentSegmentRequest, context: Any
    ) -> Any:
        account = _account()
        segment = request.parent_segment
        primary_key = segment.primary_key.strip()
        if not primary_key:
            raise InvalidArgument(
                "Primary key can't be blank: name the event field that identifies a visitor, "
                "such as td_client_id",
                field="parent_segment.primary_key",
            )
        now = time.time()
        async with self._store.writing() as store:
            name = validate_name(
                segment.name,
                await store.parent_segment_names(account),
                field="parent_segment.name",
            )
            created = await store.create_parent_segment(
                account, name, segment.description, primary_key, now
            )
            await store.record(
                audit.change(audit.CREATE, PARENT_SEGMENT, created.id, None, created)
            )
            return created

    @override
    async def GetParentSegment(self, request: api.GetParentSegmentRequest, context: Any) -> Any:
        async with self._store.reading() as store:
            return await store.parent_segment(_account(), request.parent_segment_id)

    @override
    async def ListParentSegments(self, request: api.ListParentSegmentsRequest, context: Any) -> Any:
        size = page_size(request.page_size)
        async with self._store.reading() as store:
            found = await store.parent_segments(
                _account(), page_after(request.page_token), size + 1
            )
        page, token = one_page(found, size)
        return api.ListParentSegmentsResponse(parent_segments=page, next_page_token=token)

    @override
    async def UpdateParentSegment(
        self, request: api.UpdateParentSegmentRequest, context: Any
    ) -> Any:
        paths = set(request.update_mask.paths)
        if paths - {"name", "description"}:
            raise InvalidArgument(
                "Only name and description can be updated; the primary key is fixed at creation",
                field="update_mask",
            )
        changes = request.parent_segment
        account = _account()
        async with self._store.writing() as store:
            segment = await store.parent_segment(account, request.parent_segment_id)
            segment_id = int(segment.id)
            name = segment.name
            if "name" in paths:
                others = await store.parent_segment_names(account, except_id=segment_id)
                name = validate_name(changes.name, others, field="parent_segment.name")
            description = changes.description if "description" in paths else segment.description
            updated = await store.update_parent_segment(account, segment_id, name, description)
            await store.record(
                audit.change(audit.UPDATE, PARENT_SEGMENT, updated.id, segment, updated)
            )
            return updated

    @override
    async def DeleteParentSegment(
        self, request: api.DeleteParentSegmentRequest, context: Any
    ) -> Any:
        async with self._store.writing() as store:
            segment = await store.parent_segment(_account(), request.parent_segment_id)
            await store.delete_parent_segment(int(segment.id))
            await store.record(
                audit.change(audit.DELETE, PARENT_SEGMENT, segment.id, segment, None)
            )
        return empty_pb2.Empty()

    # -- shared by the segment's children ------------------------------------------------

    async def _get(self, kind: Kind[M], parent_segment_id: str, child_id: str) -> M:
        async with self._store.reading() as store:
            segment = await store.parent_segment(_account(), parent_segment_id)
            return await store.child(kind, int(segment.id), child_id)

    async def _list(self, kind: Kind[M], request: Any) -> tuple[list[M], str]:
        size = page_size(request.page_size)
        async with self._store.reading() as store:
            segment = await store.parent_segment(_account(), request.parent_segment_id)
            found = await store.children(
                kind, int(segment.id), page_after(request.page_token), size + 1
            )
        return one_page(found, size)

    async def _create(
        self, kind: Kind[M], parent_segment_id: str, given: M, prepare: steps.Prepare[M]
    ) -> M:
        """Stores what ``prepare`` makes of ``given`` (validated against the segment's other
        children's names, inside the transaction: a refusal leaves nothing written).

        Creating a NON_SENSITIVE attribute or an unverified key under a name that held
        withheld values is a lowering (``sensitivity.lowered``), as in ``_update``."""
        async with self._store.writing() as store:
            segment = await store.parent_segment(_account(), parent_segment_id)
            names = await store.names(kind, int(segment.id))
            child = await prepare(store, int(segment.id), given, names)
            remembered = await store.withheld_names(kind, int(segment.id))
            lowered = sensitivity.lowered(None, child, remembered)
            sensitivity.require_admin_to_lower(_role(), lowered)
            created = await store.insert(kind, int(segment.id), child)
            await store.record(
                audit.change(
                    audit.CREATE,
                    kind.resource_type,
                    created.id,
                    None,
                    created,
                    parent=_parent(int(segment.id)),
                    sensitivity_lowered=bool(lowered),
                )
            )
            return created

    async def _update(
        self,
        kind: Kind[M],
        parent_segment_id: str,
        child_id: str,
        changes: tuple[M, set[str]],
        prepare: steps.Prepare[M],
    ) -> M:
        """Applies the masked ``changes`` to the stored child and stores what ``prepare``
        makes of the result (in one transaction, as ``_create``).

        Lowering a sensitivity needs ADMIN (``sensitivity``): refused before anything is
        written, and called out in the audit entry when allowed. Besides before against
        after, showing a name the store remembers as withheld (a rename onto it) lowers."""
        async with self._store.writing() as store:
            segment = await store.parent_segment(_account(), parent_segment_id)
            before = await store.child(kind, int(segment.id), child_id)
            stored_id = int(before.id)
            merged = kind.message()
            merged.CopyFrom(before)
            steps.apply_mask(merged, *changes)
            names = await store.names(kind, int(segment.id), stored_id)
            child = await prepare(store, int(segment.id), merged, names)
            remembered = await store.withheld_names(kind, int(segment.id))
            lowered = sensitivity.lowered(before, child, remembered)
            sensitivity.require_admin_to_lower(_role(), lowered)
            updated = await store.update(kind, int(segment.id), stored_id, child)
            await store.record(
                audit.change(
                    audit.UPDATE,
                    kind.resource_type,
                    updated.id,
                    before,
                    updated,
                    parent=_parent(int(segment.id)),
                    sensitivity_lowered=bool(lowered),
                )
            )
            return updated

    async def _delete_unreferenced(
        self,
        kind: Kind[M],
        parent_segment_id: str,
        child_id: str,
        reference: str,
        check: steps.DeleteCheck | None = None,
    ) -> None:
        """Deletes a child unless a personalization (in the offers service) refers to it.

        The offers service is asked outside the transaction (a remote call must not hold
        the store's write lock); ``check`` runs inside it, before the delete.
        """
        async with self._store.reading() as store:
            segment = await store.parent_segment(_account(), parent_segment_id)
            child = await store.child(kind, int(segment.id), child_id)
        await self._refuse_if_referenced(
            parent_segment_id, kind.noun, child.name, **{reference: child.name}
        )
        async with self._store.writing() as writer:
            if check is not None:
                await check(writer, int(segment.id), child.name)
            await writer.delete(kind, int(segment.id), int(child.id))
            await writer.record(_deleted(kind, int(segment.id), child))

    # -- event definitions ---------------------------------------------------------------

    @override
    async def CreateEventDefinition(
        self, request: api.CreateEventDefinitionRequest, context: Any
    ) -> Any:
        prepare = functools.partial(steps.event, creating=True)
        return await self._create(EVENTS, request.parent_segment_id, request.event, prepare)

    @override
    async def GetEventDefinition(self, request: api.GetEventDefinitionRequest, context: Any) -> Any:
        return await self._get(EVENTS, request.parent_segment_id, request.event_id)

    @override
    async def ListEventDefinitions(
        self, request: api.ListEventDefinitionsRequest, context: Any
    ) -> Any:
        page, token = await self._list(EVENTS, request)
        return api.ListEventDefinitionsResponse(events=page, next_page_token=token)

    @override
    async def UpdateEventDefinition(
        self, request: api.UpdateEventDefinitionRequest, context: Any
    ) -> Any:
        paths = steps.mask_paths(request, {"name", "database", "table", "filters"})
        prepare = functools.partial(steps.event, creating=False)
        return await self._update(
            EVENTS, request.parent_segment_id, request.event_id, (request.event, paths), prepare
        )

    @override
    async def DeleteEventDefinition(
        self, request: api.DeleteEventDefinitionRequest, context: Any
    ) -> Any:
        await self._delete_unreferenced(
            EVENTS,
            request.parent_segment_id,
            request.event_id,
            "event",
            steps.refuse_if_used_by_attributes,
        )
        return empty_pb2.Empty()

    # -- attributes ----------------------------------------------------------------------

    @override
    async def CreateAttribute(self, request: api.CreateAttributeRequest, context: Any) -> Any:
        flags = await self._flags(_account())
        prepare = functools.partial(steps.attribute, flags=flags, creating=True)
        return await self._create(ATTRIBUTES, request.parent_segment_id, request.attribute, prepare)

    @override
    async def GetAttribute(self, request: api.GetAttributeRequest, context: Any) -> Any:
        return await self._get(ATTRIBUTES, request.parent_segment_id, request.attribute_id)

    @override
    async def ListAttributes(self, request: api.ListAttributesRequest, context: Any) -> Any:
        page, token = await self._list(ATTRIBUTES, request)
        return api.ListAttributesResponse(attributes=page, next_page_token=token)

    @override
    async def UpdateAttribute(self, request: api.UpdateAttributeRequest, context: Any) -> Any:
        paths = steps.mask_paths(
            request, {"name", "event", "field", "sensitivity", "list", "counter"}
        )
        flags = await self._flags(_account())
        prepare = functools.partial(steps.attribute, flags=flags, creating=False)
        return await self._update(
            ATTRIBUTES,
            request.parent_segment_id,
            request.attribute_id,
            (request.attribute, paths),
            prepare,
        )

    @override
    async def DeleteAttribute(self, request: api.DeleteAttributeRequest, context: Any) -> Any:
        await self._delete_unreferenced(
            ATTRIBUTES, request.parent_segment_id, request.attribute_id, "attribute"
        )
        return empty_pb2.Empty()

    # -- stitching keys ------------------------------------------------------------------

    @override
    async def CreateStitchingKey(self, request: api.CreateStitchingKeyRequest, context: Any) -> Any:
        prepare = functools.partial(steps.stitching_key, creating=True)
        return await self._create(
            STITCHING_KEYS, request.parent_segment_id, request.stitching_key, prepare
        )

    @override
    async def GetStitchingKey(self, request: api.GetStitchingKeyRequest, context: Any) -> Any:
        return await self._get(STITCHING_KEYS, request.parent_segment_id, request.stitching_key_id)

    @override
    async def ListStitchingKeys(self, request: api.ListStitchingKeysRequest, context: Any) -> Any:
        page, token = await self._list(STITCHING_KEYS, request)
        return api.ListStitchingKeysResponse(stitching_keys=page, next_page_token=token)

    @override
    async def UpdateStitchingKey(self, request: api.UpdateStitchingKeyRequest, context: Any) -> Any:
        paths = steps.mask_paths(request, {"regex", "exclusions", "workflow_only", "verified"})
        prepare = functools.partial(steps.stitching_key, creating=False)
        return await self._update(
            STITCHING_KEYS,
            request.parent_segment_id,
            request.stitching_key_id,
            (request.stitching_key, paths),
            prepare,
        )

    @override
    async def DeleteStitchingKey(self, request: api.DeleteStitchingKeyRequest, context: Any) -> Any:
        async with self._store.writing() as store:
            segment = await store.parent_segment(_account(), request.parent_segment_id)
            key = await store.child(STITCHING_KEYS, int(segment.id), request.stitching_key_id)
            if key.name == segment.primary_key:
                raise FailedPrecondition(
                    f"{key.name!r} is the parent segment's primary key and cannot be deleted"
                )
            await store.delete(STITCHING_KEYS, int(segment.id), int(key.id))
            await store.record(_deleted(STITCHING_KEYS, int(segment.id), key))
        return empty_pb2.Empty()

    # -- batch segments ------------------------------------------------------------------

    @override
    async def CreateSegment(self, request: api.CreateSegmentRequest, context: Any) -> Any:
        flags = await self._flags(_account())
        prepare = functools.partial(steps.segment, flags=flags)
        return await self._create(SEGMENTS, request.parent_segment_id, request.segment, prepare)

    @override
    async def GetSegment(self, request: api.GetSegmentRequest, context: Any) -> Any:
        return await self._get(SEGMENTS, request.parent_segment_id, request.segment_id)

    @override
    async def ListSegments(self, request: api.ListSegmentsRequest, context: Any) -> Any:
        page, token = await self._list(SEGMENTS, request)
        return api.ListSegmentsResponse(segments=page, next_page_token=token)

    @override
    async def UpdateSegment(self, request: api.UpdateSegmentRequest, context: Any) -> Any:
        paths = steps.mask_paths(request, {"name", "sensitivity"})
        flags = await self._flags(_account())
        prepare = functools.partial(steps.segment, flags=flags)
        return await self._update(
            SEGMENTS,
            request.parent_segment_id,
            request.segment_id,
            (request.segment, paths),
            prepare,
        )

    @override
    async def DeleteSegment(self, request: api.DeleteSegmentRequest, context: Any) -> Any:
        await self._delete_unreferenced(
            SEGMENTS, request.parent_segment_id, request.segment_id, "segment"
        )
        return empty_pb2.Empty()

    @override
    async def ImportSegmentMembers(
        self, request: api.ImportSegmentMembersRequest, context: Any
    ) -> Any:
        if self._import_members is None:
            raise FailedPrecondition("Importing segment members is not available here")
        imported = await self._import_members(_account(), request)
        return api.ImportSegmentMembersResponse(imported=imported)

    async def _refuse_if_referenced(
        self, parent_segment_id: str, noun: str, name: str, **reference: str
    ) -> None:
        users = await self._references(parent_segment_id, **reference)
        if users:
            raise FailedPrecondition(
                f"{noun} {name!r} is referenced by personalizations: {', '.join(sorted(users))}. "
                "Remove it from them first.",
                reason="REFERENCED_BY_PERSONALIZATIONS",
            )


def _deleted(kind: Kind[M], segment_id: int, child: M) -> audit.Entry:
    return audit.change(
        audit.DELETE, kind.resource_type, child.id, child, None, parent=_parent(segment_id)
    )
