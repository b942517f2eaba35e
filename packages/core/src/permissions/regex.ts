// `regex(path, 'pattern')`: Ditto's legacy regular-expression test, matched by RE2JS (a
// pure-JS port of RE2, so isomorphic): its automaton runs in time linear in the input,
// and it refuses what could backtrack (backreferences, lookaround), so a rule cannot be
// made to hang a peer. Patterns and inputs are size-bounded on top of that.
import { RE2JS } from "re2js";
import type { RegexNode } from "./ast.js";
import { MAX_REGEX_INPUT_LENGTH, MAX_REGEX_PATTERN_LENGTH } from "./limits.js";

/** A compiled pattern: true when the pattern finds a match in the string. */
export type RegexMatcher = (value: string) => boolean;

const compiled = new WeakMap<RegexNode, RegexMatcher>();

/** Why a pattern cannot be used, or null when it compiles. */
export class RegexPatternError extends Error {
  override name = "RegexPatternError";
}

/** Compiles (once per node) the pattern of a `regex(...)` node; throws RegexPatternError. */
export function regexMatcher(node: RegexNode): RegexMatcher {
  const known = compiled.get(node);
  if (known) return known;
  const pattern = node.pattern.value;
  if (typeof pattern !== "string") throw new RegexPatternError("regex needs a string pattern");
  if (pattern.length > MAX_REGEX_PATTERN_LENGTH) {
    throw new RegexPatternError(
      `the pattern is ${pattern.length} characters; regex patterns have at most ${MAX_REGEX_PATTERN_LENGTH}`,
    );
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    // RE2JS says e.g. "error parsing regexp: invalid or unsupported Perl syntax: `(?=`".
    const why = error instanceof Error ? error.message.replace(/^error parsing regexp: /, "") : String(error);
    throw new RegexPatternError(`invalid regular expression (RE2 syntax): ${why}`);
  }
  const matcher: RegexMatcher = (value) => value.length <= MAX_REGEX_INPUT_LENGTH && re.matcher(value).find();
  compiled.set(node, matcher);
  return matcher;
}
