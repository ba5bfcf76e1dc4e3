"""Preview: what both paths would answer for a hypothetical event, and why (docs/design.md#preview).

The profile comes from a dry-run ``Track`` (the event applied in memory, nothing stored),
optionally overridden: ``{"attributes": {name: value}, "segments": [name, ...]}`` replaces
the named attributes' values and, when given, the whole segment membership. Warnings add
to the personalization's own those only an evaluation shows: an event that triggers none
of it, and a rendered section over the size limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from p13n.offers.v1 import personalization_config_service_pb2 as api

from services.offers import wire
from services.offers.catalog import Catalog, ProfileView
from services.offers.engine import CompiledConfig
from services.offers.errors import InvalidConfigError, json_type
from services.offers.messages import warning_text
from services.offers.rendering import MAX_SECTION_BYTES

_OVERRIDE_KEYS = ("attributes", "segments")


def with_override(
    view: ProfileView, override: Mapping[str, object], catalog: Catalog
) -> ProfileView:
    """``view`` with the override applied; INVALID_ARGUMENT naming what is wrong in it."""
    try:
        return _overridden(view, override, catalog)
    except InvalidConfigError as error:
        # The catalog's lookups say "invalid personalization"; here it is the override.
        raise error.recast("INVALID_PROFILE_OVERRIDE") from None


def _overridden(view: ProfileView, override: Mapping[str, object], catalog: Catalog) -> ProfileView:
    for key in override:
        if key not in _OVERRIDE_KEYS:
            raise InvalidConfigError(
                f"profile.{key}", f"unknown key {key!r}; expected {', '.join(_OVERRIDE_KEYS)}"
            )
    values = dict(view.attributes)
    attributes = override.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise InvalidConfigError(
            "profile.attributes", f"expected an object, got {json_type(attributes)}"
        )
    for name, value in attributes.items():
        known, _ = catalog.attribute(name, f"profile.attributes.{name}")
        values[known] = value
    segments = view.segments
    if "segments" in override:
        listed = override["segments"]
        if not isinstance(listed, list):
            raise InvalidConfigError(
                "profile.segments", f"expected a list, got {json_type(listed)}"
            )
        segments = frozenset(
            catalog.segment(name, f"profile.segments[{i}]") for i, name in enumerate(listed)
        )
    return ProfileView(values, segments)


def response(
    config: CompiledConfig,
    trigger_events: Iterable[str],
    matched_events: Iterable[str],
    view: ProfileView,
    event: Mapping[str, object],
) -> bytes:
    """The encoded ``PreviewPersonalizationResponse`` for ``config`` (one personalization)."""
    matched = list(matched_events)
    explained = config.explain(matched, view, event)
    warnings = [warning_text(w) for w in config.warnings]
    if not explained.triggered:
        warnings.append(
            f"The event matches none of the trigger events ({', '.join(trigger_events)}); it "
            f"matched {', '.join(matched) or 'no event definition'}, so neither path answers "
            "these sections"
        )
    for name, section in explained.private.items():
        size = len(json.dumps(section, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_SECTION_BYTES:
            warnings.append(
                f"Section {name!r} rendered {size} bytes, over {MAX_SECTION_BYTES}: "
                "the whole section is sent to every visitor it matches"
            )
    sections = [
        api.SectionPreview(
            name=outcome.section,
            matched=bool(outcome.matched),
            redacted_for_public=outcome.redacted_for_public,
            sensitive_references=outcome.sensitive_references,
        )
        for outcome in explained.outcomes
    ]
    return wire.preview_response(explained.public, explained.private, sections, warnings)
