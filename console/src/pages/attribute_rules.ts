/**
 * An attribute's form values and the server's rules for them (docs/design.md §4.4,
 * services/profile/config_rules.py): what it certainly refuses, in its own words, so the
 * form says it as typed; and the body and update mask sent for each type.
 */

import type { Attribute, AttributeType, ListAggregation, Sensitivity } from "../config_api";
import { nameProblem } from "../names";

// The server's limits and messages (services/profile/config_rules.py, counters.py).
const MAX_ITEMS = 100;
const MAX_EXPIRE_DAYS = 60;
const SENSITIVITY_BLANK = "Sensitivity can't be blank";
const FIELD_BLANK = "Field can't be blank";
const WINDOW = /^([1-9][0-9]{0,3})([hd])$/;
export const UNSPECIFIED: Sensitivity = "SENSITIVITY_UNSPECIFIED";
export const NEW_AGGREGATION: ListAggregation = { name: "", field: "", sensitivity: UNSPECIFIED };

function windowProblem(window: string): string | undefined {
  if (window === "total") return undefined;
  const match = WINDOW.exec(window);
  const hours = match ? Number(match[1]) * (match[2] === "d" ? 24 : 1) : 0;
  if (hours >= 1 && hours <= 60 * 24) return undefined;
  return `Window must be 'total' or from 1h to 60d in whole hours or days, such as '12h' or '7d' (got ${quoted(window)})`;
}

/** A string as the server's message quotes it (Python's repr, for printable text). */
function quoted(value: string): string {
  const escaped = value.replace(/\\/g, "\\\\");
  if (value.includes("'") && !value.includes('"')) return `"${escaped}"`;
  return `'${escaped.replace(/'/g, "\\'")}'`;
}

/** The event is chosen from the parent segment's own; only an unchosen one is certainly refused. */
function eventProblem(event: string): string {
  return `Event ${quoted(event)} is not an event definition of this parent segment`;
}

function sensitivityProblem(sensitivity: Sensitivity | undefined): string | undefined {
  return (sensitivity ?? UNSPECIFIED) === UNSPECIFIED ? SENSITIVITY_BLANK : undefined;
}

function rangeProblem(label: string, value: string, max: number): string | undefined {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return n >= 1 && n <= max ? undefined : `${label} must be from 1 to ${max}`;
}

/** The form's values: text as typed (numbers too, checked before sending). */
export interface Values {
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

/** The values typed as text (the name is one too). */
export type TextKey = "field" | "maxItems" | "expireDays" | "window" | "sumField";

export function valuesOf(given: Attribute): Values {
  return {
    name: given.name,
    type: given.type,
    event: given.event ?? "",
    field: given.field ?? "",
    sensitivity: given.sensitivity ?? UNSPECIFIED,
    maxItems: String(given.list?.max_items ?? 10),
    expireDays: String(given.list?.expire_days ?? 30),
    aggregations: given.list?.aggregations ?? [{ ...NEW_AGGREGATION }],
    window: given.counter?.window ?? "",
    sumField: given.counter?.sum_field ?? "",
  };
}

/** The attribute to send and the update mask that goes with it: only its type's fields. */
export function bodyOf(values: Values, sensitivityShown: boolean): { body: Attribute; mask: string[] } {
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
export function problemsOf(values: Values, sensitivityShown: boolean): Record<string, string | undefined> {
  const found: Record<string, string | undefined> = { name: nameProblem(values.name) };
  const needsSensitivity = sensitivityShown && (values.type === "SINGLE" || values.type === "IMPORTED");
  if (values.type !== "IMPORTED") found["event"] = values.event ? undefined : eventProblem(values.event);
  // The server refuses only an empty field: blanks alone are a field it accepts.
  if (values.type === "SINGLE") found["field"] = values.field ? undefined : FIELD_BLANK;
  if (needsSensitivity) found["sensitivity"] = sensitivityProblem(values.sensitivity);
  if (values.type === "COUNTER") found["counter.window"] = windowProblem(values.window);
  if (values.type === "LIST") {
    found["list.max_items"] = rangeProblem("Max items", values.maxItems, MAX_ITEMS);
    found["list.expire_days"] = rangeProblem("Expire days", values.expireDays, MAX_EXPIRE_DAYS);
    values.aggregations.forEach((a, i) => {
      const where = `list.aggregations[${i}]`;
      found[`${where}.name`] = a.name ? undefined : "Name can't be blank";
      found[`${where}.field`] = a.field ? undefined : FIELD_BLANK;
      if (sensitivityShown) found[`${where}.sensitivity`] = sensitivityProblem(a.sensitivity);
    });
  }
  return found;
}
