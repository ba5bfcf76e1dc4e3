/**
 * A regular expression checked as it is typed, as far as a browser can: the server runs
 * patterns on RE2 and refuses what Python's `re` cannot parse or RE2 cannot compile. The
 * browser has neither, so this compiles the pattern with JavaScript's RegExp (after turning
 * the Python/RE2 spellings JavaScript lacks into its own) and looks for the constructs RE2
 * refuses that JavaScript accepts: backreferences, lookarounds and repetitions over 1000.
 * It is advice: the form still sends the pattern, and the server's message, when it refuses,
 * replaces this one.
 */

const RE2_NOTE = "patterns run on RE2, which has no backreferences or lookarounds";

const LOOKAROUNDS: readonly [string, string][] = [
  ["(?<=", "a lookbehind (?<="],
  ["(?<!", "a negative lookbehind (?<!"],
  ["(?=", "a lookahead (?="],
  ["(?!", "a negative lookahead (?!"],
];

/** What RE2 refuses in `pattern` that JavaScript would accept, or null. */
function unsupported(pattern: string): string | null {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (!inClass && /[1-9]/.test(next)) return `a backreference \\${next}`;
      if (!inClass && next === "k" && pattern[i + 2] === "<") return "a named backreference \\k<";
      i++; // the escaped character is a literal, whatever it is
    } else if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      // A "]" first in the class (after an optional "^") is a literal.
      if (pattern[i + 1] === "^") i++;
      if (pattern[i + 1] === "]") i++;
    } else if (c === "(") {
      const rest = pattern.slice(i);
      const found = LOOKAROUNDS.find(([start]) => rest.startsWith(start));
      if (found) return found[1];
      if (rest.startsWith("(?P=")) return "a named backreference (?P=";
    } else if (c === "{") {
      const repeat = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
      const counts = repeat ? [repeat[1], repeat[2]].filter((n) => n) : [];
      if (counts.some((n) => Number(n) > 1000)) return `a repetition over 1000 ${repeat?.[0] ?? ""}`;
    }
  }
  return null;
}

/** The pattern in JavaScript's spelling: (?P<name> is (?<name>, leading flags go. */
function asJavaScript(pattern: string): string {
  return pattern.replace(/\(\?P</g, "(?<").replace(/^\(\?[imsU]+\)/, "");
}

/** Why the server would refuse `pattern`, as far as the browser can tell, or null. */
export function regexProblem(pattern: string): string | null {
  if (pattern === "") return null;
  const refused = unsupported(pattern);
  if (refused) return `Regex is not supported: ${refused} (${RE2_NOTE})`;
  try {
    new RegExp(asJavaScript(pattern));
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, "") : "";
    return `Regex is invalid: ${reason}`;
  }
  return null;
}
