/** Sign-in with email and password: POST /v1/sessions; the server's message on a refusal. */

import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { call, messageOf } from "../api";
import { Field } from "../components/field";
import { BASE, navigate, safeReturnPath } from "../router";
import { keepSession } from "../session";

export function SignIn({ next }: { next: string | null }): JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await call<{ session_token: string }>("POST", "/v1/sessions", {
        email,
        password,
      });
      keepSession(session.session_token);
      navigate(safeReturnPath(next) ?? `${BASE}/parent-segments`, true);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>Sign in to p13n</h1>
      <form onSubmit={(event) => void submit(event)} aria-describedby={error ? "sign-in-error" : undefined}>
        {error && (
          <p class="form-error" id="sign-in-error" role="alert">
            {error}
          </p>
        )}
        <Field id="email" label="Email" type="email" value={email} onInput={setEmail} required autoComplete="username" />
        <Field
          id="password"
          label="Password"
          type="password"
          value={password}
          onInput={setPassword}
          required
          autoComplete="current-password"
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
