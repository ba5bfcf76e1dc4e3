/** The frame of every signed-in page: the header with sign-out, then the page. */

import type { ComponentChildren, JSX } from "preact";
import { call } from "../api";
import { Link } from "./link";
import { BASE, navigate } from "../router";
import { forgetSession } from "../session";

async function signOut(): Promise<void> {
  try {
    await call("DELETE", "/v1/sessions/current");
  } catch {
    // Signed out either way: an already-ended session is what was asked for.
  }
  forgetSession();
  navigate(`${BASE}/sign-in`);
}

export function Shell({ children }: { children: ComponentChildren }): JSX.Element {
  return (
    <div class="shell">
      <header class="topbar">
        <Link class="brand" href={`${BASE}/parent-segments`}>
          p13n console
        </Link>
        <button type="button" class="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main>{children}</main>
    </div>
  );
}
