"""The kinds of resource `p13n get|describe|delete` know: one table, read by all three.

Each ``Kind`` says where its resources live in the admin API (the collection under the
account, a parent segment or a service), the field a list answer carries them in, the
columns worth a table, and which standard methods the API has for it. A kind the API
cannot list says why in ``unlisted``, so the commands refuse with that sentence instead
of failing on a 404. Profiles are not here: the API finds one by a stitching key's value,
never by id or name (``resources`` handles them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import click


class Scope(enum.Enum):
    """What a kind's collection hangs under, so what must be resolved before its path."""

    ACCOUNT = "account"
    PARENT_SEGMENT = "parent segment"
    SERVICE = "service"


@dataclass(frozen=True)
class Kind:
    """One kind of admin resource, as the API serves it."""

    name: str  # plural, hyphenated: what users type and the tables' titles
    singular: str
    collection: str  # the path segment of the collection
    list_field: str
    columns: tuple[str, ...]
    scope: Scope
    label: str = "name"  # the field a user may name a resource by, besides its id
    get_one: bool = True  # GET collection/{id} exists (else describe reads the list)
    deletable: bool = True
    unlisted: str = ""  # why the API cannot list this kind, when it cannot
    aliases: tuple[str, ...] = ()  # other spellings users are likely to type
    paged: bool = True  # the list takes page_size/page_token (identity secrets: at most 5)

    def collection_path(self, parent_segment: str = "", service: str = "") -> str:
        if self.scope is Scope.ACCOUNT:
            return f"/v1/{self.collection}"
        base = f"/v1/parent_segments/{parent_segment}"
        if self.scope is Scope.SERVICE:
            base += f"/services/{service}"
        return f"{base}/{self.collection}"


_PS = Scope.PARENT_SEGMENT
KINDS: tuple[Kind, ...] = (
    Kind(
        "parent-segments",
        "parent-segment",
        "parent_segments",
        "parent_segments",
        ("id", "name", "primary_key", "reactor_id", "description"),
        Scope.ACCOUNT,
    ),
    Kind("events", "event", "events", "events", ("id", "name", "database", "table"), _PS),
    Kind(
        "attributes",
        "attribute",
        "attributes",
        "attributes",
        ("id", "name", "type", "event", "field", "sensitivity_summary"),
        _PS,
    ),
    Kind(
        "stitching-keys",
        "stitching-key",
        "stitching_keys",
        "stitching_keys",
        ("id", "name", "regex", "exclusions", "workflow_only", "verified"),
        _PS,
    ),
    Kind("segments", "segment", "segments", "segments", ("id", "name", "sensitivity"), _PS),
    Kind(
        "services",
        "service",
        "services",
        "services",
        ("id", "name", "type", "allowed_origins", "description"),
        _PS,
    ),
    Kind(
        "personalizations",
        "personalization",
        "personalizations",
        "personalizations",
        ("id", "name", "trigger_events", "sections", "warnings"),
        _PS,
    ),
    Kind(
        "tokens",
        "token",
        "tokens",
        "tokens",
        ("id", "name", "allowed_ips", "create_time"),
        Scope.SERVICE,
        get_one=False,
    ),
    Kind(
        "identity-secrets",
        "identity-secret",
        "identity_secrets",
        "identity_secrets",
        ("id", "name", "create_time"),
        Scope.SERVICE,
        get_one=False,
        paged=False,
    ),
    Kind(
        "merge-log",
        "merge-log-entry",
        "merge_log",
        "entries",
        ("id", "time", "outcome", "surviving_profile", "absorbed_profiles", "reason"),
        _PS,
        label="id",
        get_one=False,
        deletable=False,
        aliases=("merge-logs", "merge-log-entries"),
    ),
    Kind(
        "audit-log",
        "audit-entry",
        "audit_log",
        "entries",
        ("id", "time", "actor", "action", "resource_type", "resource_id", "parent"),
        Scope.ACCOUNT,
        label="id",
        get_one=False,
        deletable=False,
        aliases=("audit-logs", "audit-entries"),
    ),
    Kind(
        "api-keys",
        "api-key",
        "api_keys",
        "api_keys",
        ("id", "type", "create_time"),
        Scope.ACCOUNT,
        label="id",
        get_one=False,
        unlisted="the admin API does not list API keys (it shows a key once, when "
        "POST /v1/api_keys creates it); revoke one by its id with `p13n delete api-key ID`",
    ),
    Kind(
        "users",
        "user",
        "users",
        "users",
        ("id", "email", "role", "create_time"),
        Scope.ACCOUNT,
        label="email",
        get_one=False,
        deletable=False,
        unlisted="the admin API does not list, show or delete users (it only creates them, "
        "with POST /v1/users)",
    ),
)

# Every spelling a user may type: plural, singular, the API's own, and the aliases.
_BY_SPELLING = {
    spelling: kind
    for kind in KINDS
    for spelling in (kind.name, kind.singular, kind.collection, *kind.aliases)
}
PROFILE_SPELLINGS = ("profiles", "profile")


def spellings() -> list[str]:
    """The kinds as help texts list them (plural)."""
    return [kind.name for kind in KINDS] + ["profiles"]


def kind_named(spelling: str) -> Kind:
    """The kind ``spelling`` names (singular or plural), or a usage error listing them."""
    kind = _BY_SPELLING.get(spelling.lower())
    if kind is None:
        raise click.BadParameter(
            f"unknown kind {spelling!r}; expected one of: {', '.join(spellings())}",
            param_hint="KIND",
        )
    return kind
