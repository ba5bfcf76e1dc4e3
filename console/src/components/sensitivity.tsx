/** A sensitivity as the guide writes it, as a badge: "Sensitive", "Non-Sensitive", "x/y Sensitive". */

import type { JSX } from "preact";

/** `summary` is the server's `sensitivity_summary`; an empty one is "Unspecified" (treated as sensitive). */
export function SensitivityBadge({ summary }: { summary: string | undefined }): JSX.Element {
  const text = summary || "Unspecified";
  const shown = text === "Non-Sensitive" || text.startsWith("0/");
  return <span class={shown ? "badge badge-shown" : "badge badge-sensitive"}>{text}</span>;
}
