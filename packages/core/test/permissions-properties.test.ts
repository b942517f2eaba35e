/**
 * Property-based tests: the compiled predicates agree with a small reference interpreter
 * written straight from docs/permissions.md; printing and parsing are inverse; the parser
 * and the validator fail only with their own error types.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compilePermissions,
  compileQuery,
  type LiteralNode,
  type LiteralValue,
  type Location,
  type PathNode,
  type PathSegment,
  PermissionQueryError,
  type Permissions,
  PermissionsError,
  parseQuery,
  printQuery,
  type QueryNode,
  validatePermissions,
} from "@meshauth/core";
import fc from "fast-check";
import { strip } from "./permissions-helpers.js";

// ---- the reference interpreter -------------------------------------------------------
// Deliberately naive: one function, no compilation, no merging, no constant folding.

const MISSING = Symbol("missing");

function own(value: object, key: string): boolean {
  return Object.hasOwn(value, key);
}

function lookup(id: unknown, segments: readonly PathSegment[]): unknown {
  let value: unknown = id;
  for (const segment of segments) {
    if (value === undefined) return MISSING;
    if (segment.kind === "key") {
      if (typeof value !== "object" || value === null || Array.isArray(value) || !own(value, segment.key)) {
        return MISSING;
      }
      value = (value as Record<string, unknown>)[segment.key];
    } else {
      if (!Array.isArray(value) || !own(value, String(segment.index))) return MISSING;
      value = value[segment.index];
    }
  }
  return value === undefined ? MISSING : value;
}

/** The type names of the documentation: null, boolean, number, string, or other. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  const t = typeof value;
  return t === "boolean" || t === "number" || t === "string" ? t : "other";
}

function equal(value: unknown, literal: LiteralValue): boolean {
  return typeName(value) === typeName(literal) && value === literal;
}

function reference(node: QueryNode, id: unknown): boolean {
  switch (node.kind) {
    case "boolean":
      return node.value;
    case "not":
      return !reference(node.operand, id);
    case "and":
      return node.operands.every((o) => reference(o, id));
    case "or":
      return node.operands.some((o) => reference(o, id));
    case "in": {
      const value = lookup(id, node.path.segments);
      return value !== MISSING && node.values.some((l) => equal(value, l.value));
    }
    case "compare": {
      const value = lookup(id, node.path.segments);
      if (value === MISSING) return false;
      const literal = node.value.value;
      if (node.op === "==") return equal(value, literal);
      if (node.op === "!=")
        return literal === null ? value !== null : typeName(value) === typeName(literal) && value !== literal;
      if (typeName(value) !== typeName(literal)) return false;
      const [v, l] = [value as number | string, literal as number | string];
      if (node.op === "<") return v < l;
      if (node.op === "<=") return v <= l;
      if (node.op === ">") return v > l;
      return v >= l;
    }
    case "regex":
      return false; // the generators below make no regex nodes
    case "test": {
      const value = lookup(id, node.path.segments);
      const literal = node.value.value;
      if (node.test === "contains" && Array.isArray(value)) {
        return value.some((element, i) => own(value, String(i)) && equal(element, literal));
      }
      if (typeof value !== "string" || typeof literal !== "string") return false;
      if (node.test === "startsWith") return value.slice(0, literal.length) === literal;
      if (node.test === "endsWith") return literal.length === 0 || value.slice(-literal.length) === literal;
      return value.indexOf(literal) !== -1;
    }
  }
}

// ---- generators ------------------------------------------------------------------------

const LOC: Location = { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
const KEYS = ["a", "b", "c", "k-1", "in", "__proto__", "constructor", "0"];
const STRINGS = ["", "a", "ab", "b", "ba", "A", "it's", 'x"y', "\\", "\n", "é", "😀"];
const NUMBERS = [0, -0, 1, -1, 1.5, 2, 10, 1e21, -3.25e-7];

const keyArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string() },
);
const stringArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: "binary" }) },
);
const numberArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);
const scalarArb: fc.Arbitrary<LiteralValue> = fc.oneof(stringArb, numberArb, fc.boolean(), fc.constant(null));

const literal = (value: LiteralValue): LiteralNode => ({ kind: "literal", value, loc: LOC });
const segmentArb: fc.Arbitrary<PathSegment> = fc.oneof(
  { weight: 4, arbitrary: keyArb.map((key) => ({ kind: "key" as const, key, loc: LOC })) },
  { weight: 1, arbitrary: fc.nat({ max: 2 }).map((index) => ({ kind: "index" as const, index, loc: LOC })) },
);
const pathArb: fc.Arbitrary<PathNode> = fc
  .array(segmentArb, { maxLength: 3 })
  .map((segments) => ({ kind: "path" as const, segments, loc: LOC }));

const leafArb: fc.Arbitrary<QueryNode> = fc.oneof(
  { weight: 1, arbitrary: fc.boolean().map((value) => ({ kind: "boolean" as const, value, loc: LOC })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ op: fc.constantFrom("==" as const, "!=" as const), path: pathArb, value: scalarArb })
      .map(({ op, path, value }) => ({
        kind: "compare" as const,
        op,
        path,
        value: literal(value),
        loc: LOC,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        op: fc.constantFrom("<" as const, "<=" as const, ">" as const, ">=" as const),
        path: pathArb,
        value: fc.oneof(stringArb, numberArb),
      })
      .map(({ op, path, value }) => ({
        kind: "compare" as const,
        op,
        path,
        value: literal(value),
        loc: LOC,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ path: pathArb, values: fc.array(scalarArb, { maxLength: 7 }) })
      .map(({ path, values }) => ({ kind: "in" as const, path, values: values.map(literal), loc: LOC })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        test: fc.constantFrom("startsWith" as const, "endsWith" as const),
        syntax: fc.constantFrom("method" as const, "function" as const),
        path: pathArb,
        value: stringArb,
      })
      .map((t) => ({ kind: "test" as const, ...t, value: literal(t.value), loc: LOC })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        syntax: fc.constantFrom("method" as const, "function" as const),
        path: pathArb,
        value: scalarArb,
      })
      .map((t) => ({
        kind: "test" as const,
        test: "contains" as const,
        ...t,
        value: literal(t.value),
        loc: LOC,
      })),
  },
);

const queryArb: fc.Arbitrary<QueryNode> = fc.letrec<{ node: QueryNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafArb,
    tie("node").map((operand) => ({ kind: "not" as const, operand, loc: LOC })),
    fc.array(tie("node"), { minLength: 2, maxLength: 4 }).map((ops) => ({
      kind: "and" as const,
      operands: ops as [QueryNode, QueryNode, ...QueryNode[]],
      loc: LOC,
    })),
    fc.array(tie("node"), { minLength: 2, maxLength: 4 }).map((ops) => ({
      kind: "or" as const,
      operands: ops as [QueryNode, QueryNode, ...QueryNode[]],
      loc: LOC,
    })),
  ),
})).node;

/** An object with own members, `__proto__` included (defined, not assigned). */
function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** `_id` values built from the same keys and scalars as the queries, so that matches happen. */
const idArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalarArb,
    fc.array(fc.tuple(fc.constantFrom(...KEYS), tie("value")), { maxLength: 5 }).map(objectOf),
    fc.array(tie("value"), { maxLength: 3 }),
  ),
})).value;

const docIdArb = fc.oneof({ weight: 8, arbitrary: idArb }, { weight: 1, arbitrary: fc.constant(undefined) });

const NO_LENGTH_LIMIT = { limits: { maxQueryLength: Number.POSITIVE_INFINITY } };

// ---- properties ----------------------------------------------------------------------

describe("compiled predicates agree with the reference interpreter", () => {
  test("on random queries and random _id values", () => {
    fc.assert(
      fc.property(queryArb, fc.array(docIdArb, { minLength: 1, maxLength: 8 }), (query, ids) => {
        const compiled = compileQuery(query);
        for (const id of ids) {
          assert.equal(
            compiled({ _id: id }),
            reference(query, id),
            `${printQuery(query)} on ${JSON.stringify(id)}`,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("through text: compile(parse(print(q))) agrees too", () => {
    fc.assert(
      fc.property(queryArb, docIdArb, (query, id) => {
        const compiled = compileQuery(printQuery(query), NO_LENGTH_LIMIT);
        assert.equal(compiled({ _id: id }), reference(query, id));
      }),
      { numRuns: 1000 },
    );
  });

  test("whole permission sets: canRead is any query, explain names the first match", () => {
    const setArb = fc.dictionary(
      fc.constantFrom("cars", "tasks", "__proto__", "x y"),
      fc.array(queryArb, { maxLength: 6 }),
      { maxKeys: 3, noNullPrototype: true },
    );
    fc.assert(
      fc.property(
        setArb,
        fc.boolean(),
        fc.array(docIdArb, { minLength: 1, maxLength: 6 }),
        (byCollection, everything, ids) => {
          const queriesByCollection: Record<string, string[]> = {};
          for (const [name, queries] of Object.entries(byCollection)) {
            Object.defineProperty(queriesByCollection, name, {
              value: queries.map((q) => printQuery(q)),
              enumerable: true,
            });
          }
          const permissions: Permissions = {
            read: { everything, queriesByCollection },
            write: { everything: false, queriesByCollection: {} },
          };
          let authorizer: ReturnType<typeof compilePermissions>;
          try {
            authorizer = compilePermissions(permissions, { cache: false });
          } catch (error) {
            // Only the size and length limits may refuse a generated set.
            assert.ok(error instanceof PermissionsError && /limit/.test(error.message), String(error));
            return;
          }
          for (const collection of ["cars", "tasks", "__proto__", "x y", "other"]) {
            const queries = Object.hasOwn(byCollection, collection)
              ? (byCollection[collection] ?? [])
              : undefined;
            for (const id of ids) {
              const doc = { _id: id };
              const first = queries?.findIndex((q) => reference(q, id)) ?? -1;
              const expected = everything || first !== -1;
              assert.equal(authorizer.canRead(collection, doc), expected);
              assert.deepEqual(authorizer.filterReadable(collection, [doc]), expected ? [doc] : []);
              const decision = authorizer.explain("read", collection, doc);
              assert.equal(decision.allowed, expected);
              if (everything) assert.equal(decision.reason, "everything");
              else if (queries === undefined) assert.equal(decision.reason, "no-collection");
              else if (first === -1) assert.equal(decision.reason, "no-rule");
              else assert.ok(decision.reason === "query" && decision.index === first);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("printing and parsing", () => {
  test("parse(print(q)) is q, positions aside", () => {
    fc.assert(
      fc.property(queryArb, (query) => {
        const printed = printQuery(query);
        assert.deepEqual(strip(parseQuery(printed, NO_LENGTH_LIMIT)), strip(query), printed);
      }),
      { numRuns: 2000 },
    );
  });

  test("print is a fixed point after one round", () => {
    fc.assert(
      fc.property(queryArb, (query) => {
        const printed = printQuery(query);
        assert.equal(printQuery(parseQuery(printed, NO_LENGTH_LIMIT)), printed);
      }),
      { numRuns: 500 },
    );
  });
});

const SOUP = [
  "_id",
  ".",
  "a",
  "b",
  "[",
  "]",
  "0",
  "-1",
  "1.5",
  "1e3",
  "'x'",
  '"y"',
  "'",
  '"',
  "\\",
  "==",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "=",
  "===",
  "&&",
  "||",
  "&",
  "|",
  "!",
  "(",
  ")",
  ",",
  "in",
  "true",
  "false",
  "null",
  "startsWith",
  "endsWith",
  "contains",
  "owner",
  " ",
  "\n",
  "\t",
  "é",
  "名",
  "#",
  "-",
  "e",
  "\\u00e9",
];

/** Checks an error against the query text: a position inside it, consistent line and column. */
function checkFault(error: unknown, text: string): void {
  assert.ok(error instanceof PermissionQueryError, `threw ${String(error)}`);
  assert.equal(error.code, "invalid_permissions");
  assert.ok(error.offset >= 0 && error.offset <= text.length, `offset ${error.offset} of ${text.length}`);
  const before = text.slice(0, error.offset);
  assert.equal(error.line, before.split("\n").length);
  assert.equal(error.column, error.offset - (before.lastIndexOf("\n") + 1) + 1);
  assert.ok(Array.isArray(error.expected));
  assert.equal(typeof error.excerpt(), "string");
}

describe("the parser fails only with PermissionQueryError", () => {
  test("on random strings", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })),
        (text) => {
          try {
            parseQuery(text);
          } catch (error) {
            checkFault(error, text);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("on random token soups; what parses round-trips through print", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...SOUP), { maxLength: 25 }),
        fc.constantFrom("", " "),
        (parts, glue) => {
          const text = parts.join(glue);
          let node: QueryNode;
          try {
            node = parseQuery(text);
          } catch (error) {
            checkFault(error, text);
            return;
          }
          assert.deepEqual(strip(parseQuery(printQuery(node), NO_LENGTH_LIMIT)), strip(node));
        },
      ),
      { numRuns: 5000 },
    );
  });

  test("on mutations of valid queries", () => {
    fc.assert(
      fc.property(
        queryArb,
        fc.nat(),
        fc.nat({ max: 3 }),
        fc.constantFrom(...SOUP),
        (query, at, cut, insert) => {
          const printed = printQuery(query);
          const i = at % (printed.length + 1);
          const text = printed.slice(0, i) + insert + printed.slice(i + cut);
          try {
            parseQuery(text, NO_LENGTH_LIMIT);
          } catch (error) {
            checkFault(error, text);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("validatePermissions fails only with PermissionsError", () => {
  test("on random JSON", () => {
    const almost = fc.record({
      read: fc.oneof(
        fc.jsonValue(),
        fc.record({
          everything: fc.jsonValue(),
          queriesByCollection: fc.dictionary(fc.string(), fc.jsonValue()),
        }),
      ),
      write: fc.jsonValue(),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), almost), (input) => {
        try {
          validatePermissions(input);
        } catch (error) {
          assert.ok(error instanceof PermissionsError, `threw ${String(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
