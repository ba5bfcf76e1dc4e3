/**
 * The password prompt before a secret is shown (the guide's "SSO/Password prompt"): the
 * server refuses a reveal with "Re-authentication required" when the session's last
 * password entry is older than 10 minutes; the password renews it
 * (POST /v1/sessions:reauthenticate) and the caller retries.
 */

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call, messageOf } from "../api";
import { Field } from "./field";

export const REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED";

export function needsPassword(failure: unknown): boolean {
  return failure instanceof ApiError && failure.reason === REAUTHENTICATION_REQUIRED;
}

export function PasswordPrompt(props: { onConfirmed: () => void; onClose: () => void }): JSX.Element {
  const dialog = useRef<HTMLDialogElement>(null);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await call("POST", "/v1/sessions:reauthenticate", { password });
      setPassword("");
      props.onConfirmed();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby="password-prompt-title" onClose={props.onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <h2 id="password-prompt-title">Confirm your password</h2>
        <p>Showing a secret needs your password when you last entered it more than 10 minutes ago.</p>
        <Field
          id="reauth-password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onInput={setPassword}
          error={error}
          required
        />
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Confirm
          </button>
        </div>
      </form>
    </dialog>
  );
}
