"""Converging a suite to a file through the admin API: read its state, plan, apply.

Every write goes through ``AdminClient`` as any user's would. A write the server refuses
stops the apply with the server's message and the item it was for; whatever was done
before stays done. Running again computes a new plan from the suite as it now is, so it
does not redo what was done; it gets past the failed write only once its cause is gone
(the server is back, the file is fixed): the same refused write fails again the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from services.admin_client import AdminClient, AdminError, segment
from services.declarative.document import Document
from services.declarative.kinds import KINDS, PARENT_SEGMENT
from services.declarative.plan import Action, Change, Current, Plan, make_plan

_VERBS = {Action.CREATE: "creating", Action.UPDATE: "updating", Action.DELETE: "deleting"}


class ConvergeError(Exception):
    """The plan cannot be applied, or a write failed; the message names the item."""


def read_current(admin: AdminClient, parent_segment_name: str) -> Current | None:
    """The parent segment named so and all its items; None when the account has none."""
    for found in admin.list_all("/v1/parent_segments", PARENT_SEGMENT.key):
        if found.get("name") == parent_segment_name:
            return read_by_id(admin, str(found["id"]), found)
    return None


def read_by_id(admin: AdminClient, ps_id: str, found: dict[str, Any] | None = None) -> Current:
    base = f"/v1/parent_segments/{segment(ps_id)}"
    parent = found if found is not None else admin.ok("GET", base)
    items = {kind.key: admin.list_all(f"{base}/{kind.key}", kind.key) for kind in KINDS}
    return Current(parent, items)


def plan(admin: AdminClient, document: Document, *, prune: bool = False) -> Plan:
    """The plan that makes the suite behind ``admin`` match ``document``."""
    return make_plan(document, read_current(admin, document.name), prune=prune)


def apply(admin: AdminClient, plan: Plan, done: Callable[[Change], None] = lambda _: None) -> str:
    """Carries ``plan`` out in its order, calling ``done`` after each write; returns the
    parent segment's id. Refuses before any write when the plan has refusals."""
    if plan.refused:
        raise ConvergeError("; ".join(plan.refused) + " (nothing was changed)")
    ps_id = plan.parent_segment_id
    for change in plan.changes:
        try:
            if change.kind is PARENT_SEGMENT:
                ps_id = _write_parent_segment(admin, change, ps_id)
            else:
                _write(admin, change, f"/v1/parent_segments/{segment(ps_id)}/{change.kind.key}")
        except AdminError as error:
            where = f"(HTTP {error.status} from {error.method} {error.path})"
            raise ConvergeError(
                f"{_VERBS[change.action]} {change.title()} failed: {error.message} {where}"
                if error.status
                else f"{_VERBS[change.action]} {change.title()} failed: {error.message}"
            ) from None
        done(change)
    return ps_id


def _write_parent_segment(admin: AdminClient, change: Change, ps_id: str) -> str:
    if change.action is Action.CREATE:
        return str(admin.ok("POST", "/v1/parent_segments", change.body)["id"])
    _write(admin, change, "/v1/parent_segments", item_id=ps_id)
    return ps_id


def _write(admin: AdminClient, change: Change, collection: str, item_id: str = "") -> None:
    if change.action is Action.CREATE:
        admin.ok("POST", collection, change.body)
        return
    item_id = item_id or change.id or _id_by_name(admin, collection, change)
    path = f"{collection}/{segment(item_id)}"
    if change.action is Action.DELETE:
        admin.ok("DELETE", path)
    else:
        mask = urlencode({"update_mask": ",".join(change.fields)})
        admin.ok("PATCH", f"{path}?{mask}", change.body)


def _id_by_name(admin: AdminClient, collection: str, change: Change) -> str:
    """The id of an item the plan saw before it existed: the stitching key the server
    made with a parent segment this same apply created."""
    for item in admin.list_all(collection, change.kind.key):
        if item.get("name") == change.name:
            return str(item["id"])
    raise AdminError("GET", collection, 404, f"no {change.title()}")
