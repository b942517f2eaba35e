import type { PathNode, QueryNode } from "@meshauth/core";

/*
 * Permission queries, translated to conditions over a collection's ID fields, so that a
 * store can select readable documents itself (SQL over key columns) instead of loading
 * every document. The translation relies on what the hub guarantees of stored documents:
 * every ID field holds a well-formed string (no lone surrogates, no NUL), so
 * `_id` is that string (one field) or an object of exactly those strings (several).
 *
 * A filter is either exact (it selects the same documents as the authorizer) or a superset
 * (`exact: false`): then the caller still asks the authorizer about every row it selected.
 * Never a subset: a filter that could drop a readable document is replaced by `true`.
 */

/** A condition over ID field `field` (index into the collection's idFields). */
export type KeyExpr =
  | { readonly kind: "const"; readonly value: boolean }
  /** The field equals one of `values` (`==` and `in`). */
  | { readonly kind: "in"; readonly field: number; readonly values: readonly string[] }
  | { readonly kind: "ne"; readonly field: number; readonly value: string }
  | { readonly kind: "startsWith" | "endsWith" | "contains"; readonly field: number; readonly value: string }
  | { readonly kind: "not"; readonly operand: KeyExpr }
  | { readonly kind: "and" | "or"; readonly operands: readonly KeyExpr[] };

export interface KeyFilter {
  readonly where: KeyExpr;
  /** True when `where` selects exactly the readable documents. */
  readonly exact: boolean;
}

/**
 * Constructs that do not translate exactly, so the caller filters in JS after the select:
 * orderings (`<`, `<=`, `>`, `>=`: JS compares UTF-16 code units, SQL compares bytes or
 * code points), and literals that are not well-formed strings. They are listed in docs/sync.md.
 */
export const INEXACT_CONSTRUCTS = ["<", "<=", ">", ">=", "ill-formed string literal"] as const;

const TRUE: KeyExpr = { kind: "const", value: true };
const FALSE: KeyExpr = { kind: "const", value: false };

// A lone surrogate cannot be stored in SQL text the way JS compares it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when a string can be stored as an ID value (and compared the same in SQL and JS). */
export function isStorableKey(value: string): boolean {
  return !LONE_SURROGATE.test(value) && !value.includes("\u0000");
}

/** What a path denotes in a stored document: one ID field, the whole object `_id`, or nothing. */
type Target = { kind: "field"; field: number } | { kind: "object" } | { kind: "missing" };

function target(path: PathNode, idFields: readonly string[]): Target {
  const [first, ...rest] = path.segments;
  if (idFields.length === 1) {
    // `_id` is the string itself: any segment after it finds nothing.
    return first === undefined ? { kind: "field", field: 0 } : { kind: "missing" };
  }
  if (first === undefined) return { kind: "object" };
  if (first.kind !== "key" || rest.length > 0) return { kind: "missing" };
  const field = idFields.indexOf(first.key);
  return field < 0 ? { kind: "missing" } : { kind: "field", field };
}

/** A translated node and whether it is exact. */
type Translated = { expr: KeyExpr; exact: boolean };

function not(operand: KeyExpr): KeyExpr {
  if (operand.kind === "const") return operand.value ? FALSE : TRUE;
  return { kind: "not", operand };
}

function and(operands: KeyExpr[]): KeyExpr {
  if (operands.some((o) => o.kind === "const" && !o.value)) return FALSE;
  const rest = operands.filter((o) => o.kind !== "const");
  if (rest.length === 0) return TRUE;
  if (rest.length === 1) return rest[0] as KeyExpr;
  return { kind: "and", operands: rest };
}

function or(operands: KeyExpr[]): KeyExpr {
  if (operands.some((o) => o.kind === "const" && o.value)) return TRUE;
  const rest = operands.filter((o) => o.kind !== "const");
  if (rest.length === 0) return FALSE;
  if (rest.length === 1) return rest[0] as KeyExpr;
  return { kind: "or", operands: rest };
}

function translate(node: QueryNode, idFields: readonly string[]): Translated {
  switch (node.kind) {
    case "boolean":
      return { expr: node.value ? TRUE : FALSE, exact: true };
    case "compare": {
      const t = target(node.path, idFields);
      const lit = node.value.value;
      if (t.kind === "missing") return { expr: FALSE, exact: true };
      if (t.kind === "object") {
        // An object equals no literal and has no order; it is "present" (`!= null`).
        return { expr: node.op === "!=" && lit === null ? TRUE : FALSE, exact: true };
      }
      if (node.op === "!=" && lit === null) return { expr: TRUE, exact: true };
      // Comparisons across types are false (a stored ID value is always a string).
      if (typeof lit !== "string") return { expr: FALSE, exact: true };
      if (!isStorableKey(lit)) return { expr: TRUE, exact: false };
      if (node.op === "==") return { expr: { kind: "in", field: t.field, values: [lit] }, exact: true };
      if (node.op === "!=") return { expr: { kind: "ne", field: t.field, value: lit }, exact: true };
      return { expr: TRUE, exact: false }; // orderings: see INEXACT_CONSTRUCTS
    }
    case "in": {
      const t = target(node.path, idFields);
      if (t.kind !== "field") return { expr: FALSE, exact: true };
      const values: string[] = [];
      let exact = true;
      for (const v of node.values) {
        if (typeof v.value !== "string") continue;
        if (isStorableKey(v.value)) values.push(v.value);
        else exact = false;
      }
      if (!exact) return { expr: TRUE, exact: false };
      return { expr: values.length === 0 ? FALSE : { kind: "in", field: t.field, values }, exact: true };
    }
    case "test": {
      const t = target(node.path, idFields);
      const lit = node.value.value;
      // Strings only: `contains` on a non-array, non-string value is false.
      if (t.kind !== "field" || typeof lit !== "string") return { expr: FALSE, exact: true };
      if (!isStorableKey(lit)) return { expr: TRUE, exact: false };
      if (lit === "") return { expr: TRUE, exact: true };
      return { expr: { kind: node.test, field: t.field, value: lit }, exact: true };
    }
    case "regex":
      // No key-filter form: a superset, the evaluator decides each document.
      return { expr: TRUE, exact: false };
    case "not": {
      const inner = translate(node.operand, idFields);
      // The negation of a superset is not a superset: give up on this branch.
      return inner.exact ? { expr: not(inner.expr), exact: true } : { expr: TRUE, exact: false };
    }
    case "and": {
      // Dropping inexact conjuncts (true) keeps a superset.
      const parts = node.operands.map((o) => translate(o, idFields));
      return { expr: and(parts.map((p) => p.expr)), exact: parts.every((p) => p.exact) };
    }
    case "or": {
      const parts = node.operands.map((o) => translate(o, idFields));
      return { expr: or(parts.map((p) => p.expr)), exact: parts.every((p) => p.exact) };
    }
  }
}

/** The filter for documents matching any of `nodes` (one collection's queries). */
export function keyFilterOf(nodes: readonly QueryNode[], idFields: readonly string[]): KeyFilter {
  const parts = nodes.map((n) => translate(n, idFields));
  return { where: or(parts.map((p) => p.expr)), exact: parts.every((p) => p.exact) };
}

/** Evaluates a filter on a document's ID values (for tests and in-memory stores). */
export function evaluateKeyFilter(expr: KeyExpr, values: readonly string[]): boolean {
  switch (expr.kind) {
    case "const":
      return expr.value;
    case "in":
      return expr.values.includes(values[expr.field] as string);
    case "ne":
      return values[expr.field] !== expr.value;
    case "startsWith":
      return (values[expr.field] as string).startsWith(expr.value);
    case "endsWith":
      return (values[expr.field] as string).endsWith(expr.value);
    case "contains":
      return (values[expr.field] as string).includes(expr.value);
    case "not":
      return !evaluateKeyFilter(expr.operand, values);
    case "and":
      return expr.operands.every((o) => evaluateKeyFilter(o, values));
    case "or":
      return expr.operands.some((o) => evaluateKeyFilter(o, values));
  }
}
