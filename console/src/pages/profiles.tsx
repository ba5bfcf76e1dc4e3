/** A parent segment's profiles: look one up by a key and value; its attributes; the merge log. */

import type { JSX } from "preact";
import type { ParentSegment } from "../api";

export function Profiles({ segment }: { segment: ParentSegment }): JSX.Element {
  return <p>Profiles of {segment.name}: not in the console yet.</p>;
}
