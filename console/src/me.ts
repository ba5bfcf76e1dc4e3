/**
 * Who the signed-in user is (GET /v1/me): the role and the account's feature flags decide
 * what a page offers. Read once per session and shared by every page.
 */

import { useEffect, useState } from "preact/hooks";
import { call } from "./api";
import { sessionToken } from "./session";

export interface Me {
  account_id: string;
  email?: string;
  role: string;
  flags?: string[];
}

/** The flag that gates public (browser) services and their tokens. */
export const FLAG_PUBLIC_SERVICES = "eng-lc-realtime-personalization-m2-1";

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

export function hasFlag(me: Me, flag: string): boolean {
  return (me.flags ?? []).includes(flag);
}

/** The caller, or null while it loads (or if it could not be read). */
export function useMe(): Me | null {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    loadMe().then(setMe, () => setMe(null));
  }, []);
  return me;
}
