/**
 * Step 4 of the client-side guide: ID stitching keys. Each names an event field whose values
 * identify a visitor, with an optional regex the values must full-match, exclusions (test or
 * bot values), workflow-only (batch only) and verified (public-path values need a proof).
 * The primary key is the parent segment's own: shown as fixed, never edited or deleted here.
 * The guide's privacy warning stands next to the keys and in the form.
 */

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { formFailure, listAll, messageOf, part, type ParentSegment, segmentPath } from "../api";
import { ConfirmDelete } from "../components/confirm_delete";
import { Field } from "../components/field";
import { FormDialog, FormError } from "../components/dialog";
import { MAX_STITCHING_KEYS, save, type StitchingKey } from "../config_api";
import { canEdit, useMe } from "../me";
import { regexProblem } from "../regex";
import { nameProblem } from "../names";

/** The guide's own words (Step 4, "Privacy and Compliance Caveats"). */
export const PRIVACY_WARNING =
  "ALL identifiers used for client-side stitching should be “non-sensitive”—never include, transmit, or stitch " +
  "on emails, phone numbers, addresses, or any direct/hashed PII from the browser.";

function PrivacyWarning(): JSX.Element {
  return (
    <aside class="warning" aria-label="Privacy warning">
      <strong>Privacy:</strong>
      <blockquote>{PRIVACY_WARNING}</blockquote>
      <p class="hint">From the client-side guide, Step 4: ID stitching.</p>
    </aside>
  );
}

function yesNo(value: boolean | undefined): string {
  return value ? "Yes" : "No";
}

export function IdStitching({ segment }: { segment: ParentSegment }): JSX.Element {
  const me = useMe();
  const [keys, setKeys] = useState<StitchingKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<StitchingKey | null>(null);
  const [deleting, setDeleting] = useState<StitchingKey | null>(null);

  const load = (): void => {
    listAll<StitchingKey>(segmentPath(segment.id, "stitching_keys"), "stitching_keys").then(
      setKeys,
      (failure: unknown) => setError(messageOf(failure)),
    );
  };
  useEffect(load, [segment.id]);

  const editable = canEdit(me);
  const done = (): void => {
    setEditing(null);
    setDeleting(null);
    load();
  };
  return (
    <section aria-labelledby="stitching-title">
      <div class="page-heading">
        <h2 id="stitching-title">ID stitching keys</h2>
        {editable && (
          <button type="button" onClick={() => setEditing({ name: "", regex: "", exclusions: [] })}>
            Add stitching key
          </button>
        )}
      </div>
      <PrivacyWarning />
      <p class="hint">
        Event fields whose values identify a visitor; a profile's id is its oldest primary key value.{" "}
        {keys && `${keys.length} of ${MAX_STITCHING_KEYS} stitching keys.`}
      </p>
      <FormError message={error} />
      {keys === null && !error && <p aria-live="polite">Loading…</p>}
      {keys && (
        <table class="listing">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Regex</th>
              <th scope="col">Exclusions</th>
              <th scope="col">Workflow only</th>
              <th scope="col">Verified</th>
              {editable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => {
              const primary = key.name === segment.primary_key;
              return (
                <tr key={key.id}>
                  <td>
                    <code>{key.name}</code>
                    {primary && <span class="badge">Primary key</span>}
                  </td>
                  <td>{key.regex ? <code>{key.regex}</code> : "Any value"}</td>
                  <td>{(key.exclusions ?? []).length ? (key.exclusions ?? []).join(", ") : "—"}</td>
                  <td>{yesNo(key.workflow_only)}</td>
                  <td>{yesNo(key.verified)}</td>
                  {editable && (
                    <td>
                      {primary ? (
                        <span class="hint">Fixed: the parent segment's primary key</span>
                      ) : (
                        <div class="row-actions">
                          <button type="button" class="secondary" aria-label={`Edit ${key.name}`} onClick={() => setEditing(key)}>
                            Edit
                          </button>
                          <button type="button" class="secondary danger" aria-label={`Delete ${key.name}`} onClick={() => setDeleting(key)}>
                            Delete
                          </button>
                        </div>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && <KeyForm segmentId={segment.id} given={editing} onClose={() => setEditing(null)} onSaved={done} />}
      {deleting && (
        <ConfirmDelete
          id="delete-key"
          title={`Delete stitching key ${deleting.name}?`}
          consequence="Values of this event field will no longer be used to identify visitors."
          path={`${segmentPath(segment.id, "stitching_keys")}/${part(deleting.id ?? "")}`}
          onClose={() => setDeleting(null)}
          onDeleted={done}
        />
      )}
    </section>
  );
}

const FIELDS = ["name", "regex", "exclusions"] as const;

function KeyForm(props: {
  segmentId: string;
  given: StitchingKey;
  onClose: () => void;
  onSaved: () => void;
}): JSX.Element {
  const creating = props.given.id === undefined;
  const [name, setName] = useState(props.given.name);
  const [regex, setRegex] = useState(props.given.regex ?? "");
  const [exclusions, setExclusions] = useState((props.given.exclusions ?? []).join("\n"));
  const [workflowOnly, setWorkflowOnly] = useState(props.given.workflow_only ?? false);
  const [verified, setVerified] = useState(props.given.verified ?? false);
  const [nameTouched, setNameTouched] = useState(false);
  const [server, setServer] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const forget = (key: string): void =>
    setServer((was) => {
      const rest = { ...was };
      delete rest[key];
      return rest;
    });
  const nameMessage = server["name"] ?? (nameTouched ? nameProblem(name) : null) ?? undefined;
  const regexMessage = server["regex"] ?? regexProblem(regex) ?? undefined;

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setNameTouched(true);
    if (creating && nameProblem(name)) return;
    setBusy(true);
    setError(null);
    const body: StitchingKey = {
      name,
      regex,
      exclusions: exclusions
        .split("\n")
        .map((value) => value.trim())
        .filter((value) => value),
      workflow_only: workflowOnly,
      verified,
    };
    try {
      await save(props.segmentId, "stitching_keys", body, props.given.id, ["regex", "exclusions", "workflow_only", "verified"]);
      props.onSaved();
    } catch (failure) {
      const { fields, message } = formFailure(failure, "stitching_key", FIELDS);
      setServer(fields);
      setError(message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormDialog
      id="stitching-key"
      title={creating ? "Add stitching key" : `Edit stitching key ${props.given.name}`}
      submit={creating ? "Add" : "Save"}
      busy={busy}
      wide
      onClose={props.onClose}
      onSubmit={(event) => void submit(event)}
    >
      <PrivacyWarning />
      <FormError message={error} />
      {creating ? (
        <Field
          id="key-name"
          label="Event field (the key's name)"
          value={name}
          onInput={(value) => {
            setName(value);
            setNameTouched(true);
            forget("name");
          }}
          error={nameMessage}
          required
        />
      ) : (
        <p class="hint">The name is fixed once created: events and imports refer to the key by it.</p>
      )}
      <Field
        id="key-regex"
        label="Regex"
        value={regex}
        onInput={(value) => {
          setRegex(value);
          forget("regex");
        }}
        error={regexMessage}
      />
      <p class="hint">Optional: values must full-match it to be used (RE2 syntax). Empty accepts any value.</p>
      <Field
        id="key-exclusions"
        label="Exclusions (one value per line)"
        value={exclusions}
        onInput={(value) => {
          setExclusions(value);
          forget("exclusions");
        }}
        error={server["exclusions"]}
        multiline
      />
      <p class="hint">Values never used for stitching, such as test or bot identifiers.</p>
      <Checkbox
        id="key-workflow-only"
        label="Workflow only"
        hint="Used only by batch workflows; ignored for real-time browser events."
        checked={workflowOnly}
        onChange={setWorkflowOnly}
      />
      <Checkbox
        id="key-verified"
        label="Verified"
        hint="On the public path, a value identifies the visitor only with a valid proof (p13n_proofs) signed by the service's identity secret."
        checked={verified}
        onChange={setVerified}
      />
    </FormDialog>
  );
}

function Checkbox(props: {
  id: string;
  label: string;
  hint: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}): JSX.Element {
  return (
    <div class="checkbox">
      <input
        type="checkbox"
        id={props.id}
        checked={props.checked}
        aria-describedby={`${props.id}-hint`}
        onChange={(event) => props.onChange((event.currentTarget as HTMLInputElement).checked)}
      />
      <label for={props.id}>{props.label}</label>
      <p class="hint" id={`${props.id}-hint`}>
        {props.hint}
      </p>
    </div>
  );
}
