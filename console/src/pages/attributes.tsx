/**
 * Step 4 of the client-side guide: a parent segment's attributes, the real-time values kept
 * per profile, each with its sensitivity as the server sums it up ("Sensitive",
 * "Non-Sensitive", "x/y Sensitive" for a list). Created and edited in attribute_form.tsx;
 * deleted after confirming (the server refuses one a personalization uses, and says which).
 */

import "./attributes.css";
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { listAll, messageOf, part, type ParentSegment, segmentPath } from "../api";
import { ConfirmDelete } from "../components/confirm_delete";
import { FormError } from "../components/dialog";
import { SensitivityBadge } from "../components/sensitivity";
import { type Attribute, type EventDefinition, MAX_ATTRIBUTES } from "../config_api";
import { canEdit, FLAG_SENSITIVITY, hasFlag, useMe } from "../me";
import { AttributeForm, TYPES } from "./attribute_form";

const NEW_ATTRIBUTE: Attribute = { name: "", type: "SINGLE" };

export function Attributes({ segment }: { segment: ParentSegment }): JSX.Element {
  const me = useMe();
  const [attributes, setAttributes] = useState<Attribute[] | null>(null);
  const [events, setEvents] = useState<string[]>([]);
  // Each list's own failure: one list failing does not hide, or get hidden by, the other.
  const [error, setError] = useState<string | null>(null);
  const [eventsError, setEventsError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Attribute | null>(null);
  const [deleting, setDeleting] = useState<Attribute | null>(null);
  // Only the latest load's replies count: an older one (another segment's, or the list as it
  // was before a save) may arrive after it.
  const latest = useRef(0);

  const load = (): void => {
    const mine = ++latest.current;
    const current = (): boolean => mine === latest.current;
    setError(null);
    setEventsError(null);
    listAll<Attribute>(segmentPath(segment.id, "attributes"), "attributes").then(
      (found) => current() && setAttributes(found),
      (failure: unknown) => current() && setError(messageOf(failure)),
    );
    listAll<EventDefinition>(segmentPath(segment.id, "events"), "events").then(
      (found) => current() && setEvents(found.map((event) => event.name)),
      (failure: unknown) => current() && setEventsError(messageOf(failure)),
    );
  };
  useEffect(() => {
    setAttributes(null);
    load();
  }, [segment.id]);
  const done = (): void => {
    setEditing(null);
    setDeleting(null);
    load();
  };

  const editable = canEdit(me);
  return (
    <section aria-labelledby="attributes-title">
      <div class="page-heading">
        <h2 id="attributes-title">Attributes</h2>
        {editable && (
          <button type="button" onClick={() => setEditing(NEW_ATTRIBUTE)}>
            Create new attribute
          </button>
        )}
      </div>
      <p class="hint">
        Values kept per profile from its events (or loaded by import) that criteria test and payloads show.{" "}
        {attributes && `${attributes.length} of ${MAX_ATTRIBUTES} attributes.`}
      </p>
      <FormError message={error} />
      {eventsError && editable && <FormError message={`The events could not be listed: ${eventsError}`} />}
      {attributes === null && !error && <p aria-live="polite">Loading…</p>}
      {attributes?.length === 0 && <p>No attributes yet.</p>}
      {attributes && attributes.length > 0 && (
        <table class="listing attributes-listing">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Event</th>
              <th scope="col">Settings</th>
              <th scope="col">Sensitivity</th>
              {editable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {attributes.map((attribute) => (
              <tr key={attribute.id}>
                <td>{attribute.name}</td>
                <td>{TYPES.find((type) => type.value === attribute.type)?.label ?? attribute.type}</td>
                <td>{attribute.event || "—"}</td>
                <td>
                  <Settings attribute={attribute} />
                </td>
                <td>
                  <SensitivityBadge summary={attribute.sensitivity_summary} />
                </td>
                {editable && (
                  <td>
                    <div class="row-actions">
                      <button
                        type="button"
                        class="secondary"
                        aria-label={`Edit ${attribute.name}`}
                        onClick={() => setEditing(attribute)}
                      >
                        Edit
                      </button>
                      <button
                        type="button"
                        class="secondary danger"
                        aria-label={`Delete ${attribute.name}`}
                        onClick={() => setDeleting(attribute)}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <AttributeForm
          segmentId={segment.id}
          given={editing}
          events={events}
          sensitivityShown={me !== null && hasFlag(me, FLAG_SENSITIVITY)}
          onClose={() => setEditing(null)}
          onSaved={done}
        />
      )}
      {deleting && (
        <ConfirmDelete
          id="delete-attribute"
          title={`Delete attribute ${deleting.name}?`}
          consequence="Its values stop being kept; criteria and payloads can no longer use it."
          path={`${segmentPath(segment.id, "attributes")}/${part(deleting.id ?? "")}`}
          onClose={() => setDeleting(null)}
          onDeleted={done}
        />
      )}
    </section>
  );
}

/** What an attribute keeps, in a few words. */
function Settings({ attribute }: { attribute: Attribute }): JSX.Element {
  switch (attribute.type) {
    case "SINGLE":
      return (
        <>
          Latest <code>{attribute.field}</code>
        </>
      );
    case "LIST": {
      const list = attribute.list;
      return (
        <>
          {(list?.aggregations ?? []).map((aggregation) => (
            <div key={aggregation.name}>
              {aggregation.name}: <code>{aggregation.field}</code>
            </div>
          ))}
          <div class="hint">
            Up to {list?.max_items} items, each kept {list?.expire_days} days
          </div>
        </>
      );
    }
    case "COUNTER": {
      const window = attribute.counter?.window;
      const over = window === "total" ? "in total" : `over ${window}`;
      return attribute.counter?.sum_field ? (
        <>
          Sum of <code>{attribute.counter.sum_field}</code> {over}
        </>
      ) : (
        <>Events {over}</>
      );
    }
    default:
      return <>Loaded by import</>;
  }
}
