"""Validation of a parent segment's real-time configuration (docs/design.md#names, #attributes, #stitching).

Pure: the service passes in what already exists and the account's flags. Messages are
exact where the design gives them and actionable everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.errors import FailedPrecondition, InvalidArgument
from services.profile import patterns
from services.profile.counters import parse_window

NAME = re.compile(r"^[a-z0-9_]{3,128}$")
RESERVED_NAMES = frozenset({"public", "records", "v1"})
MAX_EVENT_DEFINITIONS = 100
MAX_STITCHING_KEYS = 200
MAX_ATTRIBUTES = 200
MAX_LIST_ITEMS = 100
MAX_EXPIRE_DAYS = 60
FLAG_SENSITIVITY = "eng-lc-realtime-personalization-m2-2"

SENSITIVITY_BLANK = "Sensitivity can't be blank"
COUNTER_SENSITIVE = "Counter attributes cannot be sensitive"

# How a sensitivity is stored in the segments table, and back.
SENSITIVITY_NAMES = {
    pb.SENSITIVITY_UNSPECIFIED: "UNSPECIFIED",
    pb.SENSITIVE: "SENSITIVE",
    pb.NON_SENSITIVE: "NON_SENSITIVE",
}
SENSITIVITY_VALUES = {name: value for value, name in SENSITIVITY_NAMES.items()}


def check_table_name(kind: str, value: str, field: str) -> None:
    if not NAME.match(value):
        raise InvalidArgument(
            f"{kind} name {value!r} is invalid: use 3 to 128 characters of a-z, 0-9 and _",
            field=field,
        )
    if value in RESERVED_NAMES:
        raise InvalidArgument(
            f"{kind} name {value!r} is reserved: public, records and v1 would shadow API paths",
            field=field,
        )


def check_regex(pattern: str, field: str) -> None:
    """Refuse a pattern Python's ``re`` cannot parse or RE2 cannot run (see ``patterns``)."""
    try:
        patterns.check(pattern)
    except patterns.InvalidPattern as error:
        raise InvalidArgument(f"Regex {pattern!r} is invalid: {error}", field=field) from None
    except patterns.UnsupportedPattern as error:
        raise InvalidArgument(
            f"Regex {pattern!r} is not supported: {error} (patterns run on RE2, which has no "
            "backreferences or lookarounds)",
            reason="REGEX_UNSUPPORTED",
            field=field,
        ) from None


def validate_event_definition(event: pb.EventDefinition, count_others: int) -> None:
    if count_others >= MAX_EVENT_DEFINITIONS:
        raise InvalidArgument(
            f"A parent segment can have at most {MAX_EVENT_DEFINITIONS} event definitions",
            reason="EVENT_DEFINITION_LIMIT",
        )
    check_table_name("Database", event.database, "event.database")
    check_table_name("Table", event.table, "event.table")
    for index, event_filter in enumerate(event.filters):
        if not event_filter.field:
            raise InvalidArgument(
                "Filter field can't be blank", field=f"event.filters[{index}].field"
            )
        check_regex(event_filter.regex, f"event.filters[{index}].regex")


def validate_stitching_key(key: pb.StitchingKey, count_others: int) -> None:
    if count_others >= MAX_STITCHING_KEYS:
        raise InvalidArgument(
            f"A parent segment can have at most {MAX_STITCHING_KEYS} stitching keys",
            reason="STITCHING_KEY_LIMIT",
        )
    if key.regex:
        check_regex(key.regex, "stitching_key.regex")


def _sensitivity(given: int, flags: Collection[str], field: str) -> int:
    """The sensitivity to store: required with flag m2-2, UNSPECIFIED without it."""
    if FLAG_SENSITIVITY not in flags:
        if given != pb.SENSITIVITY_UNSPECIFIED:
            raise FailedPrecondition(
                f"Attribute sensitivity is not enabled for this account: the feature flag "
                f"{FLAG_SENSITIVITY} is off, so sensitivity stays UNSPECIFIED (treated as "
                "sensitive on the public path)",
                reason="FEATURE_FLAG_DISABLED",
            )
        return pb.SENSITIVITY_UNSPECIFIED
    if given == pb.SENSITIVITY_UNSPECIFIED:
        raise InvalidArgument(SENSITIVITY_BLANK, reason="SENSITIVITY_BLANK", field=field)
    return given


def validate_segment(segment: pb.Segment, flags: Collection[str]) -> pb.Segment:
    result = pb.Segment()
    result.CopyFrom(segment)
    result.sensitivity = _sensitivity(segment.sensitivity, flags, "segment.sensitivity")  # type: ignore[assignment]
    return result


def validate_attribute(
    attribute: pb.Attribute, event_names: Collection[str], flags: Collection[str], count_others: int
) -> pb.Attribute:
    """The attribute to store (sensitivities settled), or an error naming the field."""
    if count_others >= MAX_ATTRIBUTES:
        raise InvalidArgument(
            f"A parent segment can have at most {MAX_ATTRIBUTES} real-time attributes",
            reason="ATTRIBUTE_LIMIT",
        )
    result = pb.Attribute()
    result.CopyFrom(attribute)
    kind = attribute.type
    if kind == pb.ATTRIBUTE_TYPE_UNSPECIFIED:
        raise InvalidArgument(
            "Type can't be blank (SINGLE, LIST, COUNTER or IMPORTED)", field="attribute.type"
        )
    if kind == pb.IMPORTED:
        if attribute.event:
            raise InvalidArgument(
                "Imported attributes are not updated by events: leave event empty",
                field="attribute.event",
            )
    elif attribute.event not in event_names:
        raise InvalidArgument(
            f"Event {attribute.event!r} is not an event definition of this parent segment",
            field="attribute.event",
        )
    if kind == pb.SINGLE and not attribute.field:
        raise InvalidArgument("Field can't be blank", field="attribute.field")
    if kind == pb.COUNTER:
        _validate_counter(attribute, result)
    elif kind == pb.LIST:
        _validate_list(attribute, result, flags)
    else:
        result.sensitivity = _sensitivity(attribute.sensitivity, flags, "attribute.sensitivity")  # type: ignore[assignment]
    result.sensitivity_summary = sensitivity_summary(result)
    return result


def _validate_counter(attribute: pb.Attribute, result: pb.Attribute) -> None:
    if attribute.sensitivity == pb.SENSITIVE:
        raise InvalidArgument(
            COUNTER_SENSITIVE, reason="COUNTER_SENSITIVE", field="attribute.sensitivity"
        )
    try:
        parse_window(attribute.counter.window or "")
    except ValueError as error:
        raise InvalidArgument(str(error), field="attribute.counter.window") from None
    # Counters expose only aggregate behaviour: always non-sensitive, flag or not.
    result.sensitivity = pb.NON_SENSITIVE


LIST_HAS_NO_SENSITIVITY = (
    "A list attribute has no sensitivity of its own: set it on each aggregation "
    "(list.aggregations[].sensitivity)"
)


def _validate_list(attribute: pb.Attribute, result: pb.Attribute, flags: Collection[str]) -> None:
    settings = attribute.list
    if attribute.sensitivity != pb.SENSITIVITY_UNSPECIFIED:
        # Refused, not dropped: a SENSITIVE given here and silently forgotten would publish
        # the aggregations the user meant to withhold.
        raise InvalidArgument(LIST_HAS_NO_SENSITIVITY, field="attribute.sensitivity")
    if not 1 <= settings.max_items <= MAX_LIST_ITEMS:
        raise InvalidArgument(
            f"Max items must be from 1 to {MAX_LIST_ITEMS}", field="attribute.list.max_items"
        )
    if not 1 <= settings.expire_days <= MAX_EXPIRE_DAYS:
        raise InvalidArgument(
            f"Expire days must be from 1 to {MAX_EXPIRE_DAYS}", field="attribute.list.expire_days"
        )
    if not settings.aggregations:
        raise InvalidArgument(
            "A list attribute needs at least one aggregation", field="attribute.list.aggregations"
        )
    seen: set[str] = set()
    for index, aggregation in enumerate(settings.aggregations):
        where = f"attribute.list.aggregations[{index}]"
        if not aggregation.name:
            raise InvalidArgument("Name can't be blank", field=f"{where}.name")
        if aggregation.name in seen:
            raise InvalidArgument("Name has already been taken", field=f"{where}.name")
        seen.add(aggregation.name)
        if not aggregation.field:
            raise InvalidArgument("Field can't be blank", field=f"{where}.field")
        result.list.aggregations[index].sensitivity = _sensitivity(  # type: ignore[assignment]
            aggregation.sensitivity, flags, f"{where}.sensitivity"
        )
    result.sensitivity = pb.SENSITIVITY_UNSPECIFIED


def sensitivity_summary(attribute: pb.Attribute) -> str:
    """ "x/y Sensitive" for a list (unspecified counts as sensitive), else the sensitivity."""
    if attribute.type == pb.LIST:
        aggregations = attribute.list.aggregations
        sensitive = sum(1 for a in aggregations if a.sensitivity != pb.NON_SENSITIVE)
        return f"{sensitive}/{len(aggregations)} Sensitive"
    return {
        pb.SENSITIVE: "Sensitive",
        pb.NON_SENSITIVE: "Non-Sensitive",
    }.get(attribute.sensitivity, "Unspecified")
