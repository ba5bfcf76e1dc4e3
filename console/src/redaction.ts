/**
 * The lock: whether browsers (the public path) get a section as `{}`. The same rule as the
 * offers service's (services/offers/redaction.py), so the builder can show it as the section
 * is edited, before saving; the preview's `redacted_for_public` is the server's verdict.
 *
 * Fail closed, as the server does: whatever cannot be shown safe is sensitive.
 * - a SINGLE or IMPORTED attribute, or a segment, that is not NON_SENSITIVE;
 * - a LIST aggregation that is not NON_SENSITIVE itself, or whose LIST is SENSITIVE as a
 *   whole; a LIST named without an aggregation refers to each of its aggregations;
 * - never a COUNTER;
 * - any name the parent segment does not have, and an attribute of a type this console
 *   does not know (the server's catalog treats it as sensitive too).
 */

import type { Attribute, Segment } from "./config_api";
import type { Section } from "./personalization_api";

/** The names a section may refer to, as the builder loaded them. */
export interface Catalog {
  attributes: readonly Attribute[];
  segments: readonly Segment[];
}

export interface Reference {
  kind: "attribute" | "segment";
  name: string;
  aggregation: string | null;
}

/**
 * Every reference anywhere in `node`: each "attribute" and "segment" key, whatever node it
 * is in (as the server walks, so no new kind of node slips past), skipping static values.
 */
export function references(node: unknown): Reference[] {
  const found: Reference[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
      return;
    }
    if (value === null || typeof value !== "object") return;
    const object = value as Record<string, unknown>;
    // The API prints a payload field's unset references as "": they name nothing.
    if ("attribute" in object && object["attribute"] !== "") {
      const aggregation = object["aggregation"];
      found.push({
        kind: "attribute",
        name: String(object["attribute"]),
        aggregation: aggregation === undefined || aggregation === null || aggregation === "" ? null : String(aggregation),
      });
    }
    if ("segment" in object && object["segment"] !== "") found.push({ kind: "segment", name: String(object["segment"]), aggregation: null });
    for (const [key, child] of Object.entries(object)) if (key !== "static") walk(child);
  };
  walk(node);
  return found;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(["SINGLE", "IMPORTED", "LIST", "COUNTER"]);

const safe = (sensitivity: string | undefined): boolean => sensitivity === "NON_SENSITIVE";

/** The sensitive names one reference stands for, written as the server writes them. */
function sensitiveNames(reference: Reference, catalog: Catalog): string[] {
  if (reference.kind === "segment") {
    const segment = catalog.segments.find((each) => each.name === reference.name);
    return segment && safe(segment.sensitivity) ? [] : [`segment:${reference.name}`];
  }
  const attribute = catalog.attributes.find((each) => each.name === reference.name);
  if (attribute === undefined || !KNOWN_TYPES.has(attribute.type)) {
    return [reference.aggregation === null ? reference.name : `${reference.name}/${reference.aggregation}`];
  }
  if (attribute.type === "LIST") {
    const wholly = attribute.sensitivity === "SENSITIVE";
    const aggregations = attribute.list?.aggregations ?? [];
    const named = reference.aggregation === null ? aggregations.map((each) => each.name) : [reference.aggregation];
    return named
      .filter((name) => wholly || !safe(aggregations.find((each) => each.name === name)?.sensitivity))
      .map((name) => `${attribute.name}/${name}`);
  }
  if (attribute.type === "COUNTER") return [];
  return safe(attribute.sensitivity) ? [] : [attribute.name];
}

/** Every sensitive thing `section` refers to, sorted: "tier", "recent/brand", "segment:vip". */
export function sensitiveReferences(section: Section, catalog: Catalog): string[] {
  const names = new Set<string>();
  for (const reference of references([section.criteria, section.payload])) {
    sensitiveNames(reference, catalog).forEach((name) => names.add(name));
  }
  return [...names].sort();
}

/** Why browsers get `{}` for a section with these sensitive references (null: they do not). */
export function redactionReason(sensitive: readonly string[]): string | null {
  if (sensitive.length === 0) return null;
  const verb = sensitive.length === 1 ? "is" : "are";
  return `Browsers get {} for this section: it references ${sensitive.join(", ")}, which ${verb} sensitive, unspecified or unknown.`;
}
