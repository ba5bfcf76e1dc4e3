/** One parent segment: its details and the navigation to its sections, and the section shown. */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, messageOf, part, type ParentSegment as Segment } from "../api";
import { Link } from "../components/link";
import { BASE } from "../router";
import { Attributes } from "./attributes";
import { Events } from "./events";
import { IdStitching } from "./id_stitching";
import { Personalizations } from "./personalizations";
import { Profiles } from "./profiles";
import { Services } from "./services";

// The client-side guide's configuration steps, in its order; each becomes a page.
export const SECTIONS = [
  { slug: "services", title: "Services" },
  { slug: "events", title: "Events" },
  { slug: "attributes", title: "Attributes" },
  { slug: "id-stitching", title: "ID stitching" },
  { slug: "personalizations", title: "Personalizations" },
  { slug: "profiles", title: "Profiles" },
] as const;

// The sections whose pages show one item of theirs at `<section>/<item>` (a personalization's
// builder, `new` for a new one); any other section has no item routes.
const WITH_ITEMS: ReadonlySet<string> = new Set(["personalizations"]);

export function hasItems(section: string): boolean {
  return WITH_ITEMS.has(section);
}

/** A section's page; `item` is the path part after the section's (one item of it), if any. */
type SectionPage = (props: { segment: Segment; item: string | null }) => JSX.Element;

const PAGES: Record<(typeof SECTIONS)[number]["slug"], SectionPage> = {
  services: Services,
  events: Events,
  attributes: Attributes,
  "id-stitching": IdStitching,
  personalizations: Personalizations,
  profiles: Profiles,
};

export function ParentSegment(props: { id: string; section: string | null; item?: string | null }): JSX.Element {
  const { id, section } = props;
  const [segment, setSegment] = useState<Segment | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setSegment(null);
    setError(null);
    call<Segment>("GET", `/v1/parent_segments/${part(id)}`).then(setSegment, (failure: unknown) =>
      setError(messageOf(failure)),
    );
  }, [id]);

  const base = `${BASE}/parent-segments/${encodeURIComponent(id)}`;
  const current = SECTIONS.find((candidate) => candidate.slug === section);
  const Page = current ? PAGES[current.slug] : undefined;
  return (
    <div class="segment">
      <nav aria-label="Parent segment sections" class="sidenav">
        <Link href={`${BASE}/parent-segments`}>All parent segments</Link>
        <ul>
          <li>
            <Link href={base} current={section === null}>
              Overview
            </Link>
          </li>
          {SECTIONS.map(({ slug, title }) => (
            <li key={slug}>
              <Link href={`${base}/${slug}`} current={slug === section}>
                {title}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <section class="segment-body">
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        {segment === null && !error && <p aria-live="polite">Loading…</p>}
        {segment && (
          <>
            <h1>{current ? `${segment.name}: ${current.title}` : segment.name}</h1>
            {Page ? (
              <Page segment={segment} item={hasItems(current?.slug ?? "") ? (props.item ?? null) : null} />
            ) : (
              <dl class="details">
                <dt>Description</dt>
                <dd>{segment.description || "—"}</dd>
                <dt>Primary key</dt>
                <dd>
                  <code>{segment.primary_key}</code>
                </dd>
                <dt>Id</dt>
                <dd>
                  <code>{segment.id}</code>
                </dd>
              </dl>
            )}
          </>
        )}
      </section>
    </div>
  );
}
