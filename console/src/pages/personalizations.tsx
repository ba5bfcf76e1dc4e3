/**
 * Step 5 of the client-side guide: a parent segment's personalizations. Without `item`, the
 * list; with it (a personalization's id, or "new"), the builder.
 */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { listAll, messageOf, type ParentSegment, segmentPath } from "../api";
import { FormError } from "../components/dialog";
import { Link } from "../components/link";
import { canEdit, useMe } from "../me";
import type { Personalization } from "../personalization_api";
import { BASE, navigate } from "../router";
import { PersonalizationBuilder } from "./personalization_builder";
import "./personalizations.css";

export function Personalizations({ segment, item }: { segment: ParentSegment; item: string | null }): JSX.Element {
  return item ? <PersonalizationBuilder segment={segment} item={item} /> : <PersonalizationList segment={segment} />;
}

function PersonalizationList({ segment }: { segment: ParentSegment }): JSX.Element {
  const me = useMe();
  const [found, setFound] = useState<Personalization[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `${BASE}/parent-segments/${encodeURIComponent(segment.id)}/personalizations`;

  useEffect(() => {
    listAll<Personalization>(segmentPath(segment.id, "personalizations"), "personalizations").then(
      setFound,
      (failure: unknown) => setError(messageOf(failure)),
    );
  }, [segment.id]);

  return (
    <section aria-labelledby="personalizations-title">
      <div class="page-heading">
        <h2 id="personalizations-title">Personalizations</h2>
        {canEdit(me) && (
          <button type="button" onClick={() => navigate(`${base}/new`)}>
            Create personalization
          </button>
        )}
      </div>
      <p class="hint">
        What a service answers when a trigger event arrives: sections, each shown when its criteria match, rendering its
        payload.
      </p>
      <FormError message={error} />
      {found === null && !error && <p aria-live="polite">Loading…</p>}
      {found?.length === 0 && <p>No personalizations yet.</p>}
      {found && found.length > 0 && (
        <table class="listing">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Trigger events</th>
              <th scope="col">Sections</th>
            </tr>
          </thead>
          <tbody>
            {found.map((personalization) => (
              <tr key={personalization.id}>
                <td>
                  <Link href={`${base}/${encodeURIComponent(personalization.id ?? "")}`}>{personalization.name}</Link>
                </td>
                <td>{personalization.trigger_events.join(", ")}</td>
                <td>{(personalization.sections ?? []).length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
