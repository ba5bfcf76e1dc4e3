/**
 * Step 5 of the client-side guide: one personalization built or changed. Its name,
 * description and trigger events, then its sections, each a criteria tree and payload
 * fields. A lock marks every section browsers will get as `{}` (redaction.ts), recomputed
 * as the section changes. Saving creates it or changes the fields that changed; the
 * server's refusal names the place in the tree and is shown as written.
 */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, formFailure, listAll, messageOf, part, type ParentSegment, segmentPath } from "../api";
import { FormError } from "../components/dialog";
import { Field } from "../components/field";
import { Link } from "../components/link";
import { type Attribute, type EventDefinition, save, type Segment } from "../config_api";
import { canEdit, useMe } from "../me";
import type { Personalization, Section } from "../personalization_api";
import { type Catalog, redactionReason, sensitiveReferences } from "../redaction";
import { BASE, navigate } from "../router";
import { CriteriaNode, fromCriteria, type NodeDraft, newTest, toCriteria } from "./criteria_editor";
import { fromPayloadField, type PayloadDraft, PayloadFieldEditor, toPayloadField } from "./payload_editor";
import { PreviewPanel } from "./preview_panel";
import "./personalizations.css";

interface SectionDraft {
  /** Not sent: a stable key, so a moved section keeps its elements (and the focus). */
  key: number;
  name: string;
  criteria: NodeDraft | null;
  payload: PayloadDraft[];
}

interface Draft {
  name: string;
  description: string;
  trigger_events: string[];
  sections: SectionDraft[];
}

function toSection(draft: SectionDraft): Section {
  const section: Section = { name: draft.name, payload: draft.payload.map(toPayloadField) };
  if (draft.criteria) section.criteria = toCriteria(draft.criteria);
  return section;
}

function toBody(draft: Draft): Personalization {
  return {
    name: draft.name,
    description: draft.description,
    trigger_events: draft.trigger_events,
    sections: draft.sections.map(toSection),
  };
}

let lastKey = 0;
const nextKey = (): number => ++lastKey;

function fromPersonalization(given: Personalization): Draft {
  return {
    name: given.name,
    description: given.description ?? "",
    trigger_events: given.trigger_events,
    sections: (given.sections ?? []).map((section) => ({
      key: nextKey(),
      name: section.name,
      criteria: section.criteria && Object.keys(section.criteria).length ? fromCriteria(section.criteria) : null,
      payload: (section.payload ?? []).map(fromPayloadField),
    })),
  };
}

/**
 * Where in the builder a server's field path points: "sections[0].criteria.all[2].not.op" is
 * section 0's Condition 1.3.1, "sections[1].payload[0].attribute" its Field 1. The position
 * is written as the builder labels it, so the message can sit beside the control.
 */
export function placeOf(field: string): { section: number; place: string } | null {
  const found = /sections\[(\d+)\](.*)$/.exec(field);
  if (!found) return null;
  const section = Number(found[1]);
  const rest = found[2] ?? "";
  const payload = /^\.payload\[(\d+)\]/.exec(rest);
  if (payload) return { section, place: `Field ${Number(payload[1]) + 1}` };
  if (!rest.startsWith(".criteria")) return { section, place: "" };
  let path = "1";
  for (const step of rest.slice(".criteria".length).matchAll(/\.(?:all|any)\[(\d+)\]|\.not/g)) {
    path += step[1] === undefined ? ".1" : `.${Number(step[1]) + 1}`;
  }
  return { section, place: `Condition ${path}` };
}

/** `items` with the one at `from` moved to `to`. */
function moved<T>(items: readonly T[], from: number, to: number): T[] {
  const rest = items.filter((_, i) => i !== from);
  const item = items[from];
  return item === undefined ? [...items] : [...rest.slice(0, to), item, ...rest.slice(to)];
}

const EMPTY: Draft = { name: "", description: "", trigger_events: [], sections: [] };
const MASKABLE = ["name", "description", "trigger_events", "sections"] as const;
const OWN_FIELDS = ["name", "description", "trigger_events"];

/**
 * The server's messages about the personalization's own fields, by those fields' names: an
 * unknown trigger event is named as "trigger_events[1]", shown at the trigger events.
 */
function ownFieldErrors(failure: ApiError, formFields: Record<string, string>): Record<string, string> {
  const found = { ...formFields };
  for (const [field, message] of Object.entries(failure.fields)) {
    if (/^(personalization\.)?trigger_events\[\d+\]$/.test(field)) found["trigger_events"] ??= message;
  }
  return found;
}

/** Whether the form has a place beside a control for every field the server named. */
function allPlaced(failure: ApiError, shown: Record<string, string>): boolean {
  return Object.keys(failure.fields).every((field) => {
    const own = field.replace(/^personalization\./, "").replace(/\[\d+\]$/, "");
    return own in shown || placeOf(field) !== null;
  });
}

/** The fields of `body` that differ from `saved` (the update mask). */
function changedFields(body: Personalization, saved: Personalization): string[] {
  const before = toBody(fromPersonalization(saved));
  return MASKABLE.filter((field) => JSON.stringify(body[field]) !== JSON.stringify(before[field]));
}

export function PersonalizationBuilder({ segment, item }: { segment: ParentSegment; item: string }): JSX.Element {
  const me = useMe();
  const creating = item === "new";
  const base = `${BASE}/parent-segments/${encodeURIComponent(segment.id)}/personalizations`;
  const [saved, setSaved] = useState<Personalization | null>(null);
  const [draft, setDraft] = useState<Draft | null>(creating ? EMPTY : null);
  const [events, setEvents] = useState<EventDefinition[]>([]);
  // Until the names are known every reference would look unknown, so locked: nothing is shown.
  const [catalog, setCatalog] = useState<Catalog | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The server's refusal by section and place ("Condition 1.2", "Field 1", "" for the section).
  // The server's messages about the personalization's own fields (a taken name...).
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [refusal, setRefusal] = useState<{ section: number; place: string; message: string } | null>(null);

  // Bumped to read the catalog again: a sensitivity changed elsewhere must move the lock.
  const [catalogReads, setCatalogReads] = useState(0);
  const rereadCatalog = (): void => setCatalogReads((reads) => reads + 1);
  useEffect(() => {
    // Another parent segment's names must never decide this one's lock, not even for a moment.
    setCatalog(null);
  }, [segment.id]);
  useEffect(() => {
    let current = true;
    Promise.all([
      listAll<EventDefinition>(segmentPath(segment.id, "events"), "events"),
      listAll<Attribute>(segmentPath(segment.id, "attributes"), "attributes"),
      listAll<Segment>(segmentPath(segment.id, "segments"), "segments"),
    ]).then(([loadedEvents, attributes, segments]) => {
      if (!current) return;
      setEvents(loadedEvents);
      setCatalog({ attributes, segments });
    }, (failure: unknown) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [segment.id, catalogReads]);
  useEffect(() => {
    // Back from another tab (the Attributes page, say): the catalog may have changed there.
    const onVisible = (): void => {
      if (document.visibilityState === "visible") rereadCatalog();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, []);

  useEffect(() => {
    setError(null);
    if (creating) {
      setSaved(null);
      setDraft(EMPTY);
      return;
    }
    setDraft(null);
    call<Personalization>("GET", `${segmentPath(segment.id, "personalizations")}/${part(item)}`).then((found) => {
      setSaved(found);
      setDraft(fromPersonalization(found));
    }, (failure: unknown) => setError(messageOf(failure)));
  }, [segment.id, item]);

  const editable = canEdit(me);
  if (draft === null || catalog === null) {
    return (
      <section aria-labelledby="builder-title">
        <h2 id="builder-title">Personalization</h2>
        <FormError message={error} />
        {!error && <p aria-live="polite">Loading…</p>}
      </section>
    );
  }

  const change = (next: Partial<Draft>): void => {
    setDraft({ ...draft, ...next });
    setStatus(null);
    setRefusal(null);
    setFieldErrors({});
  };
  const setSection = (index: number, next: Partial<SectionDraft>): void =>
    change({ sections: draft.sections.map((section, i) => (i === index ? { ...section, ...next } : section)) });

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setStatus(null);
    setRefusal(null);
    setFieldErrors({});
    const body = toBody(draft);
    try {
      if (saved?.id === undefined) {
        const created = await save(segment.id, "personalizations", body, undefined, []);
        rereadCatalog();
        navigate(`${base}/${encodeURIComponent(created.id ?? "")}`);
        return;
      }
      const mask = changedFields(body, saved);
      if (mask.length === 0) {
        setStatus("Nothing to save: nothing changed.");
        return;
      }
      const updated = await save(segment.id, "personalizations", body, saved.id, mask);
      setSaved(updated);
      setDraft(fromPersonalization(updated));
      setStatus("Saved.");
      rereadCatalog();
    } catch (failure) {
      // A message about a field of its own is shown there; any other above the form, and
      // beside the section, condition or field it names too ("sections[0].criteria.all[1].op").
      const { fields, message } = formFailure(failure, "personalization", OWN_FIELDS);
      const shown = failure instanceof ApiError ? ownFieldErrors(failure, fields) : fields;
      setFieldErrors(shown);
      // Above the form too when some field the server named has no place in it.
      setError(failure instanceof ApiError && allPlaced(failure, shown) && Object.keys(shown).length > 0 ? null : (message ?? messageOf(failure)));
      if (failure instanceof ApiError) {
        const located = Object.keys(failure.fields).map(placeOf).find((place) => place !== null);
        if (located) setRefusal({ ...located, message: failure.message });
      }
    } finally {
      setBusy(false);
    }
  };

  const title = creating ? "New personalization" : `Personalization ${saved?.name ?? ""}`;
  return (
    <section aria-labelledby="builder-title">
      <p>
        <Link href={base}>All personalizations</Link>
      </p>
      <h2 id="builder-title">{title}</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <fieldset class="builder" disabled={!editable || busy}>
          <legend class="visually-hidden">{title}</legend>
          {!editable && <p class="hint">You can read this personalization; changing it needs the EDITOR role.</p>}
          <FormError message={error} />
          <Field
            id="p13n-name"
            label="Name"
            value={draft.name}
            onInput={(name) => change({ name })}
            error={fieldErrors["name"]}
            required
          />
          <Field
            id="p13n-description"
            label="Description"
            value={draft.description}
            onInput={(description) => change({ description })}
            error={fieldErrors["description"]}
            multiline
          />
          <TriggerEvents
            events={events}
            chosen={draft.trigger_events}
            error={fieldErrors["trigger_events"]}
            onChange={(trigger_events) => change({ trigger_events })}
          />
          <h3>Sections</h3>
          <p class="hint" id="value-hint">
            Values are read as JSON: 42, true, ["gold", "silver"] or "42" (a string). Text that is not JSON is a string
            as typed: gold. A starts_with prefix or a regex pattern is always the text as typed.
          </p>
          {draft.sections.map((section, index) => (
            <SectionEditor
              key={section.key}
              section={section}
              index={index}
              catalog={catalog}
              refusal={refusal?.section === index ? refusal : null}
              last={index === draft.sections.length - 1}
              onMove={(by) => change({ sections: moved(draft.sections, index, index + by) })}
              onChange={(next) => setSection(index, next)}
              onRemove={() => change({ sections: draft.sections.filter((_, i) => i !== index) })}
            />
          ))}
          <p>
            <button
              type="button"
              class="secondary"
              onClick={() => change({ sections: [...draft.sections, { key: nextKey(), name: "", criteria: null, payload: [] }] })}
            >
              Add section
            </button>
          </p>
          {editable && (
            <div class="actions">
              <button type="submit" disabled={busy}>
                {creating ? "Create" : "Save"}
              </button>
            </div>
          )}
          {status && (
            <p role="status" class="hint">
              {status}
            </p>
          )}
        </fieldset>
      </form>
      {(saved?.warnings ?? []).length > 0 && (
        <div class="warning">
          <h3>Warnings</h3>
          <ul>
            {(saved?.warnings ?? []).map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </div>
      )}
      {saved && <PreviewPanel segment={segment} personalization={saved} />}
    </section>
  );
}

function SectionEditor(props: {
  section: SectionDraft;
  index: number;
  catalog: Catalog;
  refusal: { place: string; message: string } | null;
  last: boolean;
  /** Moves the section by one place: -1 up (answered earlier), 1 down. */
  onMove: (by: -1 | 1) => void;
  onChange: (next: Partial<SectionDraft>) => void;
  onRemove: () => void;
}): JSX.Element {
  const { section, index, catalog, onChange, refusal } = props;
  const problemAt = (place: string): string | null => (refusal?.place === place ? refusal.message : null);
  const label = `Section ${index + 1}`;
  const idPrefix = `s${index}`;
  const reason = redactionReason(sensitiveReferences(toSection(section), catalog));
  const reasonId = `${idPrefix}-lock-reason`;
  return (
    <fieldset class="section-editor">
      <legend>
        {label}
        {reason && <Lock reason={reason} reasonId={reasonId} />}
      </legend>
      {reason && (
        <p class="lock-reason" id={reasonId}>
          {reason}
        </p>
      )}
      {refusal && refusal.place === "" && (
        <p class="field-error" role="alert">
          {refusal.message}
        </p>
      )}
      <Field id={`${idPrefix}-name`} label={`${label} name`} value={section.name} onInput={(name) => onChange({ name })} />
      <h4>Criteria</h4>
      {section.criteria === null ? (
        <p>
          No criteria: the section always shows.{" "}
          <button type="button" class="secondary" onClick={() => onChange({ criteria: { type: "all", children: [newTest()] } })}>
            Add criteria to {label}
          </button>
        </p>
      ) : (
        <CriteriaNode
          node={section.criteria}
          path="1"
          idPrefix={idPrefix}
          catalog={catalog}
          problemAt={problemAt}
          onChange={(criteria) => onChange({ criteria })}
          onRemove={() => onChange({ criteria: null })}
        />
      )}
      <h4>Payload</h4>
      {section.payload.map((field, i) => (
        <PayloadFieldEditor
          key={i}
          field={field}
          index={i}
          idPrefix={idPrefix}
          attributes={catalog.attributes}
          segments={catalog.segments}
          problem={problemAt(`Field ${i + 1}`)}
          onChange={(next) => onChange({ payload: section.payload.map((each, j) => (j === i ? next : each)) })}
          onRemove={() => onChange({ payload: section.payload.filter((_, j) => j !== i) })}
        />
      ))}
      <p>
        <button
          type="button"
          class="secondary"
          onClick={() => onChange({ payload: [...section.payload, { name: "", source: "static", value: "" }] })}
        >
          Add field to {label}
        </button>{" "}
        <button type="button" class="secondary" onClick={props.onRemove}>
          Remove {label}
        </button>{" "}
        {index > 0 && (
          <button type="button" class="secondary" onClick={() => props.onMove(-1)}>
            Move {label} up
          </button>
        )}{" "}
        {!props.last && (
          <button type="button" class="secondary" onClick={() => props.onMove(1)}>
            Move {label} down
          </button>
        )}
      </p>
    </fieldset>
  );
}

/** The lock on a section browsers get as `{}`: the reason on hover, and written out below it. */
function Lock({ reason, reasonId }: { reason: string; reasonId: string }): JSX.Element {
  return (
    <span role="img" aria-label="Redacted for browsers" aria-describedby={reasonId} title={reason} class="lock">
      <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
        <path d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z" fill="currentColor" />
      </svg>
      <span class="lock-text" aria-hidden="true">
        {"{}"} for browsers
      </span>
    </span>
  );
}

/**
 * The events that trigger it. A saved name that is no longer an event definition still gets
 * its checkbox, marked, so it can be seen and taken out.
 */
function TriggerEvents(props: {
  events: readonly EventDefinition[];
  chosen: readonly string[];
  error: string | undefined;
  onChange: (chosen: string[]) => void;
}): JSX.Element {
  const { events, chosen, error } = props;
  const defined = events.map((definition) => definition.name);
  const unknown = chosen.filter((name) => !defined.includes(name));
  const errorId = "trigger-events-error";
  const toggle = (name: string, checked: boolean): void =>
    props.onChange(checked ? [...chosen, name] : chosen.filter((each) => each !== name));
  return (
    <fieldset class="trigger-events" aria-describedby={error ? errorId : undefined}>
      <legend>Trigger events</legend>
      {error && (
        <p class="field-error" id={errorId} role="alert">
          {error}
        </p>
      )}
      {events.length === 0 && <p class="hint">No events yet: define one on the Events page first.</p>}
      {[...defined, ...unknown].map((name) => (
        <label key={name} class="checkbox-inline">
          <input
            type="checkbox"
            checked={chosen.includes(name)}
            onChange={(event) => toggle(name, (event.currentTarget as HTMLInputElement).checked)}
          />{" "}
          {name}
          {!defined.includes(name) && <span class="unknown-event"> (not an event definition)</span>}
        </label>
      ))}
    </fieldset>
  );
}
