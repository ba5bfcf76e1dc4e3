/**
 * Who the signed-in user is (GET /v1/me), asked once per session: the role decides what a
 * page offers (a VIEWER gets no create, edit or delete controls), the flags which choices
 * exist. The server still decides: a hidden control is a courtesy, not the guard.
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

let asked: { token: string; answer: Promise<Me> } | null = null;

function me(): Promise<Me> {
  const token = sessionToken() ?? "";
  // A new session (another user, maybe) asks again.
  if (asked === null || asked.token !== token) asked = { token, answer: call<Me>("GET", "/v1/me") };
  return asked.answer;
}

/** The caller, or null until known (or if it could not be asked). */
export function useMe(): Me | null {
  const [found, setFound] = useState<Me | null>(null);
  useEffect(() => {
    me().then(setFound, () => setFound(null));
  }, []);
  return found;
}

/** Whether `who` may change configuration (EDITOR and above). */
export function canEdit(who: Me | null): boolean {
  return who !== null && who.role !== "VIEWER" && who.role !== "ROLE_UNSPECIFIED";
}
