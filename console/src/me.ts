/**
 * Who the signed-in user is (GET /v1/me), read once per session and shared by every page:
 * the role decides what a page offers (a VIEWER gets no create, edit or delete controls),
 * the account's flags which choices exist. The server still decides: a hidden control is a
 * courtesy, not the guard.
 */

import { useEffect, useState } from "preact/hooks";
import { call } from "./api";
import { sessionToken } from "./session";

export interface Me {
  account_id: string;
  email?: string;
  role: "ROLE_UNSPECIFIED" | "VIEWER" | "EDITOR" | "ADMIN" | "OWNER";
  flags?: string[];
}

/** The flag that gates public (browser) services and their tokens. */
export const FLAG_PUBLIC_SERVICES = "eng-lc-realtime-personalization-m2-1";
/** The flag that gates sensitivity: without it no sensitivity is given (all count as sensitive). */
export const FLAG_SENSITIVITY = "eng-lc-realtime-personalization-m2-2";

// Kept per session token: signing in again (maybe as another user) reads it afresh.
let cached: { token: string | null; me: Promise<Me> } | null = null;

export function loadMe(): Promise<Me> {
  const token = sessionToken();
  if (cached === null || cached.token !== token) {
    const me = call<Me>("GET", "/v1/me");
    cached = { token, me };
    // A failed read is not kept: the next page asks again.
    me.catch(() => {
      if (cached?.me === me) cached = null;
    });
  }
  return cached.me;
}

/** The caller, or null while it loads (or if it could not be read). */
export function useMe(): Me | null {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    loadMe().then(setMe, () => setMe(null));
  }, []);
  return me;
}

export function hasFlag(me: Me, flag: string): boolean {
  return (me.flags ?? []).includes(flag);
}

// The roles in the order of what they may do (docs/design.md: roles).
const RANKS: readonly Me["role"][] = ["ROLE_UNSPECIFIED", "VIEWER", "EDITOR", "ADMIN", "OWNER"];

/** Whether `who` has `role` or a higher one. */
export function hasRole(who: Me | null, role: Me["role"]): boolean {
  return who !== null && RANKS.indexOf(who.role) >= RANKS.indexOf(role);
}

/** Whether `who` may change a parent segment's configuration (EDITOR and above). */
export function canEdit(who: Me | null): boolean {
  return hasRole(who, "EDITOR");
}

/** Whether `who` may manage services and their tokens (ADMIN and OWNER); others read them. */
export function canManage(who: Me | null): boolean {
  return hasRole(who, "ADMIN");
}
