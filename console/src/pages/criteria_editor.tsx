/**
 * A section's criteria tree as a form: groups (all of / any of), negations and tests
 * ("leaves"). A test's subject is an attribute, a LIST aggregation, a segment or an event
 * field, and only the operators the server accepts for that subject are offered
 * (docs/api.md, Section). Values are typed as JSON text where a number, boolean or list is
 * meant; anything that is not JSON is a string, and so is every starts_with or regex value
 * (sent as typed). What a value will be sent as is shown beside it.
 */

import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Attribute } from "../config_api";
import type { Criteria } from "../personalization_api";
import type { Catalog } from "../redaction";

export type NodeDraft =
  | { type: "all" | "any"; children: NodeDraft[] }
  | { type: "not"; child: NodeDraft }
  | { type: "test"; subject: string; field: string; op: string; value: string };

const ALL_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "contains",
  "exists",
  "not_exists",
  "starts_with",
  "regex",
] as const;
const OPS_FOR: Record<SubjectKind, readonly string[]> = {
  value: ALL_OPS,
  counter: ["eq", "neq", "gt", "gte", "lt", "lte", "in"],
  list: ["in", "contains", "exists", "not_exists"],
  segment: ["eq", "neq"],
};
const NO_VALUE = new Set(["exists", "not_exists"]);

type SubjectKind = "value" | "counter" | "list" | "segment";

/**
 * A subject is kept as one string, the select's value: "attribute:NAME",
 * "aggregation:" + aggregationValue(LIST, AGGREGATION), "segment:NAME" or "event:" (the field
 * typed beside it).
 */
export function subjectKind(subject: string, attributes: readonly Attribute[]): SubjectKind | null {
  if (subject.startsWith("event:")) return "value";
  if (subject.startsWith("segment:")) return "segment";
  if (subject.startsWith("aggregation:")) return "list";
  if (subject.startsWith("attribute:")) {
    const attribute = attributes.find((each) => each.name === subject.slice("attribute:".length));
    return attribute?.type === "COUNTER" ? "counter" : "value";
  }
  return null;
}

/** The operators the server takes for `subject` (none until a subject is chosen). */
export function opsFor(subject: string, attributes: readonly Attribute[]): readonly string[] {
  const kind = subjectKind(subject, attributes);
  return kind === null ? [] : OPS_FOR[kind];
}

/**
 * One LIST aggregation as a select's value. Names may hold any character ("a/b" is a valid
 * attribute name), so the pair is written as JSON rather than joined by a separator.
 */
export function aggregationValue(attribute: string, aggregation: string): string {
  return JSON.stringify([attribute, aggregation]);
}

/** The [attribute, aggregation] of an aggregationValue (["", ""] for anything else). */
export function aggregationOf(value: string): [string, string] {
  try {
    const pair = JSON.parse(value) as unknown;
    if (Array.isArray(pair) && pair.length === 2) return [String(pair[0]), String(pair[1])];
  } catch {
    // Not a pair: nothing chosen.
  }
  return ["", ""];
}

/** How people read an aggregation: "LIST/AGGREGATION". */
export function aggregationLabel(value: string): string {
  const [attribute, aggregation] = aggregationOf(value);
  return `${attribute}/${aggregation}`;
}

/** Every LIST aggregation of the catalog, as select values, for criteria and payload alike. */
export function listAggregations(attributes: readonly Attribute[]): string[] {
  return attributes
    .filter((attribute) => attribute.type === "LIST")
    .flatMap((attribute) => (attribute.list?.aggregations ?? []).map((each) => aggregationValue(attribute.name, each.name)));
}

/** Operators whose value is a pattern or a prefix: always a string, sent as typed. */
const TEXT_OPS = new Set(["starts_with", "regex"]);

/** A value as typed: JSON when it parses (42, true, ["a", "b"], "quoted"), else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A value as the user types it back: a string that would not parse as JSON stays bare. */
export function valueText(value: unknown): string {
  if (typeof value === "string") {
    try {
      JSON.parse(value);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}

/** The value a test sends: its text as typed for a string-only operator, else parsed. */
export function testValue(op: string, text: string): unknown {
  return TEXT_OPS.has(op) ? text : parseValue(text);
}

/** What a typed value will be sent as, said beside the input so `eq 12345` reads as a number. */
export function valueKind(value: unknown): string {
  if (typeof value === "boolean") return "true/false";
  if (Array.isArray(value)) return "list";
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  return typeof value;
}

export function newTest(): NodeDraft {
  return { type: "test", subject: "", field: "", op: "", value: "" };
}

/** The criteria JSON of a draft tree. */
export function toCriteria(node: NodeDraft): Criteria {
  if (node.type === "not") return { not: toCriteria(node.child) };
  if (node.type !== "test") return { [node.type]: node.children.map(toCriteria) };
  const leaf: Criteria = {};
  const [kind, ...rest] = node.subject.split(":");
  const name = rest.join(":");
  if (kind === "event") leaf["event"] = node.field;
  else if (kind === "segment") leaf["segment"] = name;
  else if (kind === "aggregation") {
    [leaf["attribute"], leaf["aggregation"]] = aggregationOf(name);
  } else if (kind === "attribute") leaf["attribute"] = name;
  if (node.op) leaf["op"] = node.op;
  if (node.op && !NO_VALUE.has(node.op)) leaf["value"] = testValue(node.op, node.value);
  return leaf;
}

/** The draft of a criteria tree read from the API. */
export function fromCriteria(criteria: Criteria): NodeDraft {
  for (const type of ["all", "any"] as const) {
    if (type in criteria) return { type, children: ((criteria[type] as Criteria[]) ?? []).map(fromCriteria) };
  }
  if ("not" in criteria) return { type: "not", child: fromCriteria(criteria["not"] as Criteria) };
  let subject = "";
  let field = "";
  if ("event" in criteria) {
    subject = "event:";
    field = String(criteria["event"]);
  } else if ("segment" in criteria) subject = `segment:${String(criteria["segment"])}`;
  else if ("aggregation" in criteria) subject = `aggregation:${aggregationValue(String(criteria["attribute"]), String(criteria["aggregation"]))}`;
  else if ("attribute" in criteria) subject = `attribute:${String(criteria["attribute"])}`;
  // {"segment": S} is short for S eq true.
  const shorthand = "segment" in criteria && !("op" in criteria);
  const op = shorthand ? "eq" : String(criteria["op"] ?? "");
  const given = criteria["value"];
  // A pattern or prefix is shown as the text it is, quotes or not.
  const text = TEXT_OPS.has(op) && typeof given === "string" ? given : valueText(given);
  const value = shorthand ? "true" : "value" in criteria ? text : "";
  return { type: "test", subject, field, op, value };
}

/** A subject's name as people read it. */
function subjectName(subject: string): string {
  const name = subject.split(":").slice(1).join(":");
  return subject.startsWith("aggregation:") ? aggregationLabel(name) : name;
}

/** The subject choices: attributes, LIST aggregations, segments, an event field; plus `current` if unknown. */
function SubjectOptions({ catalog, current }: { catalog: Catalog; current: string }): JSX.Element {
  const values: string[] = [];
  const plain = catalog.attributes.filter((attribute) => attribute.type !== "LIST");
  const aggregations = listAggregations(catalog.attributes);
  plain.forEach((attribute) => values.push(`attribute:${attribute.name}`));
  aggregations.forEach((name) => values.push(`aggregation:${name}`));
  catalog.segments.forEach((segment) => values.push(`segment:${segment.name}`));
  const unknown = current && !current.startsWith("event:") && !values.includes(current);
  return (
    <>
      <option value="">Choose a subject</option>
      <optgroup label="Attributes">
        {plain.map((attribute) => (
          <option key={attribute.name} value={`attribute:${attribute.name}`}>
            {attribute.name} ({attribute.type})
          </option>
        ))}
      </optgroup>
      <optgroup label="LIST aggregations">
        {aggregations.map((value) => (
          <option key={value} value={`aggregation:${value}`}>
            {aggregationLabel(value)} (LIST aggregation)
          </option>
        ))}
      </optgroup>
      <optgroup label="Segments">
        {catalog.segments.map((segment) => (
          <option key={segment.name} value={`segment:${segment.name}`}>
            {segment.name} (segment)
          </option>
        ))}
      </optgroup>
      <option value="event:">Event field (type its name)</option>
      {unknown && <option value={current}>{subjectName(current)} (unknown)</option>}
    </>
  );
}

/** The node's position, said by assistive technology with each control's name, not shown. */
export function Hidden({ text }: { text: string }): JSX.Element {
  return <span class="visually-hidden">{text} </span>;
}

const TYPE_LABELS = { all: "All of", any: "Any of", not: "Not", test: "Test" } as const;

/**
 * A node changed to another type, losing no condition: all and any keep their children, Not
 * wraps the whole node, a Test takes the one test a node holds. A group of more than one
 * condition cannot become a Test: the reason (a string) is returned instead. Arrow keys on a
 * closed select change its value in Chromium, so no step may drop anything silently.
 */
export function retyped(node: NodeDraft, type: NodeDraft["type"], label: string): NodeDraft | string {
  if (type === node.type) return node;
  if (type === "not") return { type, child: node };
  if (type === "all" || type === "any") {
    if (node.type === "all" || node.type === "any") return { type, children: node.children };
    // Out of a Not: its group's children (the negation is what is being changed), or its test.
    if (node.type === "not") {
      const child = node.child;
      return { type, children: child.type === "all" || child.type === "any" ? child.children : [child] };
    }
    return { type, children: [node] };
  }
  if (node.type === "test") return node;
  // The one condition inside is at `${label}.1`: a refusal names the node that holds many.
  if (node.type === "not") return retyped(node.child, "test", `${label}.1`);
  if (node.children.length === 0) return newTest();
  const [only] = node.children;
  if (node.children.length === 1 && only) return retyped(only, "test", `${label}.1`);
  return `${label} holds ${node.children.length} conditions: remove all but one before making it a Test.`;
}

export function CriteriaNode(props: {
  node: NodeDraft;
  /** Its position, "1", "1.2", ...: part of each label, so every control is named apart. */
  path: string;
  idPrefix: string;
  catalog: Catalog;
  /** The server's refusal of the node at a position, if it is this one's. */
  problemAt: (place: string) => string | null;
  onChange: (node: NodeDraft) => void;
  onRemove: () => void;
}): JSX.Element {
  const { node, path, catalog, onChange } = props;
  const [refusedType, setRefusedType] = useState<string | null>(null);
  const problem = props.problemAt(`Condition ${path}`);
  const id = `${props.idPrefix}-c${path.replaceAll(".", "-")}`;
  const label = `Condition ${path}`;
  const errorId = `${id}-error`;
  const typeErrorId = `${id}-type-error`;
  const changeType = (select: HTMLSelectElement): void => {
    const next = retyped(node, select.value as NodeDraft["type"], label);
    if (typeof next === "string") {
      // Refused: the select goes back to what the node still is.
      select.value = node.type;
      setRefusedType(next);
      return;
    }
    setRefusedType(null);
    onChange(next);
  };
  // Removing a group's or a Not's last condition removes the group: never an empty {"all": []}.
  const removeChild = (i: number): void => {
    if (node.type === "not" || ((node.type === "all" || node.type === "any") && node.children.length === 1)) {
      props.onRemove();
      return;
    }
    if (node.type === "all" || node.type === "any") onChange({ ...node, children: node.children.filter((_, j) => j !== i) });
  };
  return (
    <fieldset class="criteria-node" aria-describedby={problem ? errorId : undefined}>
      <legend>{label}</legend>
      {problem && (
        <p class="field-error" id={errorId} role="alert">
          {problem}
        </p>
      )}
      <div class="field-row">
        <div class="field">
          <label for={`${id}-type`}><Hidden text={label} />Type</label>
          <select
            id={`${id}-type`}
            value={node.type}
            aria-invalid={refusedType ? true : undefined}
            aria-describedby={refusedType ? typeErrorId : undefined}
            onChange={(event) => changeType(event.currentTarget as HTMLSelectElement)}
          >
            {Object.entries(TYPE_LABELS).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
          {refusedType && (
            <p class="field-error" id={typeErrorId} role="alert">
              {refusedType}
            </p>
          )}
        </div>
        {node.type === "test" && (
          <TestFields node={node} id={id} label={label} catalog={catalog} invalid={problem !== null} onChange={onChange} />
        )}
      </div>
      {(node.type === "all" || node.type === "any") && (
        <>
          {node.children.map((child, i) => (
            <CriteriaNode
              key={i}
              node={child}
              path={`${path}.${i + 1}`}
              idPrefix={props.idPrefix}
              catalog={catalog}
              problemAt={props.problemAt}
              onChange={(changed) => onChange({ ...node, children: node.children.map((each, j) => (j === i ? changed : each)) })}
              onRemove={() => removeChild(i)}
            />
          ))}
          <button type="button" class="secondary" onClick={() => onChange({ ...node, children: [...node.children, newTest()] })}>
            Add condition to {label}
          </button>{" "}
        </>
      )}
      {node.type === "not" && (
        <CriteriaNode
          node={node.child}
          path={`${path}.1`}
          idPrefix={props.idPrefix}
          catalog={catalog}
          problemAt={props.problemAt}
          onChange={(changed) => onChange({ ...node, child: changed })}
          onRemove={() => removeChild(0)}
        />
      )}
      <button type="button" class="secondary" onClick={props.onRemove}>
        Remove {label}
      </button>
    </fieldset>
  );
}

function TestFields(props: {
  node: Extract<NodeDraft, { type: "test" }>;
  id: string;
  label: string;
  catalog: Catalog;
  /** The server refused this test: its value is marked invalid. */
  invalid: boolean;
  onChange: (node: NodeDraft) => void;
}): JSX.Element {
  const { node, id, label, catalog, onChange } = props;
  const ops = opsFor(node.subject, catalog.attributes);
  const setSubject = (subject: string): void => {
    const allowed = opsFor(subject, catalog.attributes);
    // A segment test is nearly always "is a member": start it as eq true.
    const value = node.value === "" && subjectKind(subject, catalog.attributes) === "segment" ? "true" : node.value;
    onChange({ ...node, subject, value, op: allowed.includes(node.op) ? node.op : (allowed[0] ?? "") });
  };
  const input = (event: Event): string => (event.currentTarget as HTMLInputElement).value;
  return (
    <>
      <div class="field">
        <label for={`${id}-subject`}><Hidden text={label} />Subject</label>
        <select id={`${id}-subject`} value={node.subject} onChange={(event) => setSubject(input(event))}>
          <SubjectOptions catalog={catalog} current={node.subject} />
        </select>
      </div>
      {node.subject === "event:" && (
        <div class="field">
          <label for={`${id}-field`}><Hidden text={label} />Event field</label>
          <input id={`${id}-field`} type="text" value={node.field} onInput={(event) => onChange({ ...node, field: input(event) })} />
        </div>
      )}
      <div class="field">
        <label for={`${id}-op`}><Hidden text={label} />Operator</label>
        <select id={`${id}-op`} value={node.op} onChange={(event) => onChange({ ...node, op: input(event) })}>
          {ops.length === 0 && <option value="">Choose a subject first</option>}
          {ops.map((op) => (
            <option key={op} value={op}>
              {op}
            </option>
          ))}
        </select>
      </div>
      {!NO_VALUE.has(node.op) && (
        <div class="field">
          <label for={`${id}-value`}><Hidden text={label} />Value</label>
          <input
            id={`${id}-value`}
            type="text"
            value={node.value}
            aria-invalid={props.invalid ? true : undefined}
            aria-describedby={`value-hint ${id}-kind${props.invalid ? ` ${id}-error` : ""}`}
            onInput={(event) => onChange({ ...node, value: input(event) })}
          />
          <span class="value-kind" id={`${id}-kind`}>
            sent as {valueKind(testValue(node.op, node.value))}
          </span>
        </div>
      )}
    </>
  );
}
