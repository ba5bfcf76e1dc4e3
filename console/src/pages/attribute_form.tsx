/**
 * The form creating or editing one attribute, with the fields of its type (docs/design.md
 * §4.4): SINGLE reads one event field; LIST collects aggregations (each a name, a field and
 * a sensitivity) capped by max items and expiring after some days; COUNTER counts events or
 * sums a field over a window; IMPORTED is loaded by import and has no event. What the
 * server's rules certainly refuse (attribute_rules.ts) is said as typed, in the server's
 * words; anything else is the server's message, shown by the field it names.
 */

import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { formFailure } from "../api";
import { Field } from "../components/field";
import { FormDialog, FormError } from "../components/dialog";
import { Select } from "../components/select";
import { type Attribute, type AttributeType, type ListAggregation, type Sensitivity, save } from "../config_api";
import {
  bodyOf,
  NEW_AGGREGATION,
  problemsOf,
  type TextKey,
  UNSPECIFIED,
  type Values,
  valuesOf,
} from "./attribute_rules";

// The server names an aggregation's field by its position: `list.aggregations[1].name`.
const AGGREGATION_FIELD = /^list\.aggregations\[([0-9]+)\]\.(.+)$/;

let lastKey = 0;
function newKey(): number {
  lastKey += 1;
  return lastKey;
}

function aggregationKey(key: number, field: string): string {
  return `aggregation:${key}.${field}`;
}

export const TYPES: readonly { value: AttributeType; label: string }[] = [
  { value: "SINGLE", label: "Single value" },
  { value: "LIST", label: "List" },
  { value: "COUNTER", label: "Counter" },
  { value: "IMPORTED", label: "Imported" },
];

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
  // Each aggregation's own key, which stays when one before it is removed (its position does
  // not): what was touched and what the server said about an aggregation follow it.
  const [keys, setKeys] = useState<number[]>(() => valuesOf(props.given).aggregations.map(() => newKey()));
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  // The server's messages by field; a field's own is dropped as soon as it is edited again.
  const [server, setServer] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const problems = problemsOf(values, shown);
  /** The form's name for a field the server names: an aggregation's by its key, not its position. */
  const own = (field: string): string => {
    const at = AGGREGATION_FIELD.exec(field);
    return at ? aggregationKey(keys[Number(at[1])] ?? -1, at[2] ?? "") : field;
  };
  /** What to say under a field: the server's message, else the form's once it was touched. */
  const message = (field: string): string | undefined => {
    const key = own(field);
    return server[key] ?? (touched[key] ? problems[field] : undefined);
  };
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
  const setAggregation = (index: number, change: Partial<ListAggregation>, field: string): void => {
    setValues((was) => ({ ...was, aggregations: was.aggregations.map((a, i) => (i === index ? { ...a, ...change } : a)) }));
    edited(aggregationKey(keys[index] ?? -1, field));
  };
  const aggregationsChanged = (aggregations: ListAggregation[], changedKeys: number[]): void => {
    setValues((was) => ({ ...was, aggregations }));
    setKeys(changedKeys);
    edited("list.aggregations"); // the server's word about the list as a whole no longer holds
  };

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setTouched(Object.fromEntries(Object.keys(problems).map((field) => [own(field), true])));
    if (Object.values(problems).some((problem) => problem !== undefined)) return;
    setBusy(true);
    setError(null);
    const { body, mask } = bodyOf(values, shown);
    try {
      await save(props.segmentId, "attributes", body, props.given.id, mask);
      props.onSaved();
    } catch (failure) {
      // Only fields the form shows: a message about any other one is the form's.
      const shownFields = [...Object.keys(problems), "type", "counter.sum_field", "list.aggregations"];
      const { fields, message: general } = formFailure(failure, "attribute", shownFields);
      setServer(Object.fromEntries(Object.entries(fields).map(([field, said]) => [own(field), said])));
      setError(general);
    } finally {
      setBusy(false);
    }
  };

  /** A text field of the form: `key` in its values, `serverName` the field the server names. */
  const text = (
    id: string,
    label: string,
    key: "name" | TextKey,
    serverName: string,
    required = true,
    describedBy?: string,
  ): JSX.Element => (
    <Field
      id={id}
      label={label}
      value={values[key]}
      onInput={set(key, serverName)}
      error={message(serverName)}
      required={required}
      describedBy={describedBy}
    />
  );
  const type = values.type;
  const eventOptions = [{ value: "", label: "Choose an event" }, ...props.events.map((name) => ({ value: name, label: name }))];
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
      {text("attribute-name", "Name", "name", "name")}
      <div class="field-row">
        <Select
          id="attribute-type"
          label="Type"
          value={type}
          options={TYPES}
          // UpdateAttribute's mask has no `type`: it is fixed once created.
          disabled={!creating}
          required
          hint={creating ? undefined : "The type of an attribute cannot change: create a new one instead."}
          onChange={(value) => set("type", "type")(value as AttributeType)}
          error={message("type")}
        />
        {type !== "IMPORTED" && (
          <Select
            id="attribute-event"
            label="Event"
            value={values.event}
            options={eventOptions}
            required
            hint={props.events.length === 0 ? "No events yet: create one on the Events page." : undefined}
            onChange={set("event", "event")}
            error={message("event")}
          />
        )}
      </div>
      {type === "IMPORTED" && <p class="hint">Imported values are loaded by import, never changed by events.</p>}
      {type === "SINGLE" && text("attribute-field", "Field", "field", "field")}
      {shown && (type === "SINGLE" || type === "IMPORTED") && (
        <SensitivitySelect
          id="attribute-sensitivity"
          value={values.sensitivity}
          onChange={set("sensitivity", "sensitivity")}
          error={message("sensitivity")}
        />
      )}
      {type === "COUNTER" && (
        <>
          <div class="field-row">
            {text("attribute-window", "Window", "window", "counter.window", true, COUNTER_HINT)}
            {text("attribute-sum-field", "Sum field (optional)", "sumField", "counter.sum_field", false, COUNTER_HINT)}
          </div>
          <p class="hint" id={COUNTER_HINT}>
            Whole hours or days from 1h to 60d (12h, 7d), or total. Without a sum field the events are counted.
          </p>
          <p class="fixed-sensitivity">
            Sensitivity: <strong>Non-Sensitive</strong> <span class="hint">(counters are always non-sensitive)</span>
          </p>
        </>
      )}
      {type === "LIST" && (
        <>
          <div class="field-row">
            {text("attribute-max-items", "Max items", "maxItems", "list.max_items")}
            {text("attribute-expire-days", "Expire days", "expireDays", "list.expire_days")}
          </div>
          <h3>Aggregations</h3>
          <p class="hint">Each collects an event field's values, newest first, under its own name.</p>
          <FormError message={server["list.aggregations"] ?? null} />
          {values.aggregations.map((aggregation, i) => {
            const where = `list.aggregations[${i}]`;
            return (
              <fieldset key={keys[i]} class="filter">
                <legend>Aggregation {i + 1}</legend>
                <div class="field-row">
                  <Field
                    id={`aggregation-${i}-name`}
                    label="Name"
                    value={aggregation.name}
                    onInput={(value) => setAggregation(i, { name: value }, "name")}
                    error={message(`${where}.name`)}
                    required
                  />
                  <Field
                    id={`aggregation-${i}-field`}
                    label="Field"
                    value={aggregation.field}
                    onInput={(value) => setAggregation(i, { field: value }, "field")}
                    error={message(`${where}.field`)}
                    required
                  />
                  {shown && (
                    <SensitivitySelect
                      id={`aggregation-${i}-sensitivity`}
                      value={aggregation.sensitivity ?? UNSPECIFIED}
                      onChange={(value) => setAggregation(i, { sensitivity: value }, "sensitivity")}
                      error={message(`${where}.sensitivity`)}
                    />
                  )}
                </div>
                {values.aggregations.length > 1 && (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() =>
                      aggregationsChanged(
                        values.aggregations.filter((_, j) => j !== i),
                        keys.filter((_, j) => j !== i),
                      )
                    }
                  >
                    Remove aggregation {i + 1}
                  </button>
                )}
              </fieldset>
            );
          })}
          <p>
            <button
              type="button"
              class="secondary"
              onClick={() => aggregationsChanged([...values.aggregations, { ...NEW_AGGREGATION }], [...keys, newKey()])}
            >
              Add aggregation
            </button>
          </p>
        </>
      )}
    </FormDialog>
  );
}

const COUNTER_HINT = "attribute-counter-hint";

const SENSITIVITIES = [
  { value: UNSPECIFIED, label: "Choose" },
  { value: "SENSITIVE", label: "Sensitive" },
  { value: "NON_SENSITIVE", label: "Non-Sensitive" },
];

function SensitivitySelect(props: {
  id: string;
  value: Sensitivity;
  onChange: (value: Sensitivity) => void;
  error: string | undefined;
}): JSX.Element {
  return (
    <Select
      id={props.id}
      label="Sensitivity"
      value={props.value}
      options={SENSITIVITIES}
      required
      onChange={(value) => props.onChange(value as Sensitivity)}
      error={props.error}
    />
  );
}
