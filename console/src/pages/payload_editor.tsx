/**
 * A section's payload as a form: each field renders one value under its alias, from a
 * static value (JSON text), an attribute (a LIST one renders all its aggregations), one LIST
 * aggregation or a segment's membership (true or false).
 */

import type { JSX } from "preact";
import type { Attribute, Segment } from "../config_api";
import type { PayloadField } from "../personalization_api";
import { aggregationLabel, aggregationOf, aggregationValue, Hidden, listAggregations, parseValue, valueKind, valueText } from "./criteria_editor";

export type Source = "static" | "attribute" | "aggregation" | "segment";

export interface PayloadDraft {
  name: string;
  source: Source;
  /** The static value's text, the attribute's or segment's name, or an aggregationValue. */
  value: string;
}

const SOURCES: Record<Source, string> = {
  static: "Static value",
  attribute: "Attribute",
  aggregation: "List aggregation",
  segment: "Segment",
};

export function toPayloadField(draft: PayloadDraft): PayloadField {
  if (draft.source === "static") return { name: draft.name, static: parseValue(draft.value) };
  if (draft.source === "segment") return { name: draft.name, segment: draft.value };
  if (draft.source === "attribute") return { name: draft.name, attribute: draft.value };
  const [attribute, aggregation] = aggregationOf(draft.value);
  return { name: draft.name, attribute, aggregation };
}

export function fromPayloadField(field: PayloadField): PayloadDraft {
  // The API writes the unset ones as "".
  if (field.segment) return { name: field.name, source: "segment", value: field.segment };
  if (field.aggregation) {
    return { name: field.name, source: "aggregation", value: aggregationValue(field.attribute ?? "", field.aggregation) };
  }
  if (field.attribute) return { name: field.name, source: "attribute", value: field.attribute };
  return { name: field.name, source: "static", value: valueText(field.static ?? null) };
}

/** The names a source offers, with `current` kept when the parent segment no longer has it. */
function choices(source: Source, attributes: readonly Attribute[], segments: readonly Segment[], current: string): string[] {
  const names =
    source === "attribute"
      ? attributes.map((attribute) => attribute.name)
      : source === "aggregation"
        ? listAggregations(attributes)
        : segments.map((segment) => segment.name);
  return current && !names.includes(current) ? [...names, current] : names;
}

export function PayloadFieldEditor(props: {
  field: PayloadDraft;
  index: number;
  idPrefix: string;
  attributes: readonly Attribute[];
  segments: readonly Segment[];
  /** The server's refusal of this field, if any. */
  problem: string | null;
  onChange: (field: PayloadDraft) => void;
  onRemove: () => void;
}): JSX.Element {
  const { field, index } = props;
  const id = `${props.idPrefix}-p${index}`;
  const label = `Field ${index + 1}`;
  const input = (event: Event): string => (event.currentTarget as HTMLInputElement).value;
  const errorId = `${id}-error`;
  const described = props.problem ? errorId : undefined;
  const options = field.source === "static" ? [] : choices(field.source, props.attributes, props.segments, field.value);
  return (
    <fieldset class="payload-field" aria-describedby={described}>
      <legend>{label}</legend>
      {props.problem && (
        <p class="field-error" id={errorId} role="alert">
          {props.problem}
        </p>
      )}
      <div class="field-row">
        <div class="field">
          <label for={`${id}-alias`}><Hidden text={label} />Alias</label>
          <input id={`${id}-alias`} type="text" value={field.name} onInput={(event) => props.onChange({ ...field, name: input(event) })} />
        </div>
        <div class="field">
          <label for={`${id}-source`}><Hidden text={label} />Source</label>
          <select
            id={`${id}-source`}
            value={field.source}
            onChange={(event) => props.onChange({ ...field, source: input(event) as Source, value: "" })}
          >
            {Object.entries(SOURCES).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={`${id}-value`}>
            <Hidden text={label} />
            {SOURCES[field.source]}
          </label>
          {field.source === "static" ? (
            <input
              id={`${id}-value`}
              type="text"
              value={field.value}
              aria-invalid={props.problem ? true : undefined}
              aria-describedby={`value-hint ${id}-kind${described ? ` ${errorId}` : ""}`}
              onInput={(event) => props.onChange({ ...field, value: input(event) })}
            />
          ) : (
            <select
              id={`${id}-value`}
              value={field.value}
              aria-invalid={props.problem ? true : undefined}
              aria-describedby={described}
              onChange={(event) => props.onChange({ ...field, value: input(event) })}>
              <option value="">Choose</option>
              {options.map((name) => (
                <option key={name} value={name}>
                  {field.source === "aggregation" ? aggregationLabel(name) : name}
                </option>
              ))}
            </select>
          )}
          {field.source === "static" && (
            <span class="value-kind" id={`${id}-kind`}>
              sent as {valueKind(parseValue(field.value))}
            </span>
          )}
        </div>
      </div>
      <button type="button" class="secondary" onClick={props.onRemove}>
        Remove {label}
      </button>
    </fieldset>
  );
}
