/**
 * The console's client-side routes under /console/ (the gateway answers index.html for any
 * of them, so a deep link or a reload lands on the right page). A route is a path; pages
 * read its parts with `match`.
 */

import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

const listeners = new Set<() => void>();

export function currentPath(): string {
  return window.location.pathname + window.location.search;
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((notify) => notify());
}

window.addEventListener("popstate", () => listeners.forEach((notify) => notify()));

/** The current location; re-renders the caller when it changes. */
export function useLocation(): URL {
  const [, setTick] = useState(0);
  useEffect(() => {
    const notify = (): void => setTick((tick) => tick + 1);
    listeners.add(notify);
    return () => listeners.delete(notify);
  }, []);
  return new URL(window.location.href);
}

/** The named parts of `path` if it has the shape of `pattern` (":name" parts), else null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = path.replace(/\/+$/, "").split("/");
  if (want.length !== got.length) return null;
  const parts: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? "";
    if (part.startsWith(":")) {
      if (!value) return null;
      parts[part.slice(1)] = decodeURIComponent(value);
    } else if (part !== value) return null;
  }
  return parts;
}

/** A path inside the console to return to after signing in; anything else is refused, so a
 * crafted sign-in link cannot send a user to another site. */
export function safeReturnPath(value: string | null): string | null {
  if (!value || !value.startsWith(`${BASE}/`) || value.startsWith("//")) return null;
  if (value.startsWith(`${BASE}/sign-in`)) return null;
  return value;
}
