/**
 * A parent segment's real-time configuration in the admin API: event definitions and
 * stitching keys (docs/api.md), listed in full and changed with an update mask.
 */

import { call, part } from "./api";

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

export function segmentPath(segmentId: string, collection: string): string {
  return `/v1/parent_segments/${part(segmentId)}/${collection}`;
}

/** Every item of a listing, following next_page_token. */
export async function listAll<T>(path: string, field: string): Promise<T[]> {
  const all: T[] = [];
  let pageToken = "";
  do {
    const query = pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : "";
    const page = await call<Record<string, unknown>>("GET", `${path}?page_size=1000${query}`);
    all.push(...((page[field] as T[] | undefined) ?? []));
    pageToken = (page["next_page_token"] as string | undefined) ?? "";
  } while (pageToken);
  return all;
}

/** Creates `body` in `collection`, or changes the `mask` fields of the item `id`. */
export function save<T>(segmentId: string, collection: string, body: T, id: string | undefined, mask: string[]): Promise<T> {
  const path = segmentPath(segmentId, collection);
  if (id === undefined) return call<T>("POST", path, body);
  return call<T>("PATCH", `${path}/${part(id)}?update_mask=${encodeURIComponent(mask.join(","))}`, body);
}
