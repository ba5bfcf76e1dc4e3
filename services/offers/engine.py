"""The engine: a parent segment's personalizations, compiled once, answered per request.

``compile_personalizations`` validates and compiles the whole configuration; the result
is immutable, so the gRPC layer can cache one per configuration version and share it
between concurrent requests. Everything that can be wrong is found while compiling, so
that ``evaluate`` cannot fail a request.

On the public path a section that refers to anything sensitive is answered ``{}``
without its criteria even being evaluated: its answer is then the same whether or not
it would have matched, and nothing sensitive is read at all. Every other section is
rendered when it matches and left out when it does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.offers.catalog import Catalog, ProfileView
from services.offers.criteria import Condition, compile_criteria
from services.offers.errors import InvalidConfigError, expect_name, expect_object
from services.offers.redaction import sensitive_references
from services.offers.rendering import ConfigWarning, Payload, compile_payload


@dataclass(frozen=True)
class Personalization:
    """A personalization as the admin API stores it: its sections are plain JSON."""

    name: str
    trigger_events: Sequence[str]
    sections: Sequence[Mapping[str, object]]


@dataclass(frozen=True)
class SectionOutcome:
    """How one section fared in an evaluation: what the preview API shows.

    ``matched`` is None when the section was not evaluated, because the public path
    redacts it; ``redacted_for_public`` says whether it would be, on either path.
    """

    personalization: str
    section: str
    matched: bool | None
    redacted_for_public: bool
    sensitive_references: tuple[str, ...]


@dataclass(frozen=True)
class _Section:
    name: str
    matches: Condition
    payload: Payload
    sensitive_references: tuple[str, ...]


@dataclass(frozen=True)
class _Personalization:
    name: str
    trigger_events: frozenset[str]
    sections: tuple[_Section, ...]


@dataclass(frozen=True)
class CompiledConfig:
    """A parent segment's personalizations, ready to answer requests."""

    personalizations: tuple[_Personalization, ...]
    warnings: tuple[ConfigWarning, ...]

    def answer(
        self,
        matched_event_names: Iterable[str],
        view: ProfileView,
        event: Mapping[str, object],
        *,
        public: bool,
    ) -> dict[str, dict[str, object]]:
        """Answer one request: the ``offers`` object.

        Every personalization that one of ``matched_event_names`` (the event definitions
        the incoming event matched) triggers contributes its sections, in order.
        """
        return self._evaluate(frozenset(matched_event_names), view, event, public, None)

    def evaluate(
        self,
        matched_event_names: Iterable[str],
        view: ProfileView,
        event: Mapping[str, object],
        *,
        public: bool,
    ) -> tuple[dict[str, dict[str, object]], list[SectionOutcome]]:
        """``answer``, and how each triggered section fared (what preview shows)."""
        outcomes: list[SectionOutcome] = []
        offers = self._evaluate(frozenset(matched_event_names), view, event, public, outcomes)
        return offers, outcomes

    def _evaluate(
        self,
        matched: frozenset[str],
        view: ProfileView,
        event: Mapping[str, object],
        public: bool,
        outcomes: list[SectionOutcome] | None,
    ) -> dict[str, dict[str, object]]:
        # The personalize paths pass no ``outcomes``: only preview reads them.
        offers: dict[str, dict[str, object]] = {}
        for personalization in self.personalizations:
            if personalization.trigger_events.isdisjoint(matched):
                continue
            for section in personalization.sections:
                redacted = bool(section.sensitive_references)
                hit: bool | None = None
                if public and redacted:
                    offers[section.name] = {}
                else:
                    hit = section.matches(view, event)
                    if hit:
                        offers[section.name] = section.payload.render(view)
                if outcomes is not None:
                    outcomes.append(
                        SectionOutcome(
                            personalization.name,
                            section.name,
                            hit,
                            redacted,
                            section.sensitive_references,
                        )
                    )
        return offers

    def explain(
        self,
        matched_event_names: Iterable[str],
        view: ProfileView,
        event: Mapping[str, object],
    ) -> Explanation:
        """Both answers, and an outcome for every section, triggered or not (preview).

        A section of a personalization the event does not trigger is reported as not
        matched: that is what both paths would do with it.
        """
        matched = frozenset(matched_event_names)
        public, _ = self.evaluate(matched, view, event, public=True)
        private, evaluated = self.evaluate(matched, view, event, public=False)
        by_name = {outcome.section: outcome for outcome in evaluated}
        outcomes = [
            by_name.get(section.name)
            or SectionOutcome(
                personalization.name,
                section.name,
                False,
                bool(section.sensitive_references),
                section.sensitive_references,
            )
            for personalization in self.personalizations
            for section in personalization.sections
        ]
        triggered = tuple(
            p.name for p in self.personalizations if not p.trigger_events.isdisjoint(matched)
        )
        return Explanation(public, private, outcomes, triggered)


@dataclass(frozen=True)
class Explanation:
    """What preview shows: both answers, every section's outcome, what was triggered."""

    public: dict[str, dict[str, object]]
    private: dict[str, dict[str, object]]
    outcomes: list[SectionOutcome]
    triggered: tuple[str, ...]


def compile_personalizations(
    catalog: Catalog,
    personalizations: Iterable[Personalization],
    *,
    reserved: Mapping[str, str] | None = None,
) -> CompiledConfig:
    """Validate and compile a parent segment's personalizations against its ``catalog``.

    Raises ``InvalidConfigError`` naming the personalization and the path within it.
    Section names are unique across the parent segment; a name used twice is reported
    at its later use, so a save passes the personalization being saved last.
    ``reserved`` maps the section names of personalizations compiled elsewhere (the
    others of the parent segment, when one is saved) to their owners.
    """
    compiled: list[_Personalization] = []
    owners = dict(reserved or {})
    for personalization in personalizations:
        try:
            compiled.append(_compile_personalization(catalog, personalization, owners))
        except InvalidConfigError as error:
            raise error.within(personalization.name) from None
    return _config(compiled)


def compile_each(
    catalog: Catalog, personalizations: Iterable[Personalization]
) -> tuple[CompiledConfig, list[InvalidConfigError]]:
    """Like ``compile_personalizations``, but one that no longer compiles is left out.

    Every personalization was valid when it was saved, but the parent segment's
    configuration can change under it (an attribute's type, an aggregation renamed).
    Serving must go on for the others: the broken one is left out (it answers nothing,
    which reveals nothing) and returned as an error to log and show in preview.
    """
    compiled: list[_Personalization] = []
    errors: list[InvalidConfigError] = []
    owners: dict[str, str] = {}
    for personalization in personalizations:
        try:
            compiled.append(_compile_personalization(catalog, personalization, dict(owners)))
        except InvalidConfigError as error:
            errors.append(error.within(personalization.name))
            continue
        owners.update((section.name, personalization.name) for section in compiled[-1].sections)
    return _config(compiled), errors


def _config(compiled: list[_Personalization]) -> CompiledConfig:
    warnings = [
        dataclasses.replace(warning, personalization=personalization.name)
        for personalization in compiled
        for section in personalization.sections
        for warning in section.payload.warnings
    ]
    return CompiledConfig(tuple(compiled), tuple(warnings))


def _compile_personalization(
    catalog: Catalog, personalization: Personalization, owners: dict[str, str]
) -> _Personalization:
    """Compile one personalization; ``owners`` maps each section name seen to its owner."""
    if not personalization.trigger_events:
        raise InvalidConfigError(
            "trigger_events", "name at least one event definition that triggers it"
        )
    triggers = frozenset(
        catalog.event(name, f"trigger_events[{i}]")
        for i, name in enumerate(personalization.trigger_events)
    )
    sections = []
    for i, section in enumerate(personalization.sections):
        path = f"sections[{i}]"
        node = expect_object(section, path, required=["name"], optional=["criteria", "payload"])
        name = expect_name(node["name"], f"{path}.name")
        if name in owners:
            raise InvalidConfigError(
                f"{path}.name",
                f"section name {name!r} is already used in personalization {owners[name]!r}; "
                "section names are unique within a parent segment",
            )
        owners[name] = personalization.name
        sections.append(
            _Section(
                name,
                compile_criteria(node.get("criteria"), catalog, f"{path}.criteria"),
                compile_payload(node.get("payload"), catalog, f"{path}.payload"),
                tuple(sensitive_references(node, catalog)),
            )
        )
    return _Personalization(personalization.name, triggers, tuple(sections))
