import type { CompareNode, InNode, LiteralValue, PathNode, PathSegment, QueryNode, TestNode } from "./ast.js";
import { printPath } from "./printer.js";
import { type RegexMatcher, regexMatcher } from "./regex.js";

/*
 * Compiles a checked syntax tree into a predicate over a document (reading its `_id`), made of
 * closures only: no eval, no `new Function`, so it runs under a Content-Security-Policy
 * without 'unsafe-eval'. Semantics (see docs/permissions.md):
 *
 * - A path is walked through own properties only (never a prototype), keys only into
 *   non-array objects, indexes only into arrays. Anything else, or an own value of
 *   `undefined`, is "missing".
 * - Every comparison with a missing value is false. `==` is strict equality; `!=`, `<`,
 *   `<=`, `>`, `>=` need the value to have the literal's type, so comparisons across types
 *   are false; `!= null` is "present and not null". `!` negates the boolean result.
 */

/** A compiled query over a whole document (only its own `_id` is read). Never throws on JSON data. */
export type DocPredicate = (doc: unknown) => boolean;

/**
 * Tests the value found at a path. Every test is false for `undefined` (a missing value):
 * the path walkers below rely on it.
 */
type ValueTest = (value: unknown) => boolean;

const hasOwn = Object.hasOwn;
const isArray = Array.isArray;

const alwaysTrue: DocPredicate = () => true;
const alwaysFalse: DocPredicate = () => false;

/*
 * Walking a path. Own-property checks are what keep prototypes out, but `Object.hasOwn`
 * is a builtin call the JIT does not inline, a large share of a simple decision. So a path is first read
 * with plain property loads (type-checked at every step), the value is tested, and only
 * when the test passes are the steps re-checked as own properties. This is exact, not a
 * heuristic: every test is false for a missing value, so a failed test is the right answer
 * whether or not a step was inherited, and a passed test stands only if every step was own.
 */

/** The value at `_id` + segments, reading through prototypes; `undefined` when a step has the wrong type. */
function reader(segments: readonly PathSegment[]): (doc: unknown) => unknown {
  return (doc) => {
    if (typeof doc !== "object" || doc === null || isArray(doc)) return undefined;
    let v: unknown = (doc as { _id?: unknown })._id;
    for (const segment of segments) {
      if (segment.kind === "key") {
        if (typeof v !== "object" || v === null || isArray(v)) return undefined;
        v = (v as Record<string, unknown>)[segment.key];
      } else {
        if (!isArray(v)) return undefined;
        v = v[segment.index];
      }
    }
    return v;
  };
}

/** True when every step of the path is an own property (called only after a read succeeded). */
function ownChecker(segments: readonly PathSegment[]): (doc: unknown) => boolean {
  return (doc) => {
    if (!hasOwn(doc as object, "_id")) return false;
    let v = (doc as { _id: unknown })._id;
    for (const segment of segments) {
      const key = segment.kind === "key" ? segment.key : segment.index;
      if (typeof v !== "object" || v === null || !hasOwn(v, key)) return false;
      v = (v as Record<string | number, unknown>)[key];
    }
    return true;
  };
}

/** What is tested about the value at a path, as data, so that common cases can get fused closures. */
type Check =
  | { readonly kind: "one-of"; readonly values: readonly LiteralValue[] } // `==` and `in`
  | { readonly kind: "present" } // `!= null`
  | { readonly kind: "differs"; readonly value: string | number | boolean } // `!=` anything else
  | { readonly kind: "<" | "<=" | ">" | ">="; readonly value: string | number }
  | { readonly kind: "startsWith" | "endsWith"; readonly value: string }
  | { readonly kind: "contains"; readonly value: LiteralValue }
  | { readonly kind: "regex"; readonly matcher: RegexMatcher };

function compareCheck(node: CompareNode): Check {
  const value = node.value.value;
  switch (node.op) {
    case "==":
      return { kind: "one-of", values: [value] };
    case "!=":
      return value === null ? { kind: "present" } : { kind: "differs", value };
    default:
      // The checker allows only numbers and strings for orderings.
      return { kind: node.op, value: value as string | number };
  }
}

function testCheck(node: TestNode): Check {
  const value = node.value.value;
  // The checker allows only strings for startsWith and endsWith.
  return node.test === "contains" ? { kind: "contains", value } : { kind: node.test, value: value as string };
}

function arrayContains(v: unknown, lit: LiteralValue): boolean {
  if (!isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (v[i] === lit && hasOwn(v, i)) return true;
  return false;
}

/**
 * `==` semantics over several literals: `===` (which equals SameValueZero for literals, never
 * NaN). Up to four values a chain of `===` beats a Set lookup; shorter lists repeat a value.
 */
function oneOf(values: readonly LiteralValue[]): ValueTest {
  const distinct = [...new Set(values)];
  const [a, b = a, c = b, d = c] = distinct;
  if (distinct.length === 0) return () => false;
  if (distinct.length === 1) return (v) => v === a;
  if (distinct.length <= 4) return (v) => v === a || v === b || v === c || v === d;
  const set: ReadonlySet<unknown> = new Set(distinct);
  return (v) => set.has(v);
}

function valueTest(check: Check): ValueTest {
  switch (check.kind) {
    case "one-of":
      return oneOf(check.values);
    case "present":
      return (v) => v !== undefined && v !== null;
    case "differs": {
      const { value } = check;
      const type = typeof value;
      return (v) => typeof v === type && v !== value;
    }
    case "<":
    case "<=":
    case ">":
    case ">=":
      return ordering(check.kind, check.value);
    case "startsWith": {
      const { value } = check;
      return (v) => typeof v === "string" && v.startsWith(value);
    }
    case "endsWith": {
      const { value } = check;
      return (v) => typeof v === "string" && v.endsWith(value);
    }
    case "regex": {
      const { matcher } = check;
      return (v) => typeof v === "string" && matcher(v);
    }
    case "contains": {
      const { value } = check;
      if (typeof value === "string") {
        return (v) => (typeof v === "string" ? v.includes(value) : arrayContains(v, value));
      }
      return (v) => arrayContains(v, value);
    }
  }
}

/** Orderings hold only between two numbers or two strings. */
function ordering(op: "<" | "<=" | ">" | ">=", lit: string | number): ValueTest {
  const type = typeof lit;
  switch (op) {
    case "<":
      return (v) => typeof v === type && (v as string | number) < lit;
    case "<=":
      return (v) => typeof v === type && (v as string | number) <= lit;
    case ">":
      return (v) => typeof v === type && (v as string | number) > lit;
    case ">=":
      return (v) => typeof v === type && (v as string | number) >= lit;
  }
}

/** The document's `_id` when both are non-array objects, read without own checks (see above). */
function idRecord(doc: unknown): Record<string, unknown> | undefined {
  if (typeof doc !== "object" || doc === null || isArray(doc)) return undefined;
  const id = (doc as { _id?: unknown })._id;
  return typeof id === "object" && id !== null && !isArray(id) ? (id as Record<string, unknown>) : undefined;
}

/** After a passed test on `_id[key]`: were both steps own properties? */
function owned(doc: unknown, id: object, key: string): boolean {
  return hasOwn(doc as object, "_id") && hasOwn(id, key);
}

/**
 * `_id.key <check>`, the most common shape of rule, as one closure with the test inlined:
 * a call through a shared closure slot cannot be inlined by the JIT, so each saved call
 * counts. `contains` (rare, and a loop anyway) goes through {@link valueTest}.
 */
function fusedKey(key: string, check: Check): DocPredicate | undefined {
  switch (check.kind) {
    case "one-of": {
      const distinct = [...new Set(check.values)];
      if (distinct.length === 0) return alwaysFalse;
      if (distinct.length === 1) {
        const lit = distinct[0];
        return (doc) => {
          const id = idRecord(doc);
          return id !== undefined && id[key] === lit && owned(doc, id, key);
        };
      }
      if (distinct.length <= 4) {
        const [a, b, c = b, d = c] = distinct;
        return (doc) => {
          const id = idRecord(doc);
          if (id === undefined) return false;
          const v = id[key];
          return (v === a || v === b || v === c || v === d) && owned(doc, id, key);
        };
      }
      const set: ReadonlySet<unknown> = new Set(distinct);
      return (doc) => {
        const id = idRecord(doc);
        return id !== undefined && set.has(id[key]) && owned(doc, id, key);
      };
    }
    case "present":
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return v !== undefined && v !== null && owned(doc, id, key);
      };
    case "differs": {
      const { value } = check;
      const type = typeof value;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === type && v !== value && owned(doc, id, key);
      };
    }
    case "startsWith": {
      const { value } = check;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === "string" && v.startsWith(value) && owned(doc, id, key);
      };
    }
    case "endsWith": {
      const { value } = check;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === "string" && v.endsWith(value) && owned(doc, id, key);
      };
    }
    case "<": {
      const { value } = check;
      const type = typeof value;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === type && (v as string | number) < value && owned(doc, id, key);
      };
    }
    case "<=": {
      const { value } = check;
      const type = typeof value;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === type && (v as string | number) <= value && owned(doc, id, key);
      };
    }
    case ">": {
      const { value } = check;
      const type = typeof value;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === type && (v as string | number) > value && owned(doc, id, key);
      };
    }
    case ">=": {
      const { value } = check;
      const type = typeof value;
      return (doc) => {
        const id = idRecord(doc);
        if (id === undefined) return false;
        const v = id[key];
        return typeof v === type && (v as string | number) >= value && owned(doc, id, key);
      };
    }
    default:
      return undefined;
  }
}

/** Joins a path and a check into one document predicate. */
function onPath(path: PathNode, check: Check): DocPredicate {
  const segments = path.segments;
  const only = segments.length === 1 ? segments[0] : undefined;
  if (only?.kind === "key") {
    const fused = fusedKey(only.key, check);
    if (fused !== undefined) return fused;
    const key = only.key;
    const test = valueTest(check);
    return (doc) => {
      const id = idRecord(doc);
      return id !== undefined && test(id[key]) && owned(doc, id, key);
    };
  }
  const test = valueTest(check);
  if (segments.length === 0) {
    return (doc) =>
      typeof doc === "object" &&
      doc !== null &&
      !isArray(doc) &&
      test((doc as { _id?: unknown })._id) &&
      hasOwn(doc, "_id");
  }
  const read = reader(segments);
  const own = ownChecker(segments);
  return (doc) => test(read(doc)) && own(doc);
}

/** A compiled node, with its value when it is the same for every document. */
interface Compiled {
  readonly test: DocPredicate;
  readonly constant: boolean | undefined;
}

const TRUE: Compiled = { test: alwaysTrue, constant: true };
const FALSE: Compiled = { test: alwaysFalse, constant: false };
const dynamic = (test: DocPredicate): Compiled => ({ test, constant: undefined });

function conjunction(parts: readonly Compiled[]): Compiled {
  if (parts.some((p) => p.constant === false)) return FALSE;
  const tests = parts.filter((p) => p.constant !== true).map((p) => p.test);
  const [a, b, c] = tests;
  if (a === undefined) return TRUE;
  if (b === undefined) return dynamic(a);
  if (c === undefined) return dynamic((doc) => a(doc) && b(doc));
  if (tests.length === 3) return dynamic((doc) => a(doc) && b(doc) && c(doc));
  return dynamic((doc) => {
    for (const t of tests) if (!t(doc)) return false;
    return true;
  });
}

function disjunction(parts: readonly Compiled[]): Compiled {
  if (parts.some((p) => p.constant === true)) return TRUE;
  const tests = parts.filter((p) => p.constant !== false).map((p) => p.test);
  const [a, b, c] = tests;
  if (a === undefined) return FALSE;
  if (b === undefined) return dynamic(a);
  if (c === undefined) return dynamic((doc) => a(doc) || b(doc));
  if (tests.length === 3) return dynamic((doc) => a(doc) || b(doc) || c(doc));
  return dynamic((doc) => {
    for (const t of tests) if (t(doc)) return true;
    return false;
  });
}

/**
 * The operands of an OR, with every `path == literal` and `path in [...]` on the same path
 * merged into one membership test: `_id.p == 'a' || _id.p == 'b' || ...` (common in large,
 * generated rule sets) then costs one path walk and one lookup instead of one call per rule.
 * OR is commutative and the tests have no effects, so reordering is safe.
 */
function compileAlternatives(nodes: readonly QueryNode[]): Compiled {
  const groups = new Map<string, { path: PathNode; values: LiteralValue[] }>();
  const rest: Compiled[] = [];
  for (const node of nodes) {
    const equality = asMembership(node);
    if (equality === undefined) {
      rest.push(compileNode(node));
      continue;
    }
    const key = printPath(equality.path);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { path: equality.path, values: [...equality.values] });
    else group.values.push(...equality.values);
  }
  const merged = [...groups.values()].map((g) =>
    dynamic(onPath(g.path, { kind: "one-of", values: g.values })),
  );
  return disjunction([...merged, ...rest]);
}

function asMembership(node: QueryNode): { path: PathNode; values: readonly LiteralValue[] } | undefined {
  if (node.kind === "compare" && node.op === "==") return { path: node.path, values: [node.value.value] };
  if (node.kind === "in") return { path: node.path, values: node.values.map((v) => v.value) };
  return undefined;
}

function compileIn(node: InNode): Compiled {
  if (node.values.length === 0) return FALSE;
  return dynamic(onPath(node.path, { kind: "one-of", values: node.values.map((v) => v.value) }));
}

function compileNode(node: QueryNode): Compiled {
  switch (node.kind) {
    case "boolean":
      return node.value ? TRUE : FALSE;
    case "compare":
      return dynamic(onPath(node.path, compareCheck(node)));
    case "in":
      return compileIn(node);
    case "test":
      return dynamic(onPath(node.path, testCheck(node)));
    case "regex":
      return dynamic(onPath(node.path, { kind: "regex", matcher: regexMatcher(node) }));
    case "not": {
      const inner = compileNode(node.operand);
      if (inner.constant !== undefined) return inner.constant ? FALSE : TRUE;
      const t = inner.test;
      return dynamic((doc) => !t(doc));
    }
    case "and":
      return conjunction(node.operands.map(compileNode));
    case "or":
      return compileAlternatives(node.operands);
  }
}

/** Compiles one query. `constant` is set when the answer does not depend on the document. */
export function compileQueryNode(node: QueryNode): { test: DocPredicate; constant: boolean | undefined } {
  return compileNode(node);
}

/** Compiles the queries of one collection into one predicate: true when any of them is. */
export function compileAnyOf(nodes: readonly QueryNode[]): {
  test: DocPredicate;
  constant: boolean | undefined;
} {
  return compileAlternatives(nodes);
}
