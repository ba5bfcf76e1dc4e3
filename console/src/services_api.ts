/** The admin API's personalization services and their tokens (docs/api.md, RegistryService). */

import { listAll, part, segmentPath } from "./api";

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
  return segmentPath(segmentId, "services");
}

export function tokensPath(segmentId: string, serviceId: string): string {
  return `${servicesPath(segmentId)}/${part(serviceId)}/tokens`;
}

export function listServices(segmentId: string): Promise<Service[]> {
  return listAll<Service>(servicesPath(segmentId), "services");
}

export function listTokens(segmentId: string, serviceId: string): Promise<Token[]> {
  return listAll<Token>(tokensPath(segmentId, serviceId), "tokens");
}
