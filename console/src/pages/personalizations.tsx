/**
 * A parent segment's personalizations: the list, and (with `item`, a personalization's id or
 * "new") the builder.
 *
 * Placeholder (preview branch): with `item`, only the personalization's name and its preview
 * panel, so the panel can be tested on its route; the builder's page replaces this file.
 */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, messageOf, part, type ParentSegment, segmentPath } from "../api";
import type { Personalization } from "../personalization_api";
import { PreviewPanel } from "./preview_panel";

export function Personalizations({ segment, item }: { segment: ParentSegment; item: string | null }): JSX.Element {
  const [found, setFound] = useState<Personalization | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setFound(null);
    setError(null);
    if (!item || item === "new") return;
    call<Personalization>("GET", `${segmentPath(segment.id, "personalizations")}/${part(item)}`).then(setFound, (failure: unknown) =>
      setError(messageOf(failure)),
    );
  }, [segment.id, item]);
  if (!item || item === "new") {
    return <p>Personalizations of {segment.name}: not in the console yet.</p>;
  }
  return (
    <>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {found && <h2>{found.name}</h2>}
      {found && <PreviewPanel segment={segment} personalization={found} />}
    </>
  );
}
