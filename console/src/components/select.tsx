/** A labelled select with a hint and the server's (or the form's) message about it beneath. */

import type { JSX } from "preact";

export interface SelectOption {
  value: string;
  label: string;
}

export function Select(props: {
  id: string;
  label: string;
  value: string;
  options: readonly SelectOption[];
  onChange: (value: string) => void;
  error?: string | undefined;
  disabled?: boolean;
  required?: boolean;
  hint?: string | undefined;
}): JSX.Element {
  const described = [props.error && `${props.id}-error`, props.hint && `${props.id}-hint`].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        name={props.id}
        value={props.value}
        disabled={props.disabled ?? false}
        // A select always has a value, so `required` would never stop the form: say it instead.
        aria-required={props.required ? true : undefined}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(event) => props.onChange((event.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      {props.hint && (
        <p class="hint select-hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}
