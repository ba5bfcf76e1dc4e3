/** The confirmation before deleting one thing: says what follows, deletes, and shows the
 * server's refusal as written (a resource still in use says who uses it). */

import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { call, messageOf } from "../api";
import { FormDialog, FormError } from "./dialog";

export function ConfirmDelete(props: {
  id: string;
  /** The question, e.g. "Delete attribute last_path?". */
  title: string;
  /** What deleting it does, in a sentence. */
  consequence: string;
  /** The resource's admin API path. */
  path: string;
  onClose: () => void;
  onDeleted: () => void;
}): JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    try {
      await call("DELETE", props.path);
      props.onDeleted();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormDialog
      id={props.id}
      title={props.title}
      submit="Delete"
      danger
      busy={busy}
      onClose={props.onClose}
      onSubmit={(event) => void submit(event)}
    >
      <FormError message={error} />
      <p>{props.consequence}</p>
    </FormDialog>
  );
}
