/**
 * The form creating or editing one attribute, with the fields of its type (docs/design.md
 * §4.4): SINGLE reads one event field; LIST collects aggregations (each a name, a field and
 * a sensitivity) capped by max items and expiring after some days; COUNTER counts events or
 * sums a field over a window; IMPORTED is loaded by import and has no event. What the
 * server's rules certainly refuse is said as typed, in the server's words; anything else is
 * the server's message, shown by the field it names.
 */

import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, fieldsOf } from "../api";
import { Field } from "../components/field";
import { FormDialog, FormError } from "../components/dialog";
import { type Attribute, type AttributeType, type ListAggregation, type Sensitivity, save } from "../config_api";
import { nameProblem } from "../names";

export const TYPES: readonly { value: AttributeType; label: string }[] = [
  { value: "SINGLE", label: "Single value" },
  { value: "LIST", label: "List" },
  { value: "COUNTER", label: "Counter" },
  { value: "IMPORTED", label: "Imported" },
];

// The server's limits and messages (services/profile/config_rules.py, counters.py).
const MAX_ITEMS = 100;
const MAX_EXPIRE_DAYS = 60;
const SENSITIVITY_BLANK = "Sensitivity can't be blank";
const WINDOW = /^([1-9][0-9]{0,3})([hd])$/;

function windowProblem(window: string): string | undefined {
  if (window === "total") return undefined;
  const match = WINDOW.exec(window);
  const hours = match ? Number(match[1]) * (match[2] === "d" ? 24 : 1) : 0;
  if (hours >= 1 && hours <= 60 * 24) return undefined;
  return `Window must be 'total' or from 1h to 60d in whole hours or days, such as '12h' or '7d' (got '${window}')`;
}

function rangeProblem(label: string, value: string, max: number): string | undefined {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return n >= 1 && n <= max ? undefined : `${label} must be from 1 to ${max}`;
}

/** The form's values: text as typed (numbers too, checked before sending). */
interface Values {
  name: string;
  type: AttributeType;
  event: string;
  field: string;
  sensitivity: Sensitivity;
  maxItems: string;
  expireDays: string;
  aggregations: ListAggregation[];
  window: string;
  sumField: string;
}

function valuesOf(given: Attribute): Values {
  return {
    name: given.name,
    type: given.type,
    event: given.event ?? "",
    field: given.field ?? "",
    sensitivity: given.sensitivity ?? "SENSITIVITY_UNSPECIFIED",
    maxItems: String(given.list?.max_items ?? 10),
    expireDays: String(given.list?.expire_days ?? 30),
    aggregations: given.list?.aggregations ?? [{ name: "", field: "", sensitivity: "SENSITIVITY_UNSPECIFIED" }],
    window: given.counter?.window ?? "",
    sumField: given.counter?.sum_field ?? "",
  };
}

/** The attribute to send and the update mask that goes with it: only its type's fields. */
function bodyOf(values: Values, sensitivityShown: boolean): { body: Attribute; mask: string[] } {
  const sensitivity = sensitivityShown ? { sensitivity: values.sensitivity } : {};
  const base = { name: values.name, type: values.type };
  const withSensitivity = sensitivityShown ? ["sensitivity"] : [];
  switch (values.type) {
    case "SINGLE":
      return {
        body: { ...base, event: values.event, field: values.field, ...sensitivity },
        mask: ["name", "event", "field", ...withSensitivity],
      };
    case "LIST": {
      const aggregations = values.aggregations.map((a) =>
        sensitivityShown ? a : { name: a.name, field: a.field },
      );
      const list = { max_items: Number(values.maxItems), expire_days: Number(values.expireDays), aggregations };
      return { body: { ...base, event: values.event, list }, mask: ["name", "event", "list"] };
    }
    case "COUNTER": {
      const counter = values.sumField ? { window: values.window, sum_field: values.sumField } : { window: values.window };
      return { body: { ...base, event: values.event, counter }, mask: ["name", "event", "counter"] };
    }
    case "IMPORTED":
      return { body: { ...base, ...sensitivity }, mask: ["name", ...withSensitivity] };
  }
}

/**
 * Every problem the server would certainly find, by the name the server gives its field: one
 * key for each field the form shows (undefined when it is fine).
 */
function problemsOf(values: Values, sensitivityShown: boolean): Record<string, string | undefined> {
  const found: Record<string, string | undefined> = { name: nameProblem(values.name) };
  const needsSensitivity = sensitivityShown && (values.type === "SINGLE" || values.type === "IMPORTED");
  if (values.type !== "IMPORTED") found["event"] = values.event ? undefined : "Event can't be blank";
  if (values.type === "SINGLE") found["field"] = values.field.trim() ? undefined : "Field can't be blank";
  if (needsSensitivity) found["sensitivity"] = values.sensitivity === "SENSITIVITY_UNSPECIFIED" ? SENSITIVITY_BLANK : undefined;
  if (values.type === "COUNTER") found["counter.window"] = windowProblem(values.window);
  if (values.type === "LIST") {
    found["list.max_items"] = rangeProblem("Max items", values.maxItems, MAX_ITEMS);
    found["list.expire_days"] = rangeProblem("Expire days", values.expireDays, MAX_EXPIRE_DAYS);
    values.aggregations.forEach((a, i) => {
      const where = `list.aggregations[${i}]`;
      found[`${where}.name`] = a.name ? undefined : "Name can't be blank";
      found[`${where}.field`] = a.field ? undefined : "Field can't be blank";
      if (sensitivityShown)
        found[`${where}.sensitivity`] = (a.sensitivity ?? "SENSITIVITY_UNSPECIFIED") === "SENSITIVITY_UNSPECIFIED" ? SENSITIVITY_BLANK : undefined;
    });
  }
  return found;
}

export function AttributeForm(props: {
  segmentId: string;
  given: Attribute;
  /** The names of the parent segment's event definitions, which an attribute reads. */
  events: string[];
  /** Whether the account has sensitivity (flag m2-2): without it no sensitivity is given. */
  sensitivityShown: boolean;
  onClose: () => void;
  onSaved: () => void;
}): JSX.Element {
  const creating = props.given.id === undefined;
  const shown = props.sensitivityShown;
  const [values, setValues] = useState<Values>(() => valuesOf(props.given));
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  // The server's messages by field; a field's own is dropped as soon as it is edited again.
  const [server, setServer] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const problems = problemsOf(values, shown);
  const message = (key: string): string | undefined => server[key] ?? (touched[key] ? problems[key] : undefined);
  const edited = (key: string): void => {
    setTouched((was) => ({ ...was, [key]: true }));
    setServer((was) => {
      const rest = { ...was };
      delete rest[key];
      return rest;
    });
  };
  const set =
    <K extends keyof Values>(key: K, serverName: string) =>
    (value: Values[K]): void => {
      setValues((was) => ({ ...was, [key]: value }));
      edited(serverName);
    };
  const setAggregation = (index: number, change: Partial<ListAggregation>, key: string): void => {
    setValues((was) => ({ ...was, aggregations: was.aggregations.map((a, i) => (i === index ? { ...a, ...change } : a)) }));
    edited(`list.aggregations[${index}].${key}`);
  };
  const aggregationsChanged = (aggregations: ListAggregation[]): void => {
    setValues((was) => ({ ...was, aggregations }));
    setServer({}); // the server named aggregations by position, which just changed
  };

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setTouched(Object.fromEntries(Object.keys(problems).map((key) => [key, true])));
    if (Object.values(problems).some((problem) => problem !== undefined)) return;
    setBusy(true);
    setError(null);
    const { body, mask } = bodyOf(values, shown);
    try {
      await save(props.segmentId, "attributes", body, props.given.id, mask);
      props.onSaved();
    } catch (failure) {
      if (failure instanceof ApiError) {
        // Only fields the form shows: a message about any other one is the form's.
        const shownFields = [...Object.keys(problems), "type", "counter.sum_field", "list.aggregations"];
        const known = fieldsOf(failure, "attribute", shownFields);
        setServer(known);
        if (Object.keys(known).length === 0) setError(failure.message);
      } else setError(String(failure));
    } finally {
      setBusy(false);
    }
  };

  const type = values.type;
  return (
    <FormDialog
      id="attribute"
      title={creating ? "Create new attribute" : `Edit attribute ${props.given.name}`}
      submit={creating ? "Create" : "Save"}
      busy={busy}
      wide
      onClose={props.onClose}
      onSubmit={(event) => void submit(event)}
    >
      <FormError message={error} />
      <Field id="attribute-name" label="Name" value={values.name} onInput={set("name", "name")} error={message("name")} required />
      <div class="field-row">
        <Select
          id="attribute-type"
          label="Type"
          value={type}
          options={TYPES}
          disabled={!creating}
          hint={creating ? undefined : "The type of an attribute cannot change: create a new one instead."}
          onChange={(value) => set("type", "type")(value as AttributeType)}
          error={message("type")}
        />
        {type !== "IMPORTED" && (
          <Select
            id="attribute-event"
            label="Event"
            value={values.event}
            options={[{ value: "", label: "Choose an event" }, ...props.events.map((name) => ({ value: name, label: name }))]}
            hint={props.events.length === 0 ? "This parent segment has no events yet: create one on the Events page." : undefined}
            onChange={set("event", "event")}
            error={message("event")}
          />
        )}
      </div>
      {type === "IMPORTED" && <p class="hint">Imported values are loaded by import, never changed by events.</p>}
      {type === "SINGLE" && (
        <Field id="attribute-field" label="Field" value={values.field} onInput={set("field", "field")} error={message("field")} required />
      )}
      {shown && (type === "SINGLE" || type === "IMPORTED") && (
        <SensitivitySelect id="attribute-sensitivity" value={values.sensitivity} onChange={set("sensitivity", "sensitivity")} error={message("sensitivity")} />
      )}
      {type === "COUNTER" && (
        <>
          <div class="field-row">
            <Field id="attribute-window" label="Window" value={values.window} onInput={set("window", "counter.window")} error={message("counter.window")} required />
            <Field id="attribute-sum-field" label="Sum field (optional)" value={values.sumField} onInput={set("sumField", "counter.sum_field")} error={message("counter.sum_field")} />
          </div>
          <p class="hint">Whole hours or days from 1h to 60d (12h, 7d), or total. Without a sum field the events are counted.</p>
          <p class="fixed-sensitivity">
            Sensitivity: <strong>Non-Sensitive</strong> <span class="hint">(counters are always non-sensitive)</span>
          </p>
        </>
      )}
      {type === "LIST" && (
        <>
          <div class="field-row">
            <Field id="attribute-max-items" label="Max items" value={values.maxItems} onInput={set("maxItems", "list.max_items")} error={message("list.max_items")} required />
            <Field id="attribute-expire-days" label="Expire days" value={values.expireDays} onInput={set("expireDays", "list.expire_days")} error={message("list.expire_days")} required />
          </div>
          <h3>Aggregations</h3>
          <p class="hint">Each collects an event field's values, newest first, under its own name.</p>
          <FormError message={server["list.aggregations"] ?? null} />
          {values.aggregations.map((aggregation, i) => (
            <fieldset key={i} class="filter">
              <legend>Aggregation {i + 1}</legend>
              <div class="field-row">
                <Field id={`aggregation-${i}-name`} label="Name" value={aggregation.name} onInput={(value) => setAggregation(i, { name: value }, "name")} error={message(`list.aggregations[${i}].name`)} required />
                <Field id={`aggregation-${i}-field`} label="Field" value={aggregation.field} onInput={(value) => setAggregation(i, { field: value }, "field")} error={message(`list.aggregations[${i}].field`)} required />
                {shown && (
                  <SensitivitySelect
                    id={`aggregation-${i}-sensitivity`}
                    value={aggregation.sensitivity ?? "SENSITIVITY_UNSPECIFIED"}
                    onChange={(value) => setAggregation(i, { sensitivity: value }, "sensitivity")}
                    error={message(`list.aggregations[${i}].sensitivity`)}
                  />
                )}
              </div>
              {values.aggregations.length > 1 && (
                <button type="button" class="secondary" onClick={() => aggregationsChanged(values.aggregations.filter((_, j) => j !== i))}>
                  Remove aggregation {i + 1}
                </button>
              )}
            </fieldset>
          ))}
          <p>
            <button
              type="button"
              class="secondary"
              onClick={() => aggregationsChanged([...values.aggregations, { name: "", field: "", sensitivity: "SENSITIVITY_UNSPECIFIED" }])}
            >
              Add aggregation
            </button>
          </p>
        </>
      )}
    </FormDialog>
  );
}

const SENSITIVITIES = [
  { value: "SENSITIVITY_UNSPECIFIED", label: "Choose" },
  { value: "SENSITIVE", label: "Sensitive" },
  { value: "NON_SENSITIVE", label: "Non-Sensitive" },
];

function SensitivitySelect(props: { id: string; value: Sensitivity; onChange: (value: Sensitivity) => void; error: string | undefined }): JSX.Element {
  return (
    <Select
      id={props.id}
      label="Sensitivity"
      value={props.value}
      options={SENSITIVITIES}
      onChange={(value) => props.onChange(value as Sensitivity)}
      error={props.error}
    />
  );
}

/** A labelled select with the (server's or the form's) message about it beneath. */
function Select(props: {
  id: string;
  label: string;
  value: string;
  options: readonly { value: string; label: string }[];
  onChange: (value: string) => void;
  error: string | undefined;
  disabled?: boolean;
  hint?: string | undefined;
}): JSX.Element {
  const described = [props.error ? `${props.id}-error` : "", props.hint ? `${props.id}-hint` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        name={props.id}
        value={props.value}
        disabled={props.disabled ?? false}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(event) => props.onChange((event.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      {props.hint && (
        <p class="hint select-hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}
