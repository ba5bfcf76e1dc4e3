"""`p13n get|describe|delete KIND [ID|NAME]`: the admin API's resources, read and removed.

The three commands are driven by one table of kinds (``kinds.KINDS``): where a kind lives,
its list field and its columns. Names resolve to ids through ``lookup``. Profiles are the
exception the API makes: one is found by a stitching key's value (``KEY=VALUE``).
"""

from __future__ import annotations

from typing import Any

import click

from services.admin_client import segment
from services.cli import detail, lookup
from services.cli.context import CliContext, parent_segment_option
from services.cli.kinds import PROFILE_SPELLINGS, Kind, kind_named, spellings
from services.cli.output import cell, emit, output_option

_KINDS_HELP = "KIND is one of: " + ", ".join(spellings()) + " (singular or plural)."


def _service_option(function: Any) -> Any:
    return click.option(
        "--service", metavar="ID|NAME", help="the service (for tokens and identity-secrets)"
    )(function)


@click.command(epilog=_KINDS_HELP, short_help="List a kind, or show one: a table, JSON or YAML.")
@click.argument("kind_name", metavar="KIND")
@click.argument("given", metavar="[ID|NAME]", required=False)
@parent_segment_option
@_service_option
@output_option
@click.pass_obj
def get(
    obj: CliContext,
    kind_name: str,
    given: str | None,
    parent_segment: str | None,
    service: str | None,
    output: str,
) -> int:
    """List a kind's resources as a table, or show one (by id or name).

    A profile is found by a stitching key's value: `p13n get profile KEY=VALUE`.
    """
    if kind_name.lower() in PROFILE_SPELLINGS:
        profile = _profile(obj, parent_segment, _key_value(given, None))
        _emit_profile(profile, output)
        return 0
    kind = kind_named(kind_name)
    place = lookup.place_of(obj, kind, parent_segment, service)
    admin = obj.admin()
    if given is None:
        items = lookup.list_all(admin, place)
        if output != "table":
            emit(items, output)
        elif not items:
            click.echo(f"no {kind.name} in {place}", err=True)
        else:
            emit([_brief(item, kind) for item in items], output, kind.columns)
        return 0
    item = lookup.fetch(admin, place, lookup.find(admin, place, given))
    emit(item if output != "table" else _brief(item, kind), output, kind.columns)
    return 0


@click.command(epilog=_KINDS_HELP, short_help="Show one resource in full, field by field.")
@click.argument("kind_name", metavar="KIND")
@click.argument("given", metavar="ID|NAME")
@click.argument("value", metavar="[VALUE]", required=False)
@parent_segment_option
@_service_option
@output_option
@click.pass_obj
def describe(
    obj: CliContext,
    kind_name: str,
    given: str,
    value: str | None,
    parent_segment: str | None,
    service: str | None,
    output: str,
) -> int:
    """Show one resource in full, field by field, its nested parts laid out.

    A profile is found by a stitching key's value: `p13n describe profile KEY VALUE`
    (or KEY=VALUE); it shows each attribute's value with its sensitivity.
    """
    if kind_name.lower() in PROFILE_SPELLINGS:
        key, key_value = _key_value(given, value)
        profile = _profile(obj, parent_segment, (key, key_value))
        if output == "table":
            detail.show(profile, title=f"profile {profile.get('canonical_id', '')}")
        else:
            emit(profile, output)
        return 0
    if value is not None:
        raise click.UsageError(f"describe {kind_name} takes one ID|NAME, got {given!r} {value!r}")
    kind = kind_named(kind_name)
    place = lookup.place_of(obj, kind, parent_segment, service)
    admin = obj.admin()
    item = lookup.fetch(admin, place, lookup.find(admin, place, given))
    if output == "table":
        detail.show(item, title=f"{kind.singular} {lookup.title(kind, item)} in {place}")
    else:
        emit(item, output)
    return 0


@click.command(epilog=_KINDS_HELP, short_help="Delete one resource, by id or name (asks first).")
@click.argument("kind_name", metavar="KIND")
@click.argument("given", metavar="ID|NAME")
@parent_segment_option
@_service_option
@click.option("-y", "--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def delete(
    obj: CliContext,
    kind_name: str,
    given: str,
    parent_segment: str | None,
    service: str | None,
    yes: bool,
) -> int:
    """Delete one resource (by id or name), after asking unless --yes."""
    kind = kind_named(kind_name)
    if not kind.deletable:
        raise click.ClickException(kind.unlisted or f"the admin API does not delete {kind.name}")
    place = lookup.place_of(obj, kind, parent_segment, service)
    admin = obj.admin()
    # A kind the API cannot list (API keys) can only be named by its id.
    item = {"id": given} if kind.unlisted else lookup.find(admin, place, given)
    called = f"{kind.singular} {lookup.title(kind, item)}"
    if not yes and not click.confirm(f"Delete {called}?", default=False, err=True):
        click.echo(f"kept {called}", err=True)
        return 1
    admin.ok("DELETE", place.item_path(str(item["id"])))
    click.echo(f"deleted {called} (id {item['id']}) from {place}")
    return 0


def _brief(item: dict[str, Any], kind: Kind) -> dict[str, str]:
    """A resource's columns as table cells: nested objects by their names, lists joined."""
    return {column: _summary(item.get(column)) for column in kind.columns}


def _summary(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(
            str(entry.get("name", "…")) if isinstance(entry, dict) else cell(entry)
            for entry in value
        )
    return cell(value)


def _key_value(given: str | None, value: str | None) -> tuple[str, str]:
    """``KEY=VALUE`` (or ``KEY`` ``VALUE``) naming a profile by a stitching key's value."""
    if given is not None and value is not None:
        return given, value
    if given is not None and "=" in given:
        key, _, key_value = given.partition("=")
        if key and key_value:
            return key, key_value
    raise click.UsageError(
        "a profile is found by a stitching key's value: give KEY=VALUE, "
        "such as td_client_id=abc (the API does not list profiles)"
    )


def _profile(obj: CliContext, parent_segment: str | None, key: tuple[str, str]) -> Any:
    parent_segment_id = obj.parent_segment_id(parent_segment)
    path = (
        f"/v1/parent_segments/{segment(parent_segment_id)}/profiles/"
        f"{segment(key[0])}/{segment(key[1])}"
    )
    return obj.admin().ok("GET", path)


def _emit_profile(profile: dict[str, Any], output: str) -> None:
    """A profile's attributes as a table (value and sensitivity each), under its ids."""
    if output != "table":
        emit(profile, output)
        return
    identities = ", ".join(
        f"{i.get('key')}={i.get('value')}" for i in profile.get("identities", [])
    )
    rows = [
        {
            "attribute": attribute.get("name"),
            "value": cell(attribute.get("value")),
            "sensitivity": attribute.get("sensitivity_summary", ""),
        }
        for attribute in profile.get("attributes", [])
    ]
    rows += [
        {"attribute": f"segment {s.get('name')}", "value": "member", "sensitivity": _sens(s)}
        for s in profile.get("segments", [])
    ]
    title = f"profile {profile.get('canonical_id', '')} ({identities})"
    if rows:
        emit(rows, output, ("attribute", "value", "sensitivity"), title=title)
    else:
        click.echo(f"{title}: no attribute values and no segments")


def _sens(membership: dict[str, Any]) -> str:
    return {"SENSITIVE": "Sensitive", "NON_SENSITIVE": "Non-Sensitive"}.get(
        str(membership.get("sensitivity")), "Sensitive (unspecified)"
    )


def register(group: click.Group) -> None:
    group.add_command(get)
    group.add_command(describe)
    group.add_command(delete)
