/**
 * The server's rules for names, checked as the user types so the message shows before
 * submitting. The messages are the server's, word for word (docs/design.md#tokens,
 * services/common/names.py, services/profile/config_rules.py); the server checks again and
 * its message ("Name has already been taken") wins.
 */

export const NAME_MAX = 100;
export const NAME_BLANK = "Name can't be blank";
export const NAME_TOO_LONG = `Name is too long (maximum is ${NAME_MAX} characters)`;

/** What is wrong with a resource's `name`, or undefined. As the server does, surrounding
 * blanks do not count and the length is in code points. */
export function nameProblem(name: string): string | undefined {
  const stripped = name.trim();
  if (stripped === "") return NAME_BLANK;
  if ([...stripped].length > NAME_MAX) return NAME_TOO_LONG;
  return undefined;
}

const TABLE_NAME = /^[a-z0-9_]{3,128}$/;
const RESERVED = ["public", "records", "v1"];

/** What is wrong with an event's database or table name (`kind` is "Database" or "Table"),
 * or undefined. */
export function tableNameProblem(kind: string, value: string): string | undefined {
  if (!TABLE_NAME.test(value)) return `${kind} name '${value}' is invalid: use 3 to 128 characters of a-z, 0-9 and _`;
  if (RESERVED.includes(value))
    return `${kind} name '${value}' is reserved: public, records and v1 would shadow API paths`;
  return undefined;
}
