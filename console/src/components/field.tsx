/** A labelled form control with the server's (or the form's) message about it beneath. */

import type { JSX } from "preact";

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  error?: string | undefined;
  type?: "text" | "email" | "password";
  required?: boolean;
  autoComplete?: string;
  multiline?: boolean;
  /** The id of an element elsewhere that describes the control (a hint shared by several). */
  describedBy?: string | undefined;
}

export function Field(props: FieldProps): JSX.Element {
  const errorId = `${props.id}-error`;
  const shared = {
    id: props.id,
    name: props.id,
    value: props.value,
    required: props.required ?? false,
    "aria-invalid": props.error ? true : undefined,
    "aria-describedby": [props.error && errorId, props.describedBy].filter(Boolean).join(" ") || undefined,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...shared} rows={3} />
      ) : props.type === "password" ? (
        // One element per type: Preact types each input type's attributes apart.
        <input {...shared} type="password" autoComplete={props.autoComplete} />
      ) : props.type === "email" ? (
        <input {...shared} type="email" autoComplete={props.autoComplete} />
      ) : (
        <input {...shared} type="text" autoComplete={props.autoComplete} />
      )}
      {props.error && (
        <p class="field-error" id={errorId} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}
