/**
 * The preview of one saved personalization: a sample event or a real profile in, which
 * sections show, which are redacted and why, and the public and private answers side by side
 * (POST .../personalizations/{id}:preview, docs/design.md §4.11). Nothing is stored: the
 * server applies the event to the profile in memory only, so previewing is open to a VIEWER.
 */

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { call, listAll, messageOf, part, type ParentSegment, segmentPath } from "../api";
import { FormError } from "../components/dialog";
import type { EventDefinition, StitchingKey } from "../config_api";
import type { Personalization, Preview, PreviewOffers, SectionPreview } from "../personalization_api";
import { parseEvent, pretty } from "./preview_json";
import "./preview_panel.css";

type Mode = "event" | "profile";

interface Table {
  database: string;
  table: string;
  /** The event definitions reading it, as people know them. */
  events: string[];
}

/** `database.table` of every event definition, once each, the trigger events' first. */
function tablesOf(events: EventDefinition[], triggers: string[]): Table[] {
  const tables = new Map<string, Table>();
  const ordered = [...events].sort(
    (a, b) => Number(!triggers.includes(a.name)) - Number(!triggers.includes(b.name)),
  );
  for (const event of ordered) {
    const id = `${event.database}.${event.table}`;
    const known = tables.get(id);
    if (known) known.events.push(event.name);
    else tables.set(id, { database: event.database, table: event.table, events: [event.name] });
  }
  return [...tables.values()];
}

export function PreviewPanel(props: { segment: ParentSegment; personalization: Personalization }): JSX.Element {
  const { segment, personalization } = props;
  const [tables, setTables] = useState<Table[] | null>(null);
  const [keys, setKeys] = useState<StitchingKey[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [table, setTable] = useState("");
  const [mode, setMode] = useState<Mode>("event");
  const [key, setKey] = useState(segment.primary_key);
  const [value, setValue] = useState("");
  const [text, setText] = useState(() => pretty({ [segment.primary_key]: "visitor-1" }));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tried, setTried] = useState(false);
  // `sent`: the event as the panel changed it (a real profile's), shown with the answers;
  // `version`: the personalization as saved when it was asked for.
  const [result, setResult] = useState<{ preview: Preview; sent: Record<string, unknown> | null; version: string } | null>(null);
  // Counts the previews asked for: only the latest one's reply is shown, so a slow reply to
  // an older request (or to the personalization as it was before a save) never replaces it.
  const requests = useRef(0);
  // The builder passes the personalization as saved into this same panel after each save: a
  // result about an earlier version would be shown as if it were about this one.
  const version = `${personalization.id ?? ""}@${personalization.update_time ?? ""}`;

  useEffect(() => {
    requests.current += 1;
    setResult(null);
    setError(null);
    setBusy(false);
  }, [version]);

  useEffect(() => {
    Promise.all([
      listAll<EventDefinition>(segmentPath(segment.id, "events"), "events"),
      listAll<StitchingKey>(segmentPath(segment.id, "stitching_keys"), "stitching_keys"),
    ]).then(
      ([events, stitching]) => {
        const found = tablesOf(events, personalization.trigger_events);
        setTables(found);
        setTable((was) => was || (found[0] ? `${found[0].database}.${found[0].table}` : ""));
        // Workflow-only keys never identify a real-time event: the preview ignores them too.
        setKeys(stitching.filter((candidate) => !candidate.workflow_only));
      },
      (failure: unknown) => setLoadError(messageOf(failure)),
    );
  }, [segment.id, personalization.id, personalization.trigger_events.join(",")]);

  const parsed = parseEvent(text);
  const valueMissing = mode === "profile" && value.trim() === "";

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setTried(true);
    // What the browser knows is wrong is not sent: its message stands by the field.
    if (parsed.event === null || valueMissing) {
      document.getElementById(parsed.event === null ? "preview-event" : "preview-value")?.focus();
      return;
    }
    const chosen = tables?.find((candidate) => `${candidate.database}.${candidate.table}` === table);
    if (!chosen) return;
    const sent = mode === "profile" ? withProfileKey(parsed.event, keys, key, value) : parsed.event;
    setText(pretty(parsed.event));
    requests.current += 1;
    const request = requests.current;
    setBusy(true);
    setError(null);
    try {
      const path = `${segmentPath(segment.id, "personalizations")}/${part(personalization.id ?? "")}:preview`;
      const preview = await call<Preview>("POST", path, { database: chosen.database, table: chosen.table, event: sent });
      if (request !== requests.current) return;
      setResult({ preview, sent: mode === "profile" ? sent : null, version });
    } catch (failure) {
      if (request !== requests.current) return;
      setResult(null);
      setError(messageOf(failure));
    } finally {
      if (request === requests.current) setBusy(false);
    }
  };
  const shown = result !== null && result.version === version ? result : null;
  const loading = tables === null && !loadError;

  return (
    <section class="preview" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview</h2>
      <p class="hint">
        What the public (browser) and the private (server) path would answer for one event with this personalization as saved,
        and why. Nothing is stored and no profile changes.
      </p>
      <FormError message={loadError} />
      {tables && (
        <form class="preview-form" onSubmit={(event) => void submit(event)} noValidate>
          <div class="field">
            <label for="preview-table">Event table</label>
            <select id="preview-table" value={table} onChange={(event) => setTable((event.currentTarget as HTMLSelectElement).value)}>
              {tables.map((candidate) => {
                const id = `${candidate.database}.${candidate.table}`;
                return (
                  <option key={id} value={id}>
                    {id} ({candidate.events.join(", ")})
                  </option>
                );
              })}
            </select>
          </div>
          {tables.length === 0 && <p class="form-error">This parent segment has no event definitions: create one first.</p>}
          <fieldset class="choice">
            <legend>Profile</legend>
            <label>
              <input type="radio" name="preview-mode" checked={mode === "event"} onChange={() => setMode("event")} /> The sample
              event's own identifiers
            </label>
            <label>
              <input type="radio" name="preview-mode" checked={mode === "profile"} onChange={() => setMode("profile")} /> A real
              profile, by key and value
            </label>
          </fieldset>
          {mode === "profile" && (
            <ProfileChoice keys={keys} stitchingKey={key} value={value} onKey={setKey} onValue={setValue} missing={tried && valueMissing} />
          )}
          <EventEditor text={text} problem={parsed.problem} onInput={setText} onPrettify={() => parsed.event && setText(pretty(parsed.event))} />
          <div class="actions preview-actions">
            <button type="submit" disabled={busy || tables.length === 0}>
              {busy ? "Previewing…" : "Preview"}
            </button>
          </div>
        </form>
      )}
      <FormError message={error} />
      {/* One status region, mounted from the start, whose text changes: a live region inserted
          already filled is often not read out. Seen while loading, for screen readers after. */}
      <p role="status" class={loading ? "preview-status" : "visually-hidden"}>
        {loading ? "Loading…" : busy ? "Previewing…" : shown ? `Previewed: ${(shown.preview.sections ?? []).length} sections` : ""}
      </p>
      {shown && <Results preview={shown.preview} sent={shown.sent} />}
    </section>
  );
}

/**
 * The event a real profile is previewed with: the key's value as that field, and no other
 * stitching key's field, so that the server stitches it to the stored profile owning the
 * value alone (as it would a real event carrying only that identifier).
 */
function withProfileKey(event: Record<string, unknown>, keys: StitchingKey[], key: string, value: string): Record<string, unknown> {
  const names = new Set(keys.map((candidate) => candidate.name));
  const kept = Object.entries(event).filter(([field]) => !names.has(field));
  return { ...Object.fromEntries(kept), [key]: value };
}

function ProfileChoice(props: {
  keys: StitchingKey[];
  stitchingKey: string;
  value: string;
  onKey: (key: string) => void;
  onValue: (value: string) => void;
  missing: boolean;
}): JSX.Element {
  return (
    <div class="preview-profile">
      <div class="field-row">
        <div class="field">
          <label for="preview-key">Stitching key</label>
          <select id="preview-key" value={props.stitchingKey} onChange={(event) => props.onKey((event.currentTarget as HTMLSelectElement).value)}>
            {props.keys.map((candidate) => (
              <option key={candidate.name} value={candidate.name}>
                {candidate.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="preview-value">Key value</label>
          <input
            id="preview-value"
            type="text"
            value={props.value}
            aria-invalid={props.missing ? true : undefined}
            aria-describedby={props.missing ? "preview-value-error preview-value-hint" : "preview-value-hint"}
            onInput={(event) => props.onValue((event.currentTarget as HTMLInputElement).value)}
          />
          {props.missing && (
            <p class="field-error" id="preview-value-error" role="alert">
              Enter the value of the key whose profile to preview
            </p>
          )}
        </div>
      </div>
      <p class="hint" id="preview-value-hint">
        The value is put in the sample event as the key's field, and other stitching keys' fields are left out. The server
        stitches that event to the stored profile owning the value, applies the event to it in memory only, and evaluates the
        sections against the result; a value no profile has is previewed as a new visitor.
      </p>
    </div>
  );
}

function EventEditor(props: { text: string; problem: string | null; onInput: (text: string) => void; onPrettify: () => void }): JSX.Element {
  return (
    <div class="field">
      <label for="preview-event">Sample event (JSON)</label>
      <textarea
        id="preview-event"
        class="preview-event"
        rows={8}
        spellcheck={false}
        value={props.text}
        aria-invalid={props.problem ? true : undefined}
        aria-describedby={props.problem ? "preview-event-error" : undefined}
        onInput={(event) => props.onInput((event.currentTarget as HTMLTextAreaElement).value)}
      />
      {props.problem && (
        <p class="field-error" id="preview-event-error" role="alert">
          {props.problem}
        </p>
      )}
      <div class="preview-tools">
        <button type="button" class="secondary" disabled={props.problem !== null} onClick={props.onPrettify}>
          Prettify JSON
        </button>
      </div>
    </div>
  );
}

type PublicOutcome = "shown" | "redacted" | "left-out";
type PrivateOutcome = "shown" | "left-out";

const PUBLIC_OUTCOMES: Record<PublicOutcome, string> = {
  shown: "Shown",
  redacted: "Redacted ({})",
  "left-out": "Left out",
};
const PRIVATE_OUTCOMES: Record<PrivateOutcome, string> = { shown: "Shown", "left-out": "Left out" };

/** What a path answered for a section, read from the answer itself: the `sections` flags say
 * why, not what (redacted_for_public is set whether or not the criteria matched, §4.10). */
function answered(offers: PreviewOffers | undefined, name: string): { attributes?: Record<string, unknown> } | undefined {
  const all = offers?.offers ?? {};
  return Object.prototype.hasOwnProperty.call(all, name) ? all[name] : undefined;
}

function publicOutcomeOf(preview: Preview, section: SectionPreview): PublicOutcome {
  const answer = answered(preview.public_response, section.name);
  if (answer === undefined) return "left-out";
  // `{}` is a redacted section; a section with no payload values would look the same on the
  // wire (an empty map is left out), but only a section referencing something sensitive is redacted.
  return answer.attributes === undefined && section.redacted_for_public ? "redacted" : "shown";
}

function privateOutcomeOf(preview: Preview, name: string): PrivateOutcome {
  return answered(preview.private_response, name) === undefined ? "left-out" : "shown";
}

function reasonOf(section: SectionPreview, publicOutcome: PublicOutcome, privateOutcome: PrivateOutcome): string {
  const named = (section.sensitive_references ?? []).join(", ");
  const privately =
    privateOutcome === "shown" ? "its criteria matched, so the private path answers it in full" : "the private path leaves it out, as its criteria did not match";
  if (publicOutcome === "redacted") {
    return `It references sensitive ${named}: the public path answers it as {} whether or not its criteria match; ${privately}`;
  }
  if (publicOutcome === "shown") {
    return privateOutcome === "shown"
      ? "Its criteria matched and it references nothing sensitive: both paths answer it in full"
      : "The public path answers it in full, the private path leaves it out";
  }
  if (privateOutcome === "shown") return "The public path leaves it out; the private path answers it in full";
  // Not matched: by its criteria, or because the event triggers none of the personalization
  // (the server reports both alike, and says the latter in the warnings).
  return section.redacted_for_public
    ? `Neither path answers it: it did not match (it references sensitive ${named}, so when answered, the public path gives {})`
    : "Neither path answers it: it did not match";
}

function Results({ preview, sent }: { preview: Preview; sent: Record<string, unknown> | null }): JSX.Element {
  const sections = preview.sections ?? [];
  const warnings = preview.warnings ?? [];
  return (
    <div class="preview-results">
      {sent && (
        <section class="preview-sent" aria-labelledby="preview-sent-title">
          <h3 id="preview-sent-title">Event sent</h3>
          <pre tabIndex={0} aria-labelledby="preview-sent-title">
            {pretty(sent)}
          </pre>
        </section>
      )}
      <h3 id="preview-sections-title">Sections</h3>
      <table class="listing" aria-labelledby="preview-sections-title">
        <thead>
          <tr>
            <th scope="col">Section</th>
            <th scope="col">Browser (public)</th>
            <th scope="col">Server (private)</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {sections.map((section) => {
            const publicOutcome = publicOutcomeOf(preview, section);
            const privateOutcome = privateOutcomeOf(preview, section.name);
            return (
              <tr key={section.name}>
                <th scope="row">{section.name}</th>
                <td>
                  <span class={`badge outcome-${publicOutcome}`}>{PUBLIC_OUTCOMES[publicOutcome]}</span>
                </td>
                <td>
                  <span class={`badge outcome-${privateOutcome}`}>{PRIVATE_OUTCOMES[privateOutcome]}</span>
                </td>
                <td>{reasonOf(section, publicOutcome, privateOutcome)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {warnings.length > 0 && (
        <div class="warning" role="region" aria-labelledby="preview-warnings-title">
          <h3 id="preview-warnings-title">Warnings</h3>
          <ul>
            {warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </div>
      )}
      <div class="preview-answers">
        <Answer id="preview-public" title="Public answer" hint="What a browser gets (public token)" offers={preview.public_response} />
        <Answer id="preview-private" title="Private answer" hint="What a server gets (private token)" offers={preview.private_response} />
      </div>
    </div>
  );
}

function Answer(props: { id: string; title: string; hint: string; offers: PreviewOffers | undefined }): JSX.Element {
  return (
    <section class="preview-answer" aria-labelledby={`${props.id}-title`}>
      <h3 id={`${props.id}-title`}>{props.title}</h3>
      <p class="hint">{props.hint}</p>
      {/* Exactly the JSON the path sends, {"offers": ...}, in the server's order. */}
      <pre tabIndex={0} aria-labelledby={`${props.id}-title`}>
        {pretty(props.offers ?? {})}
      </pre>
    </section>
  );
}
