/**
 * The server's rules for names, checked as the user types so the message shows before
 * submitting. The messages are the design's, word for word (docs/design.md#tokens); the
 * server checks again and its message ("Name has already been taken") wins.
 */

export const NAME_MAX = 100;
export const NAME_BLANK = "Name can't be blank";
export const NAME_TOO_LONG = `Name is too long (maximum is ${NAME_MAX} characters)`;

/** What is wrong with `name`, or undefined. As the server does, surrounding blanks do not
 * count and the length is in code points. */
export function nameProblem(name: string): string | undefined {
  const stripped = name.trim();
  if (stripped === "") return NAME_BLANK;
  if ([...stripped].length > NAME_MAX) return NAME_TOO_LONG;
  return undefined;
}
