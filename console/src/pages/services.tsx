/**
 * A parent segment's personalization services (the guide's Step 2): the list with each
 * service's token count, a create dialog with the type choice (Public only with flag m2-1)
 * and an edit dialog where the type is shown but cannot change. Tokens open in a side panel.
 */

import type { JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call, messageOf, type ParentSegment, part } from "../api";
import { Field } from "../components/field";
import { canManage, FLAG_PUBLIC_SERVICES, hasFlag, useMe } from "../me";
import { nameProblem } from "../names";
import {
  listServices,
  listTokens,
  type Service,
  type ServiceType,
  servicesPath,
  TOKENS_PER_PARENT_SEGMENT,
  TOKENS_PER_SERVICE,
} from "../services_api";
import { TokensPanel } from "./service_tokens";

const TYPE_LABELS: Record<ServiceType, string> = {
  PUBLIC: "Public (browsers)",
  PRIVATE: "Private (servers)",
};

export function Services({ segment }: { segment: ParentSegment }): JSX.Element {
  const segmentId = segment.id;
  const me = useMe();
  const [services, setServices] = useState<Service[] | null>(null);
  const [tokenCounts, setTokenCounts] = useState<Record<string, number>>({});
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Service | "new" | null>(null);
  const [open, setOpen] = useState<Service | null>(null);

  const load = useCallback(async (): Promise<void> => {
    try {
      const found = await listServices(segmentId);
      const counts = await Promise.all(found.map((service) => listTokens(segmentId, service.id)));
      setTokenCounts(Object.fromEntries(found.map((service, i) => [service.id, counts[i]?.length ?? 0])));
      setServices(found);
      setOpen((current) => found.find((service) => service.id === current?.id) ?? null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [segmentId]);

  useEffect(() => {
    void load();
  }, [load]);

  const used = Object.values(tokenCounts).reduce((sum, count) => sum + count, 0);
  const manage = canManage(me);
  return (
    <div class="services">
      <div class="page-heading">
        <h2>Personalization services</h2>
        {manage && (
          <button type="button" onClick={() => setEditing("new")}>
            New service
          </button>
        )}
      </div>
      {services !== null && (
        // Only once the services (and so their tokens) were read: a refusal counts nothing.
        <p class="limits" id="segment-token-limit">
          Tokens in this parent segment: {used}/{TOKENS_PER_PARENT_SEGMENT}
        </p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {services === null && !error && <p aria-live="polite">Loading…</p>}
      {services?.length === 0 && <p>No services yet. A service is how browsers or servers ask for personalizations.</p>}
      {services && services.length > 0 && (
        <table class="listing">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Description</th>
              <th scope="col">Allowed origins</th>
              <th scope="col">Tokens</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {services.map((service) => (
              <tr key={service.id}>
                <td>{service.name}</td>
                <td>{TYPE_LABELS[service.type]}</td>
                <td>{service.description}</td>
                <td>{(service.allowed_origins ?? []).join(", ") || "—"}</td>
                <td>
                  {tokenCounts[service.id] ?? 0}/{TOKENS_PER_SERVICE}
                </td>
                <td class="row-actions">
                  <button type="button" class="secondary" onClick={() => setOpen(service)}>
                    Tokens<span class="visually-hidden"> of {service.name}</span>
                  </button>
                  {manage && (
                    <button type="button" class="secondary" onClick={() => setEditing(service)}>
                      Edit<span class="visually-hidden"> {service.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && me && (
        <ServiceDialog
          segmentId={segmentId}
          service={editing === "new" ? null : editing}
          publicAllowed={hasFlag(me, FLAG_PUBLIC_SERVICES)}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void load();
          }}
        />
      )}
      {open && (
        <TokensPanel
          segmentId={segmentId}
          service={open}
          manage={manage}
          segmentTokens={used}
          onChanged={() => void load()}
          onClose={() => setOpen(null)}
        />
      )}
    </div>
  );
}

/** One allowed origin per line; blank lines are not origins. */
function originLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/** The server's messages by this form's fields: `allowed_origins[2]` belongs to the origins. */
function serviceFields(error: ApiError): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [field, message] of Object.entries(error.fields)) {
    const name = field.replace(/^service\./, "").replace(/\[\d+\]$/, "");
    if (["name", "description", "type", "allowed_origins"].includes(name)) found[name] ??= message;
  }
  return found;
}

function ServiceDialog(props: {
  segmentId: string;
  /** null: a new service. */
  service: Service | null;
  publicAllowed: boolean;
  onClose: () => void;
  onSaved: () => void;
}): JSX.Element {
  const existing = props.service;
  const dialog = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(existing?.name ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [type, setType] = useState<ServiceType | null>(existing?.type ?? (props.publicAllowed ? null : "PRIVATE"));
  const [origins, setOrigins] = useState((existing?.allowed_origins ?? []).join("\n"));
  const [typed, setTyped] = useState(false);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  // As the user types, the local rule; the server's message stays until the name changes.
  const nameError = fields["name"] ?? (typed ? nameProblem(name) : undefined);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const problem = nameProblem(name);
    if (problem) {
      setTyped(true);
      return;
    }
    setBusy(true);
    setError(null);
    setFields({});
    const body: Record<string, unknown> = { name, description };
    if (type === "PUBLIC") body["allowed_origins"] = originLines(origins);
    try {
      if (existing) {
        const mask = type === "PUBLIC" ? "name,description,allowed_origins" : "name,description";
        await call(
          "PATCH",
          `${servicesPath(props.segmentId)}/${part(existing.id)}?update_mask=${mask}`,
          body,
        );
      } else {
        await call("POST", servicesPath(props.segmentId), { ...body, type: type ?? "SERVICE_TYPE_UNSPECIFIED" });
      }
      props.onSaved();
    } catch (failure) {
      if (failure instanceof ApiError) {
        const known = serviceFields(failure);
        setFields(known);
        if (Object.keys(known).length === 0) setError(failure.message);
      } else setError(String(failure));
    } finally {
      setBusy(false);
    }
  };

  const title = existing ? `Edit service ${existing.name}` : "New personalization service";
  const choices: ServiceType[] = props.publicAllowed || existing?.type === "PUBLIC" ? ["PUBLIC", "PRIVATE"] : ["PRIVATE"];
  return (
    <dialog ref={dialog} aria-labelledby="service-dialog-title" onClose={props.onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <h2 id="service-dialog-title">{title}</h2>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <fieldset class="choice" aria-describedby="service-type-warning">
          <legend>Service type</legend>
          {choices.map((choice) => (
            <label key={choice}>
              <input
                type="radio"
                name="service-type"
                value={choice}
                checked={type === choice}
                disabled={existing !== null}
                required
                onChange={() => setType(choice)}
              />
              {TYPE_LABELS[choice]}
            </label>
          ))}
          <p class="warning" id="service-type-warning">
            {existing
              ? "The type of a service can never change."
              : "Choose carefully: the type can never change after the service is created."}
          </p>
          {fields["type"] && <p class="field-error" role="alert">{fields["type"]}</p>}
        </fieldset>
        <Field
          id="service-name"
          label="Name"
          value={name}
          onInput={(value) => {
            setName(value);
            setTyped(true);
            setFields(({ name: _, ...rest }) => rest);
          }}
          error={nameError}
          required
        />
        <Field
          id="service-description"
          label="Description"
          value={description}
          onInput={(value) => {
            setDescription(value);
            setFields(({ description: _, ...rest }) => rest);
          }}
          error={fields["description"]}
          multiline
        />
        {type === "PUBLIC" && (
          <>
            <Field
              id="service-origins"
              label="Allowed origins (one per line)"
              value={origins}
              onInput={setOrigins}
              error={fields["allowed_origins"]}
              multiline
            />
            <p class="hint">
              Browsers on these origins may call the service: an exact origin such as
              <code> https://shop.example</code> (scheme and port count), or one leading wildcard
              label: <code>https://*.shop.example</code> matches <code>https://m.shop.example</code> but
              neither <code>https://shop.example</code> nor <code>https://a.b.shop.example</code>.
            </p>
          </>
        )}
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            {existing ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
