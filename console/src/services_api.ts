/** The admin API's personalization services and their tokens (docs/api.md, RegistryService). */

import { call, part } from "./api";

export type ServiceType = "PUBLIC" | "PRIVATE";

export interface Service {
  id: string;
  parent_segment_id: string;
  name: string;
  description?: string;
  type: ServiceType;
  allowed_origins?: string[];
  create_time?: string;
}

export interface Token {
  id: string;
  service_id: string;
  name: string;
  allowed_ips?: string[];
  /** Only in the create and reveal answers. */
  token?: string;
  create_time?: string;
}

/** The design's limits (docs/design.md#tokens); the server enforces them. */
export const TOKENS_PER_SERVICE = 50;
export const TOKENS_PER_PARENT_SEGMENT = 200;

export function servicesPath(segmentId: string): string {
  return `/v1/parent_segments/${part(segmentId)}/services`;
}

export function tokensPath(segmentId: string, serviceId: string): string {
  return `${servicesPath(segmentId)}/${part(serviceId)}/tokens`;
}

async function listAll<T>(path: string, field: string): Promise<T[]> {
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

export function listServices(segmentId: string): Promise<Service[]> {
  return listAll<Service>(servicesPath(segmentId), "services");
}

export function listTokens(segmentId: string, serviceId: string): Promise<Token[]> {
  return listAll<Token>(tokensPath(segmentId, serviceId), "tokens");
}
