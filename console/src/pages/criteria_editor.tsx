/**
 * A section's criteria tree as a form: groups (all of / any of), negations and tests
 * ("leaves"). A test's subject is an attribute, a LIST aggregation, a segment or an event
 * field, and only the operators the server accepts for that subject are offered
 * (docs/api.md, Section). Values are typed as JSON text where a number, boolean or list is
 * meant; anything that is not JSON is a string.
 */

import type { JSX } from "preact";
import type { Attribute, Segment } from "../config_api";
import type { Criteria } from "../personalization_api";

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
 * "aggregation:LIST/AGGREGATION", "segment:NAME" or "event:" (the field typed beside it).
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
    const slash = name.indexOf("/");
    leaf["attribute"] = name.slice(0, slash);
    leaf["aggregation"] = name.slice(slash + 1);
  } else if (kind === "attribute") leaf["attribute"] = name;
  if (node.op) leaf["op"] = node.op;
  if (node.op && !NO_VALUE.has(node.op)) leaf["value"] = parseValue(node.value);
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
  else if ("aggregation" in criteria) subject = `aggregation:${String(criteria["attribute"])}/${String(criteria["aggregation"])}`;
  else if ("attribute" in criteria) subject = `attribute:${String(criteria["attribute"])}`;
  // {"segment": S} is short for S eq true.
  const shorthand = "segment" in criteria && !("op" in criteria);
  const op = shorthand ? "eq" : String(criteria["op"] ?? "");
  const value = shorthand ? "true" : "value" in criteria ? valueText(criteria["value"]) : "";
  return { type: "test", subject, field, op, value };
}

interface Catalog {
  attributes: readonly Attribute[];
  segments: readonly Segment[];
}

/** The subject choices: attributes, LIST aggregations, segments, an event field; plus `current` if unknown. */
function SubjectOptions({ catalog, current }: { catalog: Catalog; current: string }): JSX.Element {
  const values: string[] = [];
  const plain = catalog.attributes.filter((attribute) => attribute.type !== "LIST");
  const aggregations = catalog.attributes
    .filter((attribute) => attribute.type === "LIST")
    .flatMap((attribute) => (attribute.list?.aggregations ?? []).map((each) => `${attribute.name}/${each.name}`));
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
        {aggregations.map((name) => (
          <option key={name} value={`aggregation:${name}`}>
            {name} (LIST aggregation)
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
      {unknown && <option value={current}>{current.split(":").slice(1).join(":")} (unknown)</option>}
    </>
  );
}

/** The node's position, said by assistive technology with each control's name, not shown. */
export function Hidden({ text }: { text: string }): JSX.Element {
  return <span class="visually-hidden">{text} </span>;
}

const TYPE_LABELS = { all: "All of", any: "Any of", not: "Not", test: "Test" } as const;

/** A node changed to another type, keeping what it can of its content. */
function retyped(node: NodeDraft, type: NodeDraft["type"]): NodeDraft {
  const inner: NodeDraft[] = node.type === "test" ? [node] : node.type === "not" ? [node.child] : node.children;
  if (type === "test") return inner.find((each) => each.type === "test") ?? newTest();
  if (type === "not") return { type, child: inner[0] ?? newTest() };
  return { type, children: inner.length ? inner : [newTest()] };
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
  const problem = props.problemAt(`Condition ${path}`);
  const id = `${props.idPrefix}-c${path.replaceAll(".", "-")}`;
  const label = `Condition ${path}`;
  return (
    <fieldset class="criteria-node">
      <legend>{label}</legend>
      {problem && <p class="field-error">{problem}</p>}
      <div class="field-row">
        <div class="field">
          <label for={`${id}-type`}><Hidden text={label} />Type</label>
          <select
            id={`${id}-type`}
            value={node.type}
            onChange={(event) => onChange(retyped(node, (event.currentTarget as HTMLSelectElement).value as NodeDraft["type"]))}
          >
            {Object.entries(TYPE_LABELS).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </div>
        {node.type === "test" && <TestFields node={node} id={id} label={label} catalog={catalog} onChange={onChange} />}
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
              onRemove={() => onChange({ ...node, children: node.children.filter((_, j) => j !== i) })}
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
          onRemove={() => onChange({ ...node, child: newTest() })}
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
            aria-describedby="value-hint"
            onInput={(event) => onChange({ ...node, value: input(event) })}
          />
        </div>
      )}
    </>
  );
}
