/** A modal dialog (the browser keeps focus inside it and closes it on Escape) holding a form. */

import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function FormDialog(props: {
  id: string;
  title: string;
  onClose: () => void;
  onSubmit: (event: Event) => void;
  children: ComponentChildren;
  /** The submit button's text; the Cancel button closes the dialog. */
  submit: string;
  busy: boolean;
  wide?: boolean;
  /** The submit button destroys something (drawn as such). */
  danger?: boolean;
}): JSX.Element {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby={`${props.id}-title`} onClose={props.onClose} class={props.wide ? "wide" : undefined}>
      <form onSubmit={props.onSubmit} noValidate>
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.children}
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" disabled={props.busy} class={props.danger ? "danger" : undefined}>
            {props.submit}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** The form's message about no field of it (the server's, or a failure to reach it). */
export function FormError({ message }: { message: string | null }): JSX.Element | null {
  return message ? (
    <p class="form-error" role="alert">
      {message}
    </p>
  ) : null;
}
