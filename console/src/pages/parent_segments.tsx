/** The account's parent segments: a table (name, description, primary key) and a create dialog. */

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { call, formFailure, listParentSegments, messageOf, type ParentSegment } from "../api";
import { Field } from "../components/field";
import { Link } from "../components/link";
import { canEdit, useMe } from "../me";
import { BASE, navigate } from "../router";

export function parentSegmentPath(segment: ParentSegment): string {
  return `${BASE}/parent-segments/${encodeURIComponent(segment.id)}`;
}

export function ParentSegments(): JSX.Element {
  const me = useMe();
  const [segments, setSegments] = useState<ParentSegment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    listParentSegments().then(setSegments, (failure: unknown) =>
      setError(messageOf(failure)),
    );
  }, []);

  return (
    <section>
      <div class="page-heading">
        <h1>Parent segments</h1>
        {/* Creating one needs the EDITOR role or higher: a VIEWER is not offered it. */}
        {canEdit(me) && (
          <button type="button" onClick={() => setCreating(true)}>
            New parent segment
          </button>
        )}
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {segments === null && !error && <p aria-live="polite">Loading…</p>}
      {segments?.length === 0 && <p>No parent segments yet. Create one to start configuring personalization.</p>}
      {segments && segments.length > 0 && (
        <table class="listing">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Primary key</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((segment) => (
              <tr key={segment.id}>
                <td>
                  <Link href={parentSegmentPath(segment)}>{segment.name}</Link>
                </td>
                <td>{segment.description}</td>
                <td>
                  <code>{segment.primary_key}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateParentSegment
          onClose={() => setCreating(false)}
          onCreated={(segment) => navigate(parentSegmentPath(segment))}
        />
      )}
    </section>
  );
}

const FIELDS = ["name", "description", "primary_key"] as const;

function CreateParentSegment(props: {
  onClose: () => void;
  onCreated: (segment: ParentSegment) => void;
}): JSX.Element {
  const dialog = useRef<HTMLDialogElement>(null);
  const [values, setValues] = useState({ name: "", description: "", primary_key: "" });
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A modal <dialog>: the browser keeps focus inside it and closes it on Escape.
  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const set = (key: (typeof FIELDS)[number]) => (value: string) => setValues({ ...values, [key]: value });

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setFields({});
    try {
      props.onCreated(await call<ParentSegment>("POST", "/v1/parent_segments", values));
    } catch (failure) {
      const { fields, message } = formFailure(failure, "parent_segment", FIELDS);
      setFields(fields);
      setError(message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby="create-title" onClose={props.onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <h2 id="create-title">New parent segment</h2>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <Field id="name" label="Name" value={values.name} onInput={set("name")} error={fields["name"]} required />
        <Field
          id="description"
          label="Description"
          value={values.description}
          onInput={set("description")}
          error={fields["description"]}
          multiline
        />
        <Field
          id="primary_key"
          label="Primary key"
          value={values.primary_key}
          onInput={set("primary_key")}
          error={fields["primary_key"]}
          required
        />
        <p class="hint">The stitching key whose oldest value is a profile's canonical id, for example td_client_id.</p>
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Create
          </button>
        </div>
      </form>
    </dialog>
  );
}
