/** A parent segment's attributes (built by the attributes work: list with badges, per-type forms). */

import type { JSX } from "preact";
import type { ParentSegment } from "../api";

export function Attributes({ segment }: { segment: ParentSegment }): JSX.Element {
  return <p>Attributes of {segment.name}: not in the console yet.</p>;
}
