/**
 * The console: signed out, the sign-in page (remembering where to return); signed in, the
 * page for the current path inside the shell. Adding a page is one line in `page` below.
 */

import type { JSX } from "preact";
import { useEffect } from "preact/hooks";
import { whenSessionLost } from "./api";
import { Shell } from "./components/shell";
import { hasItems, ParentSegment } from "./pages/parent_segment";
import { ParentSegments } from "./pages/parent_segments";
import { SignIn } from "./pages/sign_in";
import { BASE, currentPath, match, navigate, useLocation } from "./router";
import { sessionToken } from "./session";

function signInPath(returnTo: string): string {
  return `${BASE}/sign-in?next=${encodeURIComponent(returnTo)}`;
}

// An expired or revoked session, met by any call: sign in again, then come back here.
whenSessionLost(() => navigate(signInPath(currentPath()), true));

/** The section's own path when `path` names an item of a section that has none (a stale or
 * mistyped link): the section is shown instead, not its page with an ignored item. */
function itemlessSection(path: string): string | null {
  const item = match(`${BASE}/parent-segments/:id/:section/:item`, path);
  if (!item || hasItems(item["section"] ?? "")) return null;
  return `${BASE}/parent-segments/${encodeURIComponent(item["id"] ?? "")}/${encodeURIComponent(item["section"] ?? "")}`;
}

function page(path: string): JSX.Element | null {
  if (match(`${BASE}/parent-segments`, path)) return <ParentSegments />;
  const segment = match(`${BASE}/parent-segments/:id`, path);
  if (segment) return <ParentSegment id={segment["id"] ?? ""} section={null} />;
  const section = match(`${BASE}/parent-segments/:id/:section`, path);
  if (section) return <ParentSegment id={section["id"] ?? ""} section={section["section"] ?? ""} />;
  const item = match(`${BASE}/parent-segments/:id/:section/:item`, path);
  if (item && hasItems(item["section"] ?? ""))
    return <ParentSegment id={item["id"] ?? ""} section={item["section"] ?? ""} item={item["item"] ?? ""} />;
  return null;
}

export function App(): JSX.Element | null {
  const location = useLocation();
  const path = location.pathname;
  const signedIn = sessionToken() !== null;
  const onSignIn = match(`${BASE}/sign-in`, path) !== null;
  const sectionInstead = signedIn && !onSignIn ? itemlessSection(path) : null;
  const found = signedIn && !onSignIn && sectionInstead === null ? page(path) : null;

  // Redirects happen after rendering, never during it.
  useEffect(() => {
    if (!signedIn && !onSignIn) navigate(signInPath(currentPath()), true);
    else if (sectionInstead !== null) navigate(sectionInstead, true);
    else if (signedIn && !onSignIn && found === null) navigate(`${BASE}/parent-segments`, true);
  });

  useEffect(() => {
    document.title = onSignIn ? "Sign in · p13n console" : "p13n console";
  });

  if (onSignIn) return <SignIn next={location.searchParams.get("next")} />;
  return found && <Shell>{found}</Shell>;
}
