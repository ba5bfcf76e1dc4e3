/**
 * A parent segment's profiles in the admin API (docs/api.md): one stitched profile looked up
 * by a stitching key's value, and the merge log, newest first, one page at a time.
 */

import { call, part, segmentPath } from "./api";
import type { Sensitivity } from "./config_api";

/** One stitching-key value of a profile. */
export interface Identity {
  key: string;
  value: string;
  first_seen?: string;
}

/** One attribute's current value: a scalar, or for a list `{aggregation: [newest first...]}`. */
export interface AttributeValue {
  name: string;
  value?: unknown;
  sensitivity_summary?: string;
}

export interface SegmentMembership {
  name: string;
  sensitivity?: Sensitivity;
}

export interface Profile {
  canonical_id: string;
  identities?: Identity[];
  attributes?: AttributeValue[];
  segments?: SegmentMembership[];
}

export type MergeOutcome = "MERGE_OUTCOME_UNSPECIFIED" | "MERGED" | "REFUSED";

export interface MergeLogEntry {
  id: string;
  time?: string;
  outcome?: MergeOutcome;
  surviving_profile?: string;
  absorbed_profiles?: string[];
  linking_values?: Identity[];
  reason?: string;
}

export interface MergeLogPage {
  entries?: MergeLogEntry[];
  next_page_token?: string;
}

/**
 * Why a stitching key or value cannot be part of the lookup's path, or null: `.` and `..`
 * are kept as they are by encodeURIComponent, so the browser would normalise
 * `profiles/../x` into another admin endpoint whose reply would be read as a profile; the
 * gateway refuses an encoded `/` in any path (docs/design.md §3.2).
 */
export function unusableInPath(what: string, text: string): string | null {
  if (text === "." || text === "..") return `${what} can't be "${text}"`;
  if (text.includes("/")) return `${what} can't contain "/"`;
  return null;
}

export function getProfile(segmentId: string, key: string, value: string): Promise<Profile> {
  return call<Profile>("GET", `${segmentPath(segmentId, "profiles")}/${part(key)}/${part(value)}`);
}

export const MERGE_LOG_PAGE_SIZE = 50;

/** One page of the merge log; `pageToken` is the previous page's next_page_token ("" first). */
export function listMergeLog(segmentId: string, pageToken: string, pageSize = MERGE_LOG_PAGE_SIZE): Promise<MergeLogPage> {
  const token = pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : "";
  return call<MergeLogPage>("GET", `${segmentPath(segmentId, "merge_log")}?page_size=${pageSize}${token}`);
}
