/**
 * The admin API, same origin, with the session's bearer token. Every failure becomes an
 * ApiError carrying the server's message and, when the server names the field at fault, that
 * field. A 401 on any call made with a session means it expired or was revoked: the session
 * is forgotten and the listener (the app) sends the user to sign in.
 */

import { forgetSession, sessionToken } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Request field → the server's message about it (google.rpc.BadRequest, ErrorInfo). */
    readonly fields: Record<string, string>,
    /** The ErrorInfo reason (`REAUTHENTICATION_REQUIRED`, `NAME_TAKEN`...), or "". */
    readonly reason = "",
  ) {
    super(message);
  }
}

/** What to tell the user about a failed call: the server's message, or why it was not reached. */
export function messageOf(failure: unknown): string {
  return failure instanceof ApiError ? failure.message : String(failure);
}

let onSessionLost: () => void = () => {};

export function whenSessionLost(listener: () => void): void {
  onSessionLost = listener;
}

interface Detail {
  "@type"?: string;
  reason?: string;
  metadata?: Record<string, string>;
  field_violations?: { field?: string; description?: string }[];
}

function reasonOf(details: Detail[]): string {
  return details.find((detail) => detail.reason)?.reason ?? "";
}

function fieldErrors(message: string, details: Detail[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const detail of details) {
    for (const violation of detail.field_violations ?? []) {
      if (violation.field) fields[violation.field] = violation.description || message;
    }
    const field = detail.metadata?.["field"];
    if (field && !(field in fields)) fields[field] = message;
  }
  return fields;
}

/**
 * 401 answers that are about a password, not the session: a reveal asking for the password
 * again, or a wrong password at that prompt. The session stays; the page asks again.
 */
const PASSWORD_REASONS = new Set(["REAUTHENTICATION_REQUIRED", "BAD_CREDENTIALS"]);

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = sessionToken();
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const init: RequestInit = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok) return data as T;
  const problem = (data ?? {}) as { message?: string; details?: Detail[] };
  const message = problem.message || `${response.status} ${response.statusText}`;
  const details = problem.details ?? [];
  const aboutPassword = details.some((detail) => PASSWORD_REASONS.has(detail.reason ?? ""));
  if (response.status === 401 && token && !aboutPassword) {
    forgetSession();
    onSessionLost();
  }
  throw new ApiError(response.status, message, fieldErrors(message, details), reasonOf(details));
}

/**
 * The server's messages about the fields of a resource sent as the body: it names them as
 * request fields (`parent_segment.name`); a form knows them by the resource's own names.
 */
export function fieldsOf(error: ApiError, resource: string, names: readonly string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [field, message] of Object.entries(error.fields)) {
    const name = field.startsWith(`${resource}.`) ? field.slice(resource.length + 1) : field;
    if (names.includes(name)) found[name] = message;
  }
  return found;
}

/**
 * A failed save as a form shows it: the server's messages about the form's own fields (by
 * the names the form knows them by), and a message for the top of the form when the server
 * named none of them (or was not reached).
 */
export function formFailure(
  failure: unknown,
  resource: string,
  names: readonly string[],
): { fields: Record<string, string>; message: string | null } {
  if (!(failure instanceof ApiError)) return { fields: {}, message: String(failure) };
  const fields = fieldsOf(failure, resource, names);
  return { fields, message: Object.keys(fields).length === 0 ? failure.message : null };
}

/** Path parts are ids and names chosen by users: always escaped. */
export function part(value: string): string {
  return encodeURIComponent(value);
}

export interface ParentSegment {
  id: string;
  name: string;
  description: string;
  primary_key: string;
  reactor_id?: string;
  create_time?: string;
}

/** Every item of a listing (`field` of each page), following next_page_token. */
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

/** A collection of one parent segment (`services`, `events`, `stitching_keys`...). */
export function segmentPath(segmentId: string, collection: string): string {
  return `/v1/parent_segments/${part(segmentId)}/${collection}`;
}

export function listParentSegments(): Promise<ParentSegment[]> {
  return listAll<ParentSegment>("/v1/parent_segments", "parent_segments");
}
