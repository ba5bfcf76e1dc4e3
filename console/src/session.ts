/**
 * The signed-in session's token, in sessionStorage: it survives a reload of the tab, and
 * ends with the tab (not shared with other tabs, gone after the browser closes), so a
 * forgotten console does not stay signed in. The token never goes into a URL or a cookie.
 */

const KEY = "p13n.session";

export function sessionToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function keepSession(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetSession(): void {
  sessionStorage.removeItem(KEY);
}
