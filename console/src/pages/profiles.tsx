/**
 * A parent segment's profiles: look one up by a stitching key and a value (the lookup lives
 * in the URL, `?key=..&value=..`, so a link or a reload shows the same profile), see its
 * identities, attributes and segments with their sensitivity, and read the merge log that
 * explains how profiles came together (or why they were kept apart).
 */

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { listAll, messageOf, type ParentSegment, segmentPath } from "../api";
import { FormError } from "../components/dialog";
import { Field } from "../components/field";
import { SensitivityBadge } from "../components/sensitivity";
import type { Sensitivity, StitchingKey } from "../config_api";
import { getProfile, listMergeLog, unusableInPath, type MergeLogEntry, type MergeOutcome, type Profile } from "../profiles_api";
import { navigate, useLocation } from "../router";
import "./profiles.css";

export function Profiles({ segment }: { segment: ParentSegment }): JSX.Element {
  const location = useLocation();
  const wantedKey = location.searchParams.get("key") ?? "";
  const wantedValue = location.searchParams.get("value") ?? "";
  const [profile, setProfile] = useState<Profile | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Counts the lookups asked for: asking again for the shown profile (same URL) reads it and
  // the merge log afresh, as events may have changed both since.
  const [lookups, setLookups] = useState(0);

  // The URL is the lookup: whenever it names a key and a value, that profile is shown.
  useEffect(() => {
    setProfile(null);
    setError(null);
    // Busy for this lookup only: a URL naming none ends an older one's busy too.
    setBusy(false);
    if (!wantedKey || !wantedValue) return;
    // A crafted link is not sent either (the form refuses the same by its fields).
    const unusable = unusableInPath("The stitching key", wantedKey) ?? unusableInPath("The value", wantedValue);
    if (unusable) {
      setError(unusable);
      return;
    }
    let current = true; // an answer to an older lookup is dropped
    setBusy(true);
    getProfile(segment.id, wantedKey, wantedValue)
      .then(
        (found) => current && setProfile(found),
        (failure: unknown) => current && setError(messageOf(failure)),
      )
      .finally(() => current && setBusy(false));
    return () => {
      current = false;
    };
  }, [segment.id, wantedKey, wantedValue, lookups]);

  const lookUp = (key: string, value: string): void => {
    setLookups((count) => count + 1);
    if (key === wantedKey && value === wantedValue) return;
    const query = new URLSearchParams({ key, value });
    navigate(`${location.pathname}?${query.toString()}`);
  };

  return (
    <section aria-labelledby="profiles-title" class="profiles">
      <h2 id="profiles-title">Profiles</h2>
      <p class="hint">Look up a visitor's stitched profile by any of its stitching key values.</p>
      <LookupForm
        segment={segment}
        initialKey={wantedKey}
        initialValue={wantedValue}
        busy={busy}
        onLookUp={lookUp}
      />
      <FormError message={error} />
      {/* Mounted from the start, its text changing: a live region inserted already filled is
          often not read out. */}
      <p role="status" class="profiles-status">
        {busy && !profile && !error ? "Looking up…" : ""}
      </p>
      {profile && <ProfileView profile={profile} />}
      <MergeLog segment={segment} profile={profile} lookups={lookups} />
    </section>
  );
}

function LookupForm(props: {
  segment: ParentSegment;
  initialKey: string;
  initialValue: string;
  busy: boolean;
  onLookUp: (key: string, value: string) => void;
}): JSX.Element {
  const [keys, setKeys] = useState<StitchingKey[] | null>(null);
  const [keysError, setKeysError] = useState<string | null>(null);
  const [key, setKey] = useState(props.initialKey || props.segment.primary_key);
  const [value, setValue] = useState(props.initialValue);
  // The value's own problem (blank, or unusable in the lookup's path), said by the field.
  const [valueError, setValueError] = useState<string | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);

  // Back and forward change the URL's lookup: the form shows it.
  useEffect(() => {
    setKey(props.initialKey || props.segment.primary_key);
    setValue(props.initialValue);
    setValueError(null);
    setKeyError(null);
  }, [props.initialKey, props.initialValue, props.segment.primary_key]);

  useEffect(() => {
    listAll<StitchingKey>(segmentPath(props.segment.id, "stitching_keys"), "stitching_keys").then(setKeys, (failure: unknown) =>
      setKeysError(messageOf(failure)),
    );
  }, [props.segment.id]);

  // A key named by the URL but no longer a stitching key is still offered: the server says why it fails.
  const names = (keys ?? []).map((found) => found.name);
  if (key && !names.includes(key)) names.push(key);

  const submit = (event: Event): void => {
    event.preventDefault();
    const keyProblem = unusableInPath("The stitching key", key);
    const valueProblem = !value.trim() ? "Value can't be blank" : unusableInPath("The value", value);
    setKeyError(keyProblem);
    setValueError(valueProblem);
    if (keyProblem || valueProblem) {
      document.getElementById(keyProblem ? "profile-key" : "profile-value")?.focus();
      return;
    }
    props.onLookUp(key, value);
  };

  return (
    <form class="profile-lookup" role="search" aria-label="Look up a profile" onSubmit={submit} noValidate>
      <FormError message={keysError} />
      <div class="field">
        <label for="profile-key">Stitching key</label>
        <select
          id="profile-key"
          name="profile-key"
          value={key}
          aria-invalid={keyError ? true : undefined}
          aria-describedby={keyError ? "profile-key-error" : undefined}
          onChange={(event) => {
            setKey(event.currentTarget.value);
            setKeyError(null);
          }}
        >
          {names.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        {keyError && (
          <p class="field-error" id="profile-key-error" role="alert">
            {keyError}
          </p>
        )}
      </div>
      <Field
        id="profile-value"
        label="Value"
        value={value}
        onInput={(typed) => {
          setValue(typed);
          setValueError(null);
        }}
        error={valueError ?? undefined}
        required
      />
      <div class="profile-lookup-submit">
        <button type="submit" disabled={props.busy}>
          Look up
        </button>
      </div>
    </form>
  );
}

const SENSITIVITY_SUMMARIES: Record<Sensitivity, string> = {
  SENSITIVITY_UNSPECIFIED: "",
  SENSITIVE: "Sensitive",
  NON_SENSITIVE: "Non-Sensitive",
};

function ProfileView({ profile }: { profile: Profile }): JSX.Element {
  const identities = profile.identities ?? [];
  const attributes = profile.attributes ?? [];
  const segments = profile.segments ?? [];
  return (
    <article class="profile" aria-labelledby="profile-title">
      <h3 id="profile-title">
        Profile <code>{profile.canonical_id}</code>
      </h3>
      <dl class="details">
        <dt>Canonical id</dt>
        <dd>
          <code>{profile.canonical_id}</code>
        </dd>
      </dl>

      <h4 id="identities-title">Identities</h4>
      <table class="listing" aria-labelledby="identities-title">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
            <th scope="col">First seen</th>
          </tr>
        </thead>
        <tbody>
          {identities.map((identity) => (
            <tr key={`${identity.key}=${identity.value}`}>
              <td>
                <code>{identity.key}</code>
              </td>
              <td>
                <code>{identity.value}</code>
              </td>
              <td>{identity.first_seen ? <Time value={identity.first_seen} /> : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h4 id="attributes-title">Attributes</h4>
      {attributes.length === 0 ? (
        <p>No attribute values yet.</p>
      ) : (
        <table class="listing" aria-labelledby="attributes-title">
          <thead>
            <tr>
              <th scope="col">Attribute</th>
              <th scope="col">Value</th>
              <th scope="col">Sensitivity</th>
            </tr>
          </thead>
          <tbody>
            {attributes.map((attribute) => (
              <tr key={attribute.name}>
                <td>{attribute.name}</td>
                <td>
                  <AttributeValueView value={attribute.value} />
                </td>
                <td>
                  <SensitivityBadge summary={attribute.sensitivity_summary} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h4 id="segments-title">Segments</h4>
      {segments.length === 0 ? (
        <p>In no batch segment.</p>
      ) : (
        <table class="listing" aria-labelledby="segments-title">
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col">Sensitivity</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((membership) => (
              <tr key={membership.name}>
                <td>{membership.name}</td>
                <td>
                  <SensitivityBadge summary={SENSITIVITY_SUMMARIES[membership.sensitivity ?? "SENSITIVITY_UNSPECIFIED"]} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

/** A scalar as text (strings without quotes); a list's `{aggregation: [...]}` and any other structure as indented JSON. */
function AttributeValueView({ value }: { value: unknown }): JSX.Element {
  if (value === undefined || value === null) return <span class="hint">No value</span>;
  if (typeof value === "string") return <code>{value}</code>;
  if (typeof value !== "object") return <code>{String(value)}</code>;
  return <pre class="profile-value">{JSON.stringify(value, null, 2)}</pre>;
}

/** A server time (RFC 3339) in UTC, to the second, so every reader sees the same text. */
export function Time({ value }: { value: string }): JSX.Element {
  const parsed = new Date(value);
  const text = Number.isNaN(parsed.getTime()) ? value : `${parsed.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  return <time dateTime={value}>{text}</time>;
}

const OUTCOMES: Record<MergeOutcome, string> = {
  MERGE_OUTCOME_UNSPECIFIED: "Unknown",
  MERGED: "Merged",
  REFUSED: "Refused",
};

/**
 * The ids a profile has been known by: its canonical id and every primary-key value in it
 * (each was once the canonical id of a profile it absorbed), so its whole history matches.
 */
function idsOf(profile: Profile, primaryKey: string): Set<string> {
  const ids = new Set([profile.canonical_id]);
  for (const identity of profile.identities ?? []) if (identity.key === primaryKey) ids.add(identity.value);
  return ids;
}

function involves(entry: MergeLogEntry, ids: Set<string>): boolean {
  return [entry.surviving_profile ?? "", ...(entry.absorbed_profiles ?? [])].some((id) => ids.has(id));
}

/** The merge log, newest first, a page at a time ("Load more"); filtered to the shown profile if asked. */
function MergeLog({ segment, profile, lookups }: { segment: ParentSegment; profile: Profile | null; lookups: number }): JSX.Element {
  const [entries, setEntries] = useState<MergeLogEntry[] | null>(null);
  const [nextPage, setNextPage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [onlyThisProfile, setOnlyThisProfile] = useState(true);
  // Counts the reads asked for: only the latest one's reply is used and ends `busy`, so a
  // late "Load more" reply is never appended to a first page read afresh since.
  const generation = useRef(0);

  const load = (pageToken: string): void => {
    generation.current += 1;
    const mine = generation.current;
    setBusy(true);
    setError(null);
    listMergeLog(segment.id, pageToken)
      .then(
        (page) => {
          if (mine !== generation.current) return;
          setEntries((shown) => [...(pageToken ? (shown ?? []) : []), ...(page.entries ?? [])]);
          setNextPage(page.next_page_token ?? "");
        },
        (failure: unknown) => mine === generation.current && setError(messageOf(failure)),
      )
      .finally(() => mine === generation.current && setBusy(false));
  };
  useEffect(() => load(""), [segment.id, lookups]);

  const filtering = profile !== null && onlyThisProfile;
  const ids = profile ? idsOf(profile, segment.primary_key) : new Set<string>();
  const shown = (entries ?? []).filter((entry) => !filtering || involves(entry, ids));
  return (
    <section class="merge-log" aria-labelledby="merge-log-title">
      <h3 id="merge-log-title">Merge log</h3>
      <p class="hint">Every merge of profiles and every merge refused by merge protection, newest first.</p>
      {profile && (
        <div class="checkbox">
          <input
            id="merge-log-only"
            type="checkbox"
            checked={onlyThisProfile}
            onChange={(event) => setOnlyThisProfile(event.currentTarget.checked)}
          />
          <label for="merge-log-only">Only this profile</label>
        </div>
      )}
      <FormError message={error} />
      <p role="status" class="profiles-status">
        {entries === null && !error ? "Loading…" : ""}
      </p>
      {entries !== null && shown.length === 0 && (
        <p>{filtering ? "No entry about this profile in the entries loaded." : "No merges yet."}</p>
      )}
      {shown.length > 0 && (
        <table class="listing" aria-labelledby="merge-log-title">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Outcome</th>
              <th scope="col">Surviving profile</th>
              <th scope="col">Absorbed profiles</th>
              <th scope="col">Linking values</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((entry) => (
              <tr key={entry.id}>
                <td>{entry.time ? <Time value={entry.time} /> : "—"}</td>
                <td>
                  <span class={entry.outcome === "REFUSED" ? "badge badge-sensitive" : "badge"}>
                    {OUTCOMES[entry.outcome ?? "MERGE_OUTCOME_UNSPECIFIED"]}
                  </span>
                </td>
                <td>
                  <code>{entry.surviving_profile || "—"}</code>
                </td>
                <td>
                  {(entry.absorbed_profiles ?? []).length === 0
                    ? "—"
                    : (entry.absorbed_profiles ?? []).map((id) => (
                        <div key={id}>
                          <code>{id}</code>
                        </div>
                      ))}
                </td>
                <td>
                  {(entry.linking_values ?? []).map((identity) => (
                    <div key={`${identity.key}=${identity.value}`}>
                      <code>
                        {identity.key} = {identity.value}
                      </code>
                    </div>
                  ))}
                </td>
                <td>{entry.reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextPage && (
        <p>
          <button type="button" class="secondary" disabled={busy} onClick={() => load(nextPage)}>
            Load more
          </button>
        </p>
      )}
    </section>
  );
}
