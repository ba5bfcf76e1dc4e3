/**
 * The preview's sample event as typed: parsed as the server will read it (a JSON object),
 * and when it is not, what is wrong and where (line and column, counted from 1), so the
 * mistake is found before anything is sent.
 */

export type Parsed = { event: Record<string, unknown>; problem: null } | { event: null; problem: string };

/** Line and column (from 1) of the character at `position` of `text`. */
function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position).split("\n");
  return { line: before.length, column: (before[before.length - 1] ?? "").length + 1 };
}

/** Where and why `text` is not JSON as the server reads it: V8's messages do not always say
 * where, so the text is read again by this small reader of the same grammar (RFC 8259),
 * which stops at the first mistake. It also stops at a key named twice in one object, which
 * JSON.parse takes silently (keeping the last) but the real event path refuses as
 * INVALID_JSON (docs/design.md §2.9). */
function mistakeIn(text: string): { position: number; message: string } | null {
  let i = 0;
  const stop = (message: string): never => {
    throw { position: i, message };
  };
  const fail = (expected: string): never =>
    stop(`${i < text.length ? `unexpected ${JSON.stringify(text[i])}` : "the text ends"} where ${expected} was expected`);
  const blank = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i] ?? "")) i++;
  };
  const literal = /true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const string = (): void => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text[i] ?? "";
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        const next = text[i + 1] ?? "";
        if ("\"\\/bfnrt".includes(next) && next !== "") i += 2;
        else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else fail("an escape (\\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)");
      } else if (c < " ") {
        const code = `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
        stop(`a control character (${code}) inside a string: write it as an escape, such as \\n for a line break`);
      }
      else i++;
    }
    fail('a closing \'"\'');
  };
  const items = (close: string, item: () => void): void => {
    i++; // the opening bracket
    blank();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      blank();
      if (text[i] === ",") i++;
      else if (text[i] === close) {
        i++;
        return;
      } else fail(`',' or '${close}'`);
    }
  };
  const value = (): void => {
    blank();
    const c = text[i];
    if (c === "{") {
      const keys = new Set<string>();
      items("}", () => {
        blank();
        if (text[i] !== '"') fail("a property name in double quotes");
        const start = i;
        string();
        // The key as JSON reads it: "\u0061" and "a" are the same key.
        const key = JSON.parse(text.slice(start, i)) as string;
        if (keys.has(key)) {
          i = start;
          stop(`Key ${JSON.stringify(key)} appears twice`);
        }
        keys.add(key);
        blank();
        if (text[i] !== ":") fail("':'");
        i++;
        value();
      });
    } else if (c === "[") items("]", value);
    else if (c === '"') string();
    else {
      literal.lastIndex = i;
      if (!literal.test(text)) fail("a value");
      i = literal.lastIndex;
    }
  };
  try {
    value();
    blank();
    if (i < text.length) fail("the end of the text");
  } catch (mistake) {
    return mistake as { position: number; message: string };
  }
  return null;
}

export function parseEvent(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (failure) {
    const mistake = mistakeIn(text) ?? { position: text.length, message: failure instanceof Error ? failure.message : String(failure) };
    const { line, column } = lineAndColumn(text, mistake.position);
    return { event: null, problem: `Line ${line}, column ${column}: ${mistake.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    return { event: null, problem: `The event must be a JSON object, not ${kind}` };
  }
  // Valid for JSON.parse, yet perhaps a key twice in one object: the server refuses that.
  const twice = mistakeIn(text);
  if (twice) {
    const { line, column } = lineAndColumn(text, twice.position);
    return { event: null, problem: `Line ${line}, column ${column}: ${twice.message}` };
  }
  return { event: value as Record<string, unknown>, problem: null };
}

/** `value` as the panel shows JSON: two spaces, keys in the order given. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
