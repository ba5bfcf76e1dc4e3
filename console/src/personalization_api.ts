/**
 * A parent segment's personalizations in the admin API (docs/api.md,
 * PersonalizationConfigService): sections of criteria and payload, and the preview that
 * shows what the public and the private path would answer.
 */

/** A criteria tree: {all: [...]}, {any: [...]}, {not: c}, or a leaf (docs/api.md, Section). */
export type Criteria = Record<string, unknown>;

export interface PayloadField {
  name: string;
  static?: unknown;
  attribute?: string;
  aggregation?: string;
  segment?: string;
}

export interface Section {
  name: string;
  criteria?: Criteria;
  payload?: PayloadField[];
}

export interface Personalization {
  id?: string;
  name: string;
  description?: string;
  trigger_events: string[];
  sections?: Section[];
  warnings?: string[];
  /** Output only: when it was last changed (with the id, names the version saved). */
  update_time?: string;
}

export interface SectionPreview {
  name: string;
  matched?: boolean;
  redacted_for_public?: boolean;
  sensitive_references?: string[];
}

/** One path's answer exactly as it goes over HTTP: {"offers": {section: {attributes}}}. */
export interface PreviewOffers {
  offers?: Record<string, { attributes?: Record<string, unknown> }>;
}

export interface Preview {
  public_response?: PreviewOffers;
  private_response?: PreviewOffers;
  sections?: SectionPreview[];
  warnings?: string[];
}
