"""Finding a resource a user named: its place (account, parent segment, service) and its id.

The admin API takes ids in paths; people remember names. A name is resolved against the
kind's list, and a name that matches nothing, or more than one resource, is refused with a
sentence naming what does exist, so the next command can be typed without a `get` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from services.admin_client import AdminClient, segment
from services.cli.kinds import KINDS, Kind, Scope

if TYPE_CHECKING:  # the context resolves parent segments with ``find``: no import cycle
    from services.cli.context import CliContext

_SERVICES = next(kind for kind in KINDS if kind.name == "services")
PARENT_SEGMENTS = next(kind for kind in KINDS if kind.name == "parent-segments")
SEGMENTS = next(kind for kind in KINDS if kind.name == "segments")
_SHOWN_AT_MOST = 20  # a refusal names this many candidates, then says how many more


@dataclass(frozen=True)
class Place:
    """Where a kind's collection is: the ids its path needs (empty when not needed)."""

    kind: Kind
    parent_segment: str = ""
    service: str = ""

    @property
    def path(self) -> str:
        return self.kind.collection_path(segment(self.parent_segment), segment(self.service))

    def item_path(self, item_id: str) -> str:
        return f"{self.path}/{segment(item_id)}"

    def __str__(self) -> str:
        if self.kind.scope is Scope.SERVICE:
            return f"service {self.service} of parent segment {self.parent_segment}"
        if self.kind.scope is Scope.PARENT_SEGMENT:
            return f"parent segment {self.parent_segment}"
        return "this account"


def place_of(obj: CliContext, kind: Kind, parent_segment: str | None, service: str | None) -> Place:
    """The place of ``kind``'s resources, resolving ``--parent-segment`` and ``--service``."""
    if service and kind.scope is not Scope.SERVICE:
        raise click.UsageError(f"--service applies to tokens and identity-secrets, not {kind.name}")
    if kind.scope is Scope.ACCOUNT:
        return Place(kind)
    parent_segment_id = obj.parent_segment_id(parent_segment)
    if kind.scope is Scope.PARENT_SEGMENT:
        return Place(kind, parent_segment_id)
    if not service:
        raise click.UsageError(f"{kind.name} belong to a service: give --service ID|NAME")
    services = Place(_SERVICES, parent_segment_id)
    service_id = str(find(obj.admin(), services, service)["id"])
    return Place(kind, parent_segment_id, service_id)


def list_all(admin: AdminClient, place: Place) -> list[dict[str, Any]]:
    if place.kind.unlisted:
        raise click.ClickException(place.kind.unlisted)
    if not place.kind.paged:
        items: list[dict[str, Any]] = admin.ok("GET", place.path).get(place.kind.list_field, [])
        return items
    return admin.list_all(place.path, place.kind.list_field)


def find(admin: AdminClient, place: Place, given: str) -> dict[str, Any]:
    """The one resource of ``place`` whose id or label (name) is ``given``."""
    return match_one(list_all(admin, place), place, given)


def match_one(items: list[dict[str, Any]], place: Place, given: str) -> dict[str, Any]:
    """The one item of ``items`` (``place``'s resources) whose id or label is ``given``;
    ``click.ClickException`` naming what exists when none is, or more than one: the only
    rule by which the CLI turns a name into an id."""
    kind = place.kind
    matches = [item for item in items if given in (str(item.get("id")), item.get(kind.label))]
    if len(matches) == 1:
        return matches[0]
    by = "id" if kind.label == "id" else f"id or {kind.label}"
    singular, plural = kind.singular.replace("-", " "), kind.name.replace("-", " ")
    if not matches:
        existing = _named(items, kind)
        raise click.ClickException(
            f"no {singular} has the {by} {given!r} in {place}; "
            + (f"there are: {existing}" if existing else f"it has no {plural}")
        )
    raise click.ClickException(
        f"{given!r} names {len(matches)} {plural} in {place}: {_named(matches, kind)}; give the id"
    )


def fetch(admin: AdminClient, place: Place, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as the API's GET of it answers (the list's copy when the API has no GET)."""
    if not place.kind.get_one:
        return item
    fetched: dict[str, Any] = admin.ok("GET", place.item_path(str(item["id"])))
    return fetched


def title(kind: Kind, item: dict[str, Any]) -> str:
    """How a resource is called in sentences: its name, else its id."""
    label = item.get(kind.label) or item.get("id")
    return repr(label) if kind.label != "id" else str(label)


def _named(items: list[dict[str, Any]], kind: Kind) -> str:
    shown = [
        f"{item.get('id')}"
        if kind.label == "id"
        else f"{item.get(kind.label)!r} (id {item.get('id')})"
        for item in items[:_SHOWN_AT_MOST]
    ]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
