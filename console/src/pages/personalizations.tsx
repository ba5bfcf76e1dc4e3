/**
 * A parent segment's personalizations: the list, and (with `item`, a personalization's id or
 * "new") the builder.
 */

import type { JSX } from "preact";
import type { ParentSegment } from "../api";

export function Personalizations({ segment, item }: { segment: ParentSegment; item: string | null }): JSX.Element {
  return (
    <p>
      Personalizations of {segment.name}
      {item ? ` (${item})` : ""}: not in the console yet.
    </p>
  );
}
