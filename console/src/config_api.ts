/**
 * A parent segment's real-time configuration in the admin API: event definitions and
 * stitching keys (docs/api.md), listed in full and changed with an update mask.
 */

import { call, part, segmentPath } from "./api";

export interface EventFilter {
  field: string;
  regex: string;
}

export interface EventDefinition {
  id?: string;
  name: string;
  database: string;
  table: string;
  filters?: EventFilter[];
}

export interface StitchingKey {
  id?: string;
  name: string;
  regex?: string;
  exclusions?: string[];
  workflow_only?: boolean;
  verified?: boolean;
}

export const MAX_EVENT_DEFINITIONS = 100;
export const MAX_STITCHING_KEYS = 200;

/** Creates `body` in `collection`, or changes the `mask` fields of the item `id`. */
export function save<T>(segmentId: string, collection: string, body: T, id: string | undefined, mask: string[]): Promise<T> {
  const path = segmentPath(segmentId, collection);
  if (id === undefined) return call<T>("POST", path, body);
  return call<T>("PATCH", `${path}/${part(id)}?update_mask=${encodeURIComponent(mask.join(","))}`, body);
}

export type Sensitivity = "SENSITIVITY_UNSPECIFIED" | "SENSITIVE" | "NON_SENSITIVE";
export type AttributeType = "SINGLE" | "LIST" | "COUNTER" | "IMPORTED";

export interface ListAggregation {
  name: string;
  field: string;
  sensitivity?: Sensitivity;
}

export interface Attribute {
  id?: string;
  name: string;
  type: AttributeType;
  event?: string;
  field?: string;
  sensitivity?: Sensitivity;
  list?: { max_items: number; expire_days: number; aggregations: ListAggregation[] };
  counter?: { window: string; sum_field?: string };
  /** As people read it: "Sensitive", "Non-Sensitive", or "x/y Sensitive" for a list. */
  sensitivity_summary?: string;
}

/** A batch segment: its membership is imported; payloads and criteria name it. */
export interface Segment {
  id?: string;
  name: string;
  sensitivity?: Sensitivity;
}

export const MAX_ATTRIBUTES = 200;
