/**
 * The tokens side panel of one service: the list (never the secrets), add (allowed IPs only
 * for a private service), delete after confirming, reveal after the password prompt when the
 * server asks for it, and copy. The limits show as used/50 for the service and used/200 for
 * the parent segment.
 */

import type { JSX } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, call, messageOf, part } from "../api";
import { ConfirmDelete } from "../components/confirm_delete";
import { Field } from "../components/field";
import { needsPassword, PasswordPrompt } from "../components/password_prompt";
import { nameProblem } from "../names";
import {
  listTokens,
  type Service,
  type Token,
  tokensPath,
  TOKENS_PER_PARENT_SEGMENT,
  TOKENS_PER_SERVICE,
} from "../services_api";

function ipLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

export function TokensPanel(props: {
  segmentId: string;
  service: Service;
  manage: boolean;
  /** Tokens of every service of the parent segment. */
  segmentTokens: number;
  onChanged: () => void;
  onClose: () => void;
}): JSX.Element {
  const { service } = props;
  const base = tokensPath(props.segmentId, service.id);
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Secrets shown in this panel: the one just created, and those revealed.
  const [shown, setShown] = useState<Record<string, string>>({});
  const [copied, setCopied] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Token | null>(null);
  const [askingPassword, setAskingPassword] = useState<Token | null>(null);

  const load = useCallback(async (): Promise<void> => {
    try {
      setTokens(await listTokens(props.segmentId, service.id));
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [base]);

  useEffect(() => {
    setShown({});
    void load();
  }, [load]);

  const reveal = async (token: Token): Promise<void> => {
    setError(null);
    try {
      const revealed = await call<Token>("POST", `${base}/${part(token.id)}:reveal`, {});
      setShown((current) => ({ ...current, [token.id]: revealed.token ?? "" }));
    } catch (failure) {
      if (needsPassword(failure)) setAskingPassword(token);
      else setError(messageOf(failure));
    }
  };

  const copy = async (token: Token): Promise<void> => {
    const secret = shown[token.id];
    if (!secret) return;
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(token.id);
    } catch {
      setError("The browser did not allow copying; select the token and copy it by hand.");
    }
  };

  const changed = (): void => {
    void load();
    props.onChanged();
  };

  return (
    <aside class="side-panel" aria-labelledby="tokens-title">
      <div class="page-heading">
        <h2 id="tokens-title">Tokens of {service.name}</h2>
        <button type="button" class="secondary" onClick={props.onClose}>
          Close<span class="visually-hidden"> tokens</span>
        </button>
      </div>
      <p class="limits">
        This service: {tokens?.length ?? "…"}/{TOKENS_PER_SERVICE} · This parent segment: {props.segmentTokens}/
        {TOKENS_PER_PARENT_SEGMENT}
      </p>
      <p class="hint">
        {service.type === "PUBLIC"
          ? "Public tokens are for browsers: they may be embedded in a page's JavaScript."
          : "Private tokens are for servers only: keep them out of browsers."}
      </p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {tokens === null && !error && <p aria-live="polite">Loading…</p>}
      {tokens?.length === 0 && <p>No tokens yet.</p>}
      {tokens && tokens.length > 0 && (
        <ul class="tokens">
          {tokens.map((token) => (
            <li key={token.id} aria-label={`Token ${token.name}`}>
              <strong>{token.name}</strong>
              {service.type === "PRIVATE" && (
                <span class="token-ips"> · Allowed IPs: {(token.allowed_ips ?? []).join(", ") || "anywhere"}</span>
              )}
              {shown[token.id] && (
                <code class="secret" aria-label={`Token string of ${token.name}`}>
                  {shown[token.id]}
                </code>
              )}
              <div class="row-actions">
                {!shown[token.id] && props.manage && (
                  <button type="button" class="secondary" onClick={() => void reveal(token)}>
                    Reveal<span class="visually-hidden"> {token.name}</span>
                  </button>
                )}
                {shown[token.id] && (
                  <button type="button" class="secondary" onClick={() => void copy(token)}>
                    {copied === token.id ? "Copied" : "Copy"}
                    <span class="visually-hidden"> {token.name}</span>
                  </button>
                )}
                {props.manage && (
                  <button type="button" class="secondary danger" onClick={() => setDeleting(token)}>
                    Delete<span class="visually-hidden"> {token.name}</span>
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {props.manage && (
        <AddToken
          service={service}
          path={base}
          onCreated={(created) => {
            setShown((current) => ({ ...current, [created.id]: created.token ?? "" }));
            changed();
          }}
        />
      )}
      {deleting && (
        <ConfirmDelete
          id="delete-token"
          title={`Delete token ${deleting.name}?`}
          consequence="Requests with this token are refused within 5 seconds. This cannot be undone."
          path={`${base}/${part(deleting.id)}`}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            setDeleting(null);
            changed();
          }}
        />
      )}
      {askingPassword && (
        <PasswordPrompt
          onClose={() => setAskingPassword(null)}
          onConfirmed={() => {
            const token = askingPassword;
            setAskingPassword(null);
            void reveal(token);
          }}
        />
      )}
    </aside>
  );
}

function AddToken(props: { service: Service; path: string; onCreated: (token: Token) => void }): JSX.Element {
  const isPrivate = props.service.type === "PRIVATE";
  const [name, setName] = useState("");
  const [ips, setIps] = useState("");
  const [typed, setTyped] = useState(false);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const nameError = fields["name"] ?? (typed ? nameProblem(name) : undefined);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (nameProblem(name)) {
      setTyped(true);
      return;
    }
    setBusy(true);
    setError(null);
    setFields({});
    const body: Record<string, unknown> = { name };
    // A public service's tokens have no allowed IPs: the field is not offered at all.
    if (isPrivate) body["allowed_ips"] = ipLines(ips);
    try {
      const created = await call<Token>("POST", props.path, body);
      setName("");
      setIps("");
      setTyped(false);
      props.onCreated(created);
    } catch (failure) {
      if (failure instanceof ApiError) {
        const known: Record<string, string> = {};
        for (const [field, message] of Object.entries(failure.fields)) {
          const short = field.replace(/^token\./, "").replace(/\[\d+\]$/, "");
          // Only fields this form shows; anything else (allowed IPs on a public service)
          // is said at the top of the form.
          if (short === "name" || (isPrivate && short === "allowed_ips")) known[short] ??= message;
        }
        setFields(known);
        if (Object.keys(known).length === 0) setError(failure.message);
      } else setError(String(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="add-token" aria-labelledby="add-token-title" onSubmit={(event) => void submit(event)}>
      <h3 id="add-token-title">Add a token</h3>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <Field
        id="token-name"
        label="Token name"
        value={name}
        onInput={(value) => {
          setName(value);
          setTyped(true);
          setFields(({ name: _, ...rest }) => rest);
        }}
        error={nameError}
        required
      />
      {isPrivate && (
        <>
          <Field
            id="token-ips"
            label="Allowed IPs (CIDRs, one per line; empty means anywhere)"
            value={ips}
            onInput={setIps}
            error={fields["allowed_ips"]}
            multiline
          />
        </>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          Add token
        </button>
      </div>
    </form>
  );
}
