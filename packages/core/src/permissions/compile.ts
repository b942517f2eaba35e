import type { CompareNode, InNode, LiteralValue, PathNode, PathSegment, QueryNode, TestNode } from "./ast.js";
import { printPath } from "./printer.js";

/*
 * Compiles a checked syntax tree into a predicate over a document's `_id`, made of
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

/** A compiled query: true when the `_id` value satisfies it. Never throws on JSON data. */
export type IdPredicate = (id: unknown) => boolean;

/** Reads a path from an `_id` value; `undefined` when missing. */
type Getter = (id: unknown) => unknown;
/** Tests the value found at a path. */
type ValueTest = (value: unknown) => boolean;

const hasOwn = Object.hasOwn;
const isArray = Array.isArray;

const alwaysTrue: IdPredicate = () => true;
const alwaysFalse: IdPredicate = () => false;

function keyStep(key: string): Getter {
  return (v) =>
    typeof v === "object" && v !== null && !isArray(v) && hasOwn(v, key)
      ? (v as Record<string, unknown>)[key]
      : undefined;
}

function indexStep(index: number): Getter {
  return (v) => (isArray(v) && hasOwn(v, index) ? (v as unknown[])[index] : undefined);
}

function step(segment: PathSegment): Getter {
  return segment.kind === "key" ? keyStep(segment.key) : indexStep(segment.index);
}

export function compileGetter(path: PathNode): Getter | undefined {
  const steps = path.segments.map(step);
  const [a, b, c] = steps;
  if (a === undefined) return undefined; // `_id` itself: no getter needed
  if (b === undefined) return a;
  if (c === undefined) return (id) => b(a(id));
  return (id) => {
    let v = id;
    for (const s of steps) {
      v = s(v);
      if (v === undefined) return undefined;
    }
    return v;
  };
}

/**
 * Membership in a list of literals with `==` semantics (SameValueZero equals `===` for
 * literals, which are never NaN). Up to four values, a chain of `===` beats a Set lookup.
 */
function membership(values: readonly LiteralValue[]): ValueTest {
  const distinct = [...new Set(values)];
  const [a, b, c, d] = distinct;
  switch (distinct.length) {
    case 0:
      return () => false;
    case 1:
      return (v) => v === a;
    case 2:
      return (v) => v === a || v === b;
    case 3:
      return (v) => v === a || v === b || v === c;
    case 4:
      return (v) => v === a || v === b || v === c || v === d;
  }
  const set: ReadonlySet<unknown> = new Set(distinct);
  return (v) => set.has(v);
}

function arrayContains(v: unknown, lit: LiteralValue): boolean {
  if (!isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (v[i] === lit && hasOwn(v, i)) return true;
  return false;
}

function compareTest(node: CompareNode): ValueTest {
  const lit = node.value.value;
  switch (node.op) {
    case "==":
      return (v) => v === lit;
    case "!=": {
      if (lit === null) return (v) => v !== undefined && v !== null;
      const type = typeof lit;
      return (v) => typeof v === type && v !== lit;
    }
  }
  // Ordering: the checker allows only numbers and strings here.
  const type = typeof lit;
  const l = lit as number | string;
  switch (node.op) {
    case "<":
      return (v) => typeof v === type && (v as number | string) < l;
    case "<=":
      return (v) => typeof v === type && (v as number | string) <= l;
    case ">":
      return (v) => typeof v === type && (v as number | string) > l;
    case ">=":
      return (v) => typeof v === type && (v as number | string) >= l;
  }
}

function stringTest(node: TestNode): ValueTest {
  const lit = node.value.value;
  switch (node.test) {
    case "startsWith": {
      const s = lit as string;
      return (v) => typeof v === "string" && v.startsWith(s);
    }
    case "endsWith": {
      const s = lit as string;
      return (v) => typeof v === "string" && v.endsWith(s);
    }
    case "contains":
      if (typeof lit === "string") {
        return (v) => (typeof v === "string" ? v.includes(lit) : arrayContains(v, lit));
      }
      return (v) => arrayContains(v, lit);
  }
}

/** Joins a path and a test into one predicate; a one-key path is fused to save a call. */
function onPath(path: PathNode, test: ValueTest): IdPredicate {
  const only = path.segments.length === 1 ? path.segments[0] : undefined;
  if (only?.kind === "key") {
    const key = only.key;
    return (id) =>
      typeof id === "object" &&
      id !== null &&
      !isArray(id) &&
      hasOwn(id, key) &&
      test((id as Record<string, unknown>)[key]);
  }
  const get = compileGetter(path);
  if (get === undefined) return test;
  return (id) => test(get(id));
}

/** A compiled node, with its value when it is the same for every document. */
interface Compiled {
  readonly test: IdPredicate;
  readonly constant: boolean | undefined;
}

const TRUE: Compiled = { test: alwaysTrue, constant: true };
const FALSE: Compiled = { test: alwaysFalse, constant: false };
const dynamic = (test: IdPredicate): Compiled => ({ test, constant: undefined });

function conjunction(parts: readonly Compiled[]): Compiled {
  if (parts.some((p) => p.constant === false)) return FALSE;
  const tests = parts.filter((p) => p.constant !== true).map((p) => p.test);
  const [a, b, c] = tests;
  if (a === undefined) return TRUE;
  if (b === undefined) return dynamic(a);
  if (c === undefined) return dynamic((id) => a(id) && b(id));
  if (tests.length === 3) return dynamic((id) => a(id) && b(id) && c(id));
  return dynamic((id) => {
    for (const t of tests) if (!t(id)) return false;
    return true;
  });
}

function disjunction(parts: readonly Compiled[]): Compiled {
  if (parts.some((p) => p.constant === true)) return TRUE;
  const tests = parts.filter((p) => p.constant !== false).map((p) => p.test);
  const [a, b, c] = tests;
  if (a === undefined) return FALSE;
  if (b === undefined) return dynamic(a);
  if (c === undefined) return dynamic((id) => a(id) || b(id));
  if (tests.length === 3) return dynamic((id) => a(id) || b(id) || c(id));
  return dynamic((id) => {
    for (const t of tests) if (t(id)) return true;
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
  const merged = [...groups.values()].map((g) => dynamic(onPath(g.path, membership(g.values))));
  return disjunction([...merged, ...rest]);
}

function asMembership(node: QueryNode): { path: PathNode; values: readonly LiteralValue[] } | undefined {
  if (node.kind === "compare" && node.op === "==") return { path: node.path, values: [node.value.value] };
  if (node.kind === "in") return { path: node.path, values: node.values.map((v) => v.value) };
  return undefined;
}

function compileIn(node: InNode): Compiled {
  if (node.values.length === 0) return FALSE;
  return dynamic(onPath(node.path, membership(node.values.map((v) => v.value))));
}

function compileNode(node: QueryNode): Compiled {
  switch (node.kind) {
    case "boolean":
      return node.value ? TRUE : FALSE;
    case "compare":
      return dynamic(onPath(node.path, compareTest(node)));
    case "in":
      return compileIn(node);
    case "test":
      return dynamic(onPath(node.path, stringTest(node)));
    case "not": {
      const inner = compileNode(node.operand);
      if (inner.constant !== undefined) return inner.constant ? FALSE : TRUE;
      const t = inner.test;
      return dynamic((id) => !t(id));
    }
    case "and":
      return conjunction(node.operands.map(compileNode));
    case "or":
      return compileAlternatives(node.operands);
  }
}

/** Compiles one query. `constant` is set when the answer does not depend on the document. */
export function compileQueryNode(node: QueryNode): { test: IdPredicate; constant: boolean | undefined } {
  return compileNode(node);
}

/** Compiles the queries of one collection into one predicate: true when any of them is. */
export function compileAnyOf(nodes: readonly QueryNode[]): {
  test: IdPredicate;
  constant: boolean | undefined;
} {
  return compileAlternatives(nodes);
}
