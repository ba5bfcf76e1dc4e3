/**
 * The preview of one saved personalization: a sample event or a real profile in, which
 * sections show, which are redacted and why, and the public and private answers side by side.
 */

import type { JSX } from "preact";
import type { ParentSegment } from "../api";
import type { Personalization } from "../personalization_api";

export function PreviewPanel(props: { segment: ParentSegment; personalization: Personalization }): JSX.Element {
  return <p>Preview of {props.personalization.name}: not in the console yet.</p>;
}
