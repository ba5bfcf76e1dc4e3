/**
 * Step 3 of the client-side guide: a parent segment's events. Each names the table an event
 * stream is stored in and, optionally, filters (an event field and a regex it must
 * full-match; all must match). Names, database and table names are checked as typed with the
 * server's messages; a regex with what the browser can check (regex.ts), and the server's
 * message whenever it refuses one.
 */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { formFailure, listAll, messageOf, type ParentSegment, segmentPath } from "../api";
import { Field } from "../components/field";
import { FormDialog, FormError } from "../components/dialog";
import { type EventDefinition, type EventFilter, MAX_EVENT_DEFINITIONS, save } from "../config_api";
import { canEdit, useMe } from "../me";
import { regexProblem } from "../regex";
import { nameProblem, tableNameProblem } from "../names";

export function Events({ segment }: { segment: ParentSegment }): JSX.Element {
  const me = useMe();
  const [events, setEvents] = useState<EventDefinition[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<EventDefinition | null>(null);

  const load = (): void => {
    listAll<EventDefinition>(segmentPath(segment.id, "events"), "events").then(setEvents, (failure: unknown) =>
      setError(messageOf(failure)),
    );
  };
  useEffect(load, [segment.id]);

  const editable = canEdit(me);
  return (
    <section aria-labelledby="events-title">
      <div class="page-heading">
        <h2 id="events-title">Events</h2>
        {editable && (
          <button type="button" onClick={() => setEditing({ name: "", database: "", table: "", filters: [] })}>
            Create new event
          </button>
        )}
      </div>
      <p class="hint">
        The browser events personalization reacts to: the table each is stored in, and filters that pick the events
        that count. {events && `${events.length} of ${MAX_EVENT_DEFINITIONS} event definitions.`}
      </p>
      <FormError message={error} />
      {events === null && !error && <p aria-live="polite">Loading…</p>}
      {events?.length === 0 && <p>No events yet.</p>}
      {events && events.length > 0 && (
        <table class="listing">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Table</th>
              <th scope="col">Filters</th>
              {editable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id}>
                <td>{event.name}</td>
                <td>
                  <code>
                    {event.database}.{event.table}
                  </code>
                </td>
                <td>
                  {(event.filters ?? []).length === 0
                    ? "—"
                    : (event.filters ?? []).map((filter, index) => (
                        <div key={index}>
                          <code>{filter.field}</code> matches <code>{filter.regex}</code>
                        </div>
                      ))}
                </td>
                {editable && (
                  <td>
                    <button type="button" class="secondary" aria-label={`Edit ${event.name}`} onClick={() => setEditing(event)}>
                      Edit
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <EventForm
          segmentId={segment.id}
          given={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load();
          }}
        />
      )}
    </section>
  );
}

const FIELDS = ["name", "database", "table"] as const;
type Touched = Partial<Record<string, boolean>>;

function EventForm(props: {
  segmentId: string;
  given: EventDefinition;
  onClose: () => void;
  onSaved: () => void;
}): JSX.Element {
  const creating = props.given.id === undefined;
  const [values, setValues] = useState({
    name: props.given.name,
    database: props.given.database,
    table: props.given.table,
  });
  const [filters, setFilters] = useState<EventFilter[]>(props.given.filters ?? []);
  const [touched, setTouched] = useState<Touched>({});
  // The server's messages by field; a field's own is dropped as soon as it is edited again.
  const [server, setServer] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const edited = (key: string): void => {
    setTouched((was) => ({ ...was, [key]: true }));
    setServer((was) => {
      const rest = { ...was };
      delete rest[key];
      return rest;
    });
  };
  const set = (key: (typeof FIELDS)[number]) => (value: string) => {
    setValues({ ...values, [key]: value });
    edited(key);
  };
  const setFilter = (index: number, change: Partial<EventFilter>, key: string) => {
    setFilters(filters.map((filter, i) => (i === index ? { ...filter, ...change } : filter)));
    edited(key);
  };
  const removeFilter = (index: number): void => {
    setFilters(filters.filter((_, i) => i !== index));
    setServer({}); // the server named filters by position, which just changed
  };

  const local: Record<string, string | null> = {
    name: (touched["name"] && nameProblem(values.name)) || null,
    database: (touched["database"] && tableNameProblem("Database", values.database)) || null,
    table: (touched["table"] && tableNameProblem("Table", values.table)) || null,
  };
  filters.forEach((filter, i) => {
    const field = `filters[${i}].field`;
    local[field] = touched[field] && !filter.field ? "Filter field can't be blank" : null;
    // A regex is checked from its first character: a refused construct is news at once.
    local[`filters[${i}].regex`] = regexProblem(filter.regex);
  });
  const message = (key: string): string | undefined => server[key] ?? local[key] ?? undefined;

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const all: Touched = { name: true, database: true, table: true };
    filters.forEach((_, i) => (all[`filters[${i}].field`] = true));
    setTouched(all);
    // What the server's rules certainly refuse is not sent; a regex the browser doubts is
    // (its RegExp is not RE2: the server decides, and says why).
    const blocking =
      nameProblem(values.name) ??
      tableNameProblem("Database", values.database) ??
      tableNameProblem("Table", values.table) ??
      (filters.some((filter) => !filter.field) ? "blank filter field" : null);
    if (blocking) return;
    setBusy(true);
    setError(null);
    const body: EventDefinition = { ...values, filters };
    try {
      await save(props.segmentId, "events", body, props.given.id, ["name", "database", "table", "filters"]);
      props.onSaved();
    } catch (failure) {
      const names = [...FIELDS, ...filters.flatMap((_, i) => [`filters[${i}].field`, `filters[${i}].regex`])];
      const { fields, message } = formFailure(failure, "event", names);
      setServer(fields);
      setError(message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormDialog
      id="event"
      title={creating ? "Create new event" : `Edit event ${props.given.name}`}
      submit={creating ? "Create" : "Save"}
      busy={busy}
      wide
      onClose={props.onClose}
      onSubmit={(event) => void submit(event)}
    >
      <FormError message={error} />
      <Field id="event-name" label="Name" value={values.name} onInput={set("name")} error={message("name")} required />
      <p class="hint">Personalizations name it in their trigger events, e.g. product_page_view.</p>
      <div class="field-row">
        <Field
          id="event-database"
          label="Database"
          value={values.database}
          onInput={set("database")}
          error={message("database")}
          required
        />
        <Field id="event-table" label="Table" value={values.table} onInput={set("table")} error={message("table")} required />
      </div>
      <h3>Filters</h3>
      <p class="hint">Optional. An event counts only if every filter's field full-matches its regex (RE2 syntax).</p>
      {filters.map((filter, i) => (
        <fieldset key={i} class="filter">
          <legend>Filter {i + 1}</legend>
          <div class="field-row">
            <Field
              id={`filter-${i}-field`}
              label="Field"
              value={filter.field}
              onInput={(value) => setFilter(i, { field: value }, `filters[${i}].field`)}
              error={message(`filters[${i}].field`)}
              required
            />
            <Field
              id={`filter-${i}-regex`}
              label="Regex"
              value={filter.regex}
              onInput={(value) => setFilter(i, { regex: value }, `filters[${i}].regex`)}
              error={message(`filters[${i}].regex`)}
            />
          </div>
          <button type="button" class="secondary" onClick={() => removeFilter(i)}>
            Remove filter {i + 1}
          </button>
        </fieldset>
      ))}
      <p>
        <button type="button" class="secondary" onClick={() => setFilters([...filters, { field: "", regex: "" }])}>
          Add filter
        </button>
      </p>
    </FormDialog>
  );
}
