/**
 * The server's rules for names, checked as the user types, with the server's exact messages
 * (services/common/names.py, services/profile/config_rules.py): the form shows the same words
 * before sending as the server would after.
 */

export const MAX_NAME_LENGTH = 100;

/** A configuration resource's name: required, at most 100 characters once trimmed. */
export function nameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return "Name can't be blank";
  if (trimmed.length > MAX_NAME_LENGTH) return `Name is too long (maximum is ${MAX_NAME_LENGTH} characters)`;
  return null;
}

const TABLE_NAME = /^[a-z0-9_]{3,128}$/;
const RESERVED = ["public", "records", "v1"];

/** A database or table name of an event (`kind` is "Database" or "Table"). */
export function tableNameProblem(kind: string, value: string): string | null {
  if (!TABLE_NAME.test(value)) return `${kind} name '${value}' is invalid: use 3 to 128 characters of a-z, 0-9 and _`;
  if (RESERVED.includes(value))
    return `${kind} name '${value}' is reserved: public, records and v1 would shadow API paths`;
  return null;
}
