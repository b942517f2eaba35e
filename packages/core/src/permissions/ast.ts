/**
 * The syntax tree of a permission query. Every node carries where it was written, so
 * errors found after parsing (by the checker, or by tools) can still point at the text.
 *
 * Node kinds (`kind`), for code that walks or translates trees (the evaluator in
 * compile.ts, the printer, sync's key filters and SQL):
 * - `boolean`: `true` / `false`;
 * - `compare`: `path op literal`;
 * - `in`: `path in [literal, ...]`;
 * - `test`: a string test (`startsWith`, `endsWith`, `contains`), however it was spelled
 *   (`syntax`: method, function, or Ditto's legacy snake_case function);
 * - `regex`: `regex(path, 'pattern')`, an RE2 pattern matched in linear time;
 * - `not`, `and`, `or`: combinations.
 * A translator that cannot express a kind (a regex in SQL, say) must treat it as "may
 * match" and check documents with the evaluator, never as "no match".
 */

/** A place in the query text. `offset` counts UTF-16 code units from 0; `line` and `column` from 1. */
export interface Position {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** The span of text a node was parsed from: `start` inclusive, `end` exclusive. */
export interface Location {
  readonly start: Position;
  readonly end: Position;
}

/** A JSON scalar: the only values a query can name. */
export type LiteralValue = string | number | boolean | null;

export interface LiteralNode {
  readonly kind: "literal";
  readonly value: LiteralValue;
  readonly loc: Location;
}

/** `.name` or `['name']`: a member of an object. */
export interface KeySegment {
  readonly kind: "key";
  readonly key: string;
  readonly loc: Location;
}

/** `[0]`: an element of an array. */
export interface IndexSegment {
  readonly kind: "index";
  readonly index: number;
  readonly loc: Location;
}

export type PathSegment = KeySegment | IndexSegment;

/** `_id` followed by zero or more segments. The root is always `_id`: nothing else may be queried. */
export interface PathNode {
  readonly kind: "path";
  readonly segments: readonly PathSegment[];
  readonly loc: Location;
}

export type ComparisonOperator = "==" | "!=" | "<" | "<=" | ">" | ">=";

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ["==", "!=", "<", "<=", ">", ">="];

/** `path op literal`. */
export interface CompareNode {
  readonly kind: "compare";
  readonly op: ComparisonOperator;
  readonly path: PathNode;
  readonly value: LiteralNode;
  readonly loc: Location;
}

/** `path in [literal, ...]`. */
export interface InNode {
  readonly kind: "in";
  readonly path: PathNode;
  readonly values: readonly LiteralNode[];
  readonly loc: Location;
}

export type StringTestName = "startsWith" | "endsWith" | "contains";

export const STRING_TESTS: readonly StringTestName[] = ["startsWith", "endsWith", "contains"];

/** Ditto's legacy query syntax spells the string tests in snake_case. */
export const LEGACY_STRING_TESTS: Readonly<Record<string, StringTestName>> = Object.freeze({
  starts_with: "startsWith",
  ends_with: "endsWith",
});

/**
 * `path.startsWith('x')` (method), `startsWith(path, 'x')` (function) or
 * `starts_with(path, 'x')` (legacy, Ditto's snake_case; `contains` is the same in both).
 * All mean the same; `syntax` only remembers which was written so printing keeps it.
 */
export interface TestNode {
  readonly kind: "test";
  readonly test: StringTestName;
  readonly syntax: "method" | "function" | "legacy";
  readonly path: PathNode;
  readonly value: LiteralNode;
  readonly loc: Location;
}

/**
 * `regex(path, 'pattern')` (Ditto's legacy syntax): true when the value at the path is a
 * string of at most `MAX_REGEX_INPUT_LENGTH` characters in which the pattern finds a match
 * (anchor with `^` and `$` for a whole-string match). The pattern is RE2 syntax, matched
 * in linear time (no backreferences or lookaround); it is compiled when the query is
 * checked, so a bad pattern fails validation.
 */
export interface RegexNode {
  readonly kind: "regex";
  readonly path: PathNode;
  /** A string literal: the pattern. */
  readonly pattern: LiteralNode;
  readonly loc: Location;
}

/** `true` or `false` as a whole condition (`"true"` grants a whole collection). */
export interface BooleanNode {
  readonly kind: "boolean";
  readonly value: boolean;
  readonly loc: Location;
}

export interface NotNode {
  readonly kind: "not";
  readonly operand: QueryNode;
  readonly loc: Location;
}

/** `a && b && ...`: chains stay flat (n-ary) so long chains do not make deep trees. */
export interface AndNode {
  readonly kind: "and";
  readonly operands: readonly [QueryNode, QueryNode, ...QueryNode[]];
  readonly loc: Location;
}

export interface OrNode {
  readonly kind: "or";
  readonly operands: readonly [QueryNode, QueryNode, ...QueryNode[]];
  readonly loc: Location;
}

/** A condition: what a whole query is, and what `!`, `&&` and `||` combine. */
export type QueryNode =
  | BooleanNode
  | CompareNode
  | InNode
  | TestNode
  | RegexNode
  | NotNode
  | AndNode
  | OrNode;
