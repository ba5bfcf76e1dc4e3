"""`p13n preview PERSONALIZATION`: what the public and the private path would answer.

The API's `:preview` evaluates a hypothetical event (stored nowhere, changing no profile)
and says per section whether it matched and whether browsers get it redacted, naming the
sensitive attributes, aggregations and segments that are why. The event's table is the
personalization's trigger event's (the first, unless --trigger names another), and
``--visitor KEY=VALUE`` puts a stitching key's value in the event, so the stored profile
that owns it is the one evaluated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from services.cli import lookup
from services.cli.context import CliContext, parent_segment_option
from services.cli.kinds import KINDS
from services.cli.output import cell, console, emit, output_option

_PERSONALIZATIONS = next(kind for kind in KINDS if kind.name == "personalizations")
_EVENTS = next(kind for kind in KINDS if kind.name == "events")


@click.command(short_help="Which sections show, which are redacted, and why.")
@click.argument("given", metavar="PERSONALIZATION")
@click.option(
    "--event",
    "event_text",
    metavar="JSON|@FILE",
    help="the hypothetical event, a JSON object (or @FILE holding one)",
)
@click.option(
    "--visitor",
    "key_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="a stitching key's value to put in the event, naming the visitor's stored "
    "profile (repeatable)",
)
@click.option("--trigger", metavar="EVENT", help="which trigger event's table (default: first)")
@parent_segment_option
@output_option
@click.pass_obj
def preview(
    obj: CliContext,
    given: str,
    event_text: str | None,
    key_values: tuple[str, ...],
    trigger: str | None,
    parent_segment: str | None,
    output: str,
) -> int:
    """Preview a personalization (id or name) for an event: each section shown or not,
    redacted for browsers or not and why, then both answers. Give the visitor
    (--visitor), the event (--event), or both."""
    if not event_text and not key_values:  # an event without an identifier is refused (400)
        raise click.UsageError(
            "say whose profile to evaluate: give --visitor KEY=VALUE (a stitching key's "
            "value), or the event with --event JSON|@FILE"
        )
    event = _event(event_text)  # the user's own input first: refused before any call
    for key_value in key_values:
        key, _, value = key_value.partition("=")
        if not key or not value:
            raise click.BadParameter(f"{key_value!r}: give KEY=VALUE", param_hint="--visitor")
        event[key] = value
    admin = obj.admin()
    place = lookup.place_of(obj, _PERSONALIZATIONS, parent_segment, None)
    personalization = lookup.find(admin, place, given)
    triggers = [str(name) for name in personalization.get("trigger_events", [])]
    trigger = trigger or (triggers[0] if triggers else None)
    if trigger is None:
        raise click.ClickException(f"personalization {given!r} has no trigger events")
    events = lookup.Place(_EVENTS, place.parent_segment)
    definition = lookup.find(admin, events, trigger)
    body = {"database": definition["database"], "table": definition["table"], "event": event}
    answer = admin.ok("POST", f"{place.item_path(str(personalization['id']))}:preview", body)
    if output != "table":
        emit(answer, output)
        return 0
    _show(answer, f"{personalization['name']!r} on {trigger} ({body['database']}.{body['table']})")
    return 0


def _event(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    source = "--event"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise click.BadParameter(
                f"{source}: not UTF-8 text (JSON is UTF-8)", param_hint="--event"
            ) from None
        except OSError as error:
            raise click.BadParameter(
                f"cannot read {source}: {error.strerror}", param_hint="--event"
            ) from None
    try:
        event = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"{source}: not JSON ({error})", param_hint="--event") from None
    if not isinstance(event, dict):
        raise click.BadParameter(f"{source}: the event must be a JSON object", param_hint="--event")
    return event


def _show(answer: dict[str, Any], title: str) -> None:
    rows = [
        {
            "section": section.get("name"),
            "shown": cell(bool(section.get("matched"))),
            "redacted for browsers": cell(bool(section.get("redacted_for_public"))),
            "why": ", ".join(section.get("sensitive_references", [])),
        }
        for section in answer.get("sections", [])
    ]
    emit(rows, "table", ("section", "shown", "redacted for browsers", "why"), title=title)
    out = console()
    for label, field in (
        ("public answer", "public_response"),
        ("private answer", "private_response"),
    ):
        shown = json.dumps(answer.get(field, {}), separators=(", ", ": "))
        out.print(Text(f"{label}: {shown}"))
    for warning in answer.get("warnings", []):
        out.print(Text(f"warning: {warning}"))


def register(group: click.Group) -> None:
    group.add_command(preview)
