/** One parent segment: its details and the navigation to its sections, and the section shown. */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, part, type ParentSegment as Segment } from "../api";
import { Link } from "../components/link";
import { BASE } from "../router";
import { Events } from "./events";
import { IdStitching } from "./id_stitching";
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

// The sections built so far, by slug; the others show a placeholder.
const PAGES: Partial<Record<string, (props: { segment: Segment }) => JSX.Element>> = {
  services: Services,
  events: Events,
  "id-stitching": IdStitching,
};

export function ParentSegment({ id, section }: { id: string; section: string | null }): JSX.Element {
  const [segment, setSegment] = useState<Segment | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setSegment(null);
    setError(null);
    call<Segment>("GET", `/v1/parent_segments/${part(id)}`).then(setSegment, (failure: unknown) =>
      setError(failure instanceof ApiError ? failure.message : String(failure)),
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
              <Page segment={segment} />
            ) : current ? (
              <p>This section is not in the console yet; the admin API and the p13n CLI configure it today.</p>
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
