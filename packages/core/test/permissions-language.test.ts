import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MAX_QUERY_DEPTH,
  MAX_QUERY_LENGTH,
  MeshauthError,
  PermissionQueryError,
  PermissionsError,
  parseQuery,
  printQuery,
} from "@meshauth/core";
import { tokenize } from "../src/permissions/lexer.js";
import { strip } from "./permissions-helpers.js";

const path = (...segments: (string | number)[]) => ({
  kind: "path",
  segments: segments.map((s) =>
    typeof s === "number" ? { kind: "index", index: s } : { kind: "key", key: s },
  ),
});
const lit = (value: string | number | boolean | null) => ({ kind: "literal", value });
const cmp = (op: string, p: unknown, value: string | number | boolean | null) => ({
  kind: "compare",
  op,
  path: p,
  value: lit(value),
});

function parsed(query: string): unknown {
  return strip(parseQuery(query));
}

/** Parses `query`, expecting a PermissionQueryError, and returns it. */
function fault(query: string, options?: Parameters<typeof parseQuery>[1]): PermissionQueryError {
  try {
    parseQuery(query, options);
  } catch (error) {
    assert.ok(error instanceof PermissionQueryError, `not a PermissionQueryError: ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(query)} to be refused`);
}

describe("literals", () => {
  test("strings in both quote styles with every escape", () => {
    const cases: [string, string][] = [
      ["'u1'", "u1"],
      ['"u1"', "u1"],
      ["''", ""],
      [`'it\\'s'`, "it's"],
      [`"say \\"hi\\""`, 'say "hi"'],
      [`'"'`, '"'],
      [`"'"`, "'"],
      [`'a\\\\b'`, "a\\b"],
      [`'\\/'`, "/"],
      [`'\\b\\f\\n\\r\\t'`, "\b\f\n\r\t"],
      [`'\\u00e9\\u00C9'`, "éÉ"],
      [`'\\ud83d\\ude00'`, "😀"],
      ["'😀 é 名'", "😀 é 名"],
    ];
    for (const [text, value] of cases) {
      assert.deepEqual(parsed(`_id.a == ${text}`), cmp("==", path("a"), value), text);
    }
  });

  test("numbers: integers, negatives, decimals, exponents", () => {
    const cases: [string, number][] = [
      ["0", 0],
      ["-0", -0],
      ["42", 42],
      ["-7", -7],
      ["1.5", 1.5],
      ["-0.25", -0.25],
      ["1e3", 1000],
      ["1E3", 1000],
      ["2.5e-3", 0.0025],
      ["-1.5E+2", -150],
      ["9007199254740993", 9007199254740992],
    ];
    for (const [text, value] of cases) {
      const node = parseQuery(`_id.n >= ${text}`);
      assert.equal(node.kind, "compare");
      assert.ok(node.kind === "compare" && Object.is(node.value.value, value), text);
    }
  });

  test("booleans and null", () => {
    assert.deepEqual(parsed("_id.a == true"), cmp("==", path("a"), true));
    assert.deepEqual(parsed("_id.a != false"), cmp("!=", path("a"), false));
    assert.deepEqual(parsed("_id.a == null"), cmp("==", path("a"), null));
  });
});

describe("paths", () => {
  test("_id itself, dotted, bracketed, indexed, nested", () => {
    assert.deepEqual(parsed("_id == 'doc-1'"), cmp("==", path(), "doc-1"));
    assert.deepEqual(parsed("_id.a.b.c == 1"), cmp("==", path("a", "b", "c"), 1));
    assert.deepEqual(parsed("_id['a-b'] == 1"), cmp("==", path("a-b"), 1));
    assert.deepEqual(parsed('_id["x y"]["z"] == 1'), cmp("==", path("x y", "z"), 1));
    assert.deepEqual(parsed("_id.tags[0] == 'a'"), cmp("==", path("tags", 0), "a"));
    assert.deepEqual(parsed("_id[2].b[10]['c'] == 1"), cmp("==", path(2, "b", 10, "c"), 1));
    assert.deepEqual(parsed("_id . a [ 0 ] == 1"), cmp("==", path("a", 0), 1));
  });

  test("keywords and test names are ordinary keys after a dot", () => {
    assert.deepEqual(parsed("_id.in == 1"), cmp("==", path("in"), 1));
    assert.deepEqual(parsed("_id.true == 1"), cmp("==", path("true"), 1));
    assert.deepEqual(parsed("_id.null == 1"), cmp("==", path("null"), 1));
    assert.deepEqual(parsed("_id._id == 1"), cmp("==", path("_id"), 1));
    assert.deepEqual(parsed("_id.startsWith == 'x'"), cmp("==", path("startsWith"), "x"));
    assert.deepEqual(parsed("_id.$ref_2 == 'x'"), cmp("==", path("$ref_2"), "x"));
  });

  test("prototype names parse as plain keys (evaluation checks own properties)", () => {
    assert.deepEqual(parsed("_id.__proto__ == 1"), cmp("==", path("__proto__"), 1));
    assert.deepEqual(parsed("_id['constructor'] == 1"), cmp("==", path("constructor"), 1));
  });
});

describe("conditions", () => {
  test("every comparison operator", () => {
    for (const op of ["==", "!=", "<", "<=", ">", ">="]) {
      assert.deepEqual(parsed(`_id.n ${op} 3`), cmp(op, path("n"), 3));
    }
  });

  test("in lists, including empty and mixed", () => {
    assert.deepEqual(parsed("_id.team in ['a', 'b']"), {
      kind: "in",
      path: path("team"),
      values: [lit("a"), lit("b")],
    });
    assert.deepEqual(parsed("_id.team in []"), { kind: "in", path: path("team"), values: [] });
    assert.deepEqual(parsed("_id.x in [1, 'one', true, null]"), {
      kind: "in",
      path: path("x"),
      values: [lit(1), lit("one"), lit(true), lit(null)],
    });
  });

  test("string tests in method and function spelling", () => {
    for (const t of ["startsWith", "endsWith", "contains"]) {
      assert.deepEqual(parsed(`_id.region.${t}('eu-')`), {
        kind: "test",
        test: t,
        syntax: "method",
        path: path("region"),
        value: lit("eu-"),
      });
      assert.deepEqual(parsed(`${t}(_id.region, 'eu-')`), {
        kind: "test",
        test: t,
        syntax: "function",
        path: path("region"),
        value: lit("eu-"),
      });
    }
    assert.deepEqual(strip(parseQuery("_id.startsWith('x')")), {
      kind: "test",
      test: "startsWith",
      syntax: "method",
      path: path(),
      value: lit("x"),
    });
    assert.equal(parseQuery("_id.tags.contains(3)").kind, "test");
    assert.equal(parseQuery("contains(_id.tags, null)").kind, "test");
  });

  test("true and false as whole conditions", () => {
    assert.deepEqual(parsed("true"), { kind: "boolean", value: true });
    assert.deepEqual(parsed("  false\n"), { kind: "boolean", value: false });
  });

  test("precedence: ! over && over ||, chains stay flat, parentheses group", () => {
    const a = cmp("==", path("a"), 1);
    const b = cmp("==", path("b"), 2);
    const c = cmp("==", path("c"), 3);
    assert.deepEqual(parsed("_id.a == 1 || _id.b == 2 && _id.c == 3"), {
      kind: "or",
      operands: [a, { kind: "and", operands: [b, c] }],
    });
    assert.deepEqual(parsed("(_id.a == 1 || _id.b == 2) && _id.c == 3"), {
      kind: "and",
      operands: [{ kind: "or", operands: [a, b] }, c],
    });
    assert.deepEqual(parsed("_id.a == 1 && _id.b == 2 && _id.c == 3"), { kind: "and", operands: [a, b, c] });
    assert.deepEqual(parsed("_id.a == 1 && (_id.b == 2 && _id.c == 3)"), {
      kind: "and",
      operands: [a, { kind: "and", operands: [b, c] }],
    });
    assert.deepEqual(parsed("!(_id.a == 1) && !!true"), {
      kind: "and",
      operands: [
        { kind: "not", operand: a },
        { kind: "not", operand: { kind: "not", operand: { kind: "boolean", value: true } } },
      ],
    });
  });

  test("'!' applies to the whole comparison after it", () => {
    assert.deepEqual(parsed("!_id.a == 1"), parsed("!(_id.a == 1)"));
    assert.deepEqual(parsed("!_id.r.startsWith('x') || true"), {
      kind: "or",
      operands: [
        {
          kind: "not",
          operand: { kind: "test", test: "startsWith", syntax: "method", path: path("r"), value: lit("x") },
        },
        { kind: "boolean", value: true },
      ],
    });
  });

  test("the examples of the issue", () => {
    assert.deepEqual(parsed("_id.owner == 'u1'"), cmp("==", path("owner"), "u1"));
    assert.deepEqual(parsed("_id.team in ['a', 'b'] && !(_id.archived == true)"), {
      kind: "and",
      operands: [
        { kind: "in", path: path("team"), values: [lit("a"), lit("b")] },
        { kind: "not", operand: cmp("==", path("archived"), true) },
      ],
    });
  });
});

describe("positions", () => {
  test("every node records offset, line and column of its start and end", () => {
    const node = parseQuery("_id.a == 1 &&\n  !(_id.b in ['x'])");
    assert.equal(node.kind, "and");
    assert.ok(node.kind === "and");
    assert.deepEqual(node.loc, {
      start: { offset: 0, line: 1, column: 1 },
      end: { offset: 33, line: 2, column: 20 },
    });
    const [first, second] = node.operands;
    assert.deepEqual(first.loc.end, { offset: 10, line: 1, column: 11 });
    assert.ok(first.kind === "compare");
    assert.deepEqual(first.value.loc.start, { offset: 9, line: 1, column: 10 });
    assert.deepEqual(first.path.segments[0]?.loc, {
      start: { offset: 3, line: 1, column: 4 },
      end: { offset: 5, line: 1, column: 6 },
    });
    assert.deepEqual(second.loc.start, { offset: 16, line: 2, column: 3 });
    assert.ok(second.kind === "not" && second.operand.kind === "in");
    assert.deepEqual(second.operand.loc.start, { offset: 18, line: 2, column: 5 });
    assert.deepEqual(second.operand.values[0]?.loc.start, { offset: 28, line: 2, column: 15 });
  });

  test("tokens carry positions; CR is whitespace, LF ends a line", () => {
    const tokens = tokenize("_id.a\r\n== 'x'");
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.raw, t.start.line, t.start.column]),
      [
        ["name", "_id", 1, 1],
        ["punctuator", ".", 1, 4],
        ["name", "a", 1, 5],
        ["punctuator", "==", 2, 1],
        ["string", "'x'", 2, 4],
        ["end", "", 2, 7],
      ],
    );
  });
});

describe("errors", () => {
  // [query, line, column, message fragment, expected fragment?]
  const cases: [string, number, number, RegExp, string?][] = [
    ["", 1, 1, /expected a condition, found end of query/, "an _id path"],
    ["   ", 1, 4, /expected a condition/],
    ["owner == 'x'", 1, 1, /only the immutable _id may be queried: 'owner' is not under _id/, "an _id path"],
    ["title == 'x'", 1, 1, /'title' is not under _id .*write _id\.title/],
    ["_id.a == 1 && title == 'x'", 1, 15, /'title' is not under _id/],
    ["startsWith(region, 'x')", 1, 12, /'region' is not under _id/],
    ["_id.owner = 'u1'", 1, 11, /'=' is not an operator; use '=='/, "'=='"],
    ["_id.owner === 'u1'", 1, 11, /'===' is not an operator; use '=='/],
    ["_id.owner !== 'u1'", 1, 11, /'!==' is not an operator; use '!='/],
    ["_id.a == 1 & _id.b == 2", 1, 12, /'&' is not an operator; use '&&'/],
    ["_id.a == 1 | _id.b == 2", 1, 12, /'\|' is not an operator; use '\|\|'/],
    [
      "_id.a == 1 and _id.b == 2",
      1,
      12,
      /expected '&&', '\|\|' or the end of the query, found 'and' \(write '&&'\)/,
    ],
    ["_id.a == 1 or _id.b == 2", 1, 12, /found 'or' \(write '\|\|'\)/],
    ["not _id.a == 1", 1, 1, /found 'not' \(write '!'\)/],
    ["_id.a == 1)", 1, 11, /this '\)' has no matching '\('/],
    [
      "(_id.a == 1",
      1,
      12,
      /expected '\)', '&&' or '\|\|' to close the '\(' at line 1, column 1, found end of query/,
    ],
    ["_id.a", 1, 6, /a path alone is not a condition/, "'=='"],
    ["_id.a && true", 1, 7, /a path alone is not a condition/],
    [
      "_id.a 'x'",
      1,
      7,
      /expected a comparison operator, 'in' or a string test after the path, found string 'x'/,
    ],
    ["_id.a ==", 1, 9, /expected a literal .* found end of query/, "a string"],
    ["_id.a == _id.b", 1, 10, /compared with a literal, not with another path/],
    ["_id.a == x", 1, 10, /expected a literal .* found 'x'/],
    ["'a' == _id.x", 1, 1, /must start with the _id path \(write _id\.x == 'a'\)/],
    ["1 < _id.x", 1, 1, /must start with the _id path/],
    ["null == _id.x", 1, 1, /must start with the _id path/],
    ["true == _id.x", 1, 1, /must start with the _id path/],
    ["'a' in _id.tags", 1, 1, /must start with the _id path/],
    ["42", 1, 1, /expected a condition, found number 42/],
    ["null", 1, 1, /expected a condition, found 'null'/],
    ["in [1]", 1, 1, /expected a condition, found 'in'/],
    ["_id.a in 'x'", 1, 10, /expected '\[' after 'in'/],
    ["_id.a in ['x' 'y']", 1, 15, /expected ',' or '\]' in the list after 'in'/],
    ["_id.a in ['x',]", 1, 15, /expected a literal/],
    ["_id.", 1, 5, /expected a key name after '\.', found end of query/],
    ["_id.0 == 1", 1, 5, /write _id\[0\] for an array element/],
    ["_id.'a' == 1", 1, 5, /write _id\['a'\] for a key that is not an identifier/],
    ["_id.名前 == 1", 1, 5, /unexpected character '名' \(.*_id\['näme'\]\)/],
    ["_id[-1] == 1", 1, 5, /array index must be a non-negative integer, found -1/],
    ["_id[1.5] == 1", 1, 5, /array index must be a non-negative integer, found 1.5/],
    ["_id[1e2] == 1", 1, 5, /array index must be a non-negative integer/],
    ["_id[true] == 1", 1, 5, /expected a quoted key or an array index in brackets/],
    ["_id['a' == 1", 1, 9, /expected '\]' after the key/],
    ["_id.a.matches('x')", 1, 7, /'matches' is not a string test/],
    ["matches(_id.a, 'x')", 1, 1, /unknown function 'matches'/],
    ["startsWith(_id.a 'x')", 1, 18, /expected ',' after the path in startsWith/],
    ["startsWith(_id.a, 'x'", 1, 22, /expected '\)' to close startsWith/],
    ["_id.a.endsWith('x'", 1, 19, /expected '\)' to close \.endsWith/],
    ["_id.a.startsWith(1)", 1, 18, /startsWith needs a string, found number 1/, "a string"],
    ["endsWith(_id.a, null)", 1, 17, /endsWith needs a string, found null/],
    ["_id.a < null", 1, 9, /'<' orders numbers or strings, found null/],
    ["_id.a >= true", 1, 10, /'>=' orders numbers or strings, found boolean true/],
    ["_id.a == 'x", 1, 10, /string is not closed/],
    ['_id.a == "x', 1, 10, /string is not closed/],
    ["_id.a == 'x\ny'", 1, 12, /control character '\\u000a' in a string/],
    ["_id.a == 'x\\q'", 1, 12, /unknown escape '\\q'/, "\\n"],
    ["_id.a == 'x\\u12'", 1, 12, /\\u must be followed by four hexadecimal digits/],
    ["_id.a == 'x\\", 1, 12, /unknown escape at the end of the query/],
    ["_id.a == 01", 1, 10, /leading zeros/],
    ["_id.a == 1.", 1, 12, /digits after the decimal point/],
    ["_id.a == 1e", 1, 12, /digits in the exponent/],
    ["_id.a == 1x", 1, 11, /unexpected 'x' after a number/],
    ["_id.a == - 1", 1, 10, /'-' must be followed by digits/],
    ["_id.a == 1e999", 1, 10, /out of range/],
    ["_id.a == 1 # comment", 1, 12, /unexpected character '#'/],
    ["_id.a == 1 &&\n  _id.b = 2", 2, 9, /'=' is not an operator/],
    ["_id.a == 1\n&& (\n_id.b == 2", 3, 11, /to close the '\(' at line 2, column 4/],
    ["_id.a == 1\u00a0", 1, 11, /unexpected character '\\u00a0'/],
  ];
  for (const [query, line, column, message, expected] of cases) {
    test(`${JSON.stringify(query)} → ${line}:${column}`, () => {
      const error = fault(query);
      assert.match(error.problem, message);
      assert.equal(error.line, line, "line");
      assert.equal(error.column, column, "column");
      assert.equal(error.query, query);
      const lineStart =
        query
          .split("\n")
          .slice(0, line - 1)
          .join("\n").length + (line > 1 ? 1 : 0);
      assert.equal(error.offset, lineStart + column - 1, "offset");
      if (expected !== undefined) assert.ok(error.expected.includes(expected), error.expected.join(" "));
      assert.equal(error.code, "invalid_permissions");
      assert.ok(error instanceof PermissionsError && error instanceof MeshauthError);
      assert.match(error.message, new RegExp(`at line ${line}, column ${column}: `));
    });
  }

  test("the message quotes the query; details carry the position for error bodies", () => {
    const error = fault("_id.owner = 'u1'");
    assert.equal(
      error.message,
      `invalid permission query "_id.owner = 'u1'" at line 1, column 11: '=' is not an operator; use '==' to compare`,
    );
    assert.equal(error.name, "PermissionQueryError");
    assert.deepEqual(error.details, {
      path: "",
      query: "_id.owner = 'u1'",
      offset: 10,
      line: 1,
      column: 11,
      expected: ["'=='"],
      found: "'='",
    });
    assert.equal(error.excerpt(), "_id.owner = 'u1'\n          ^");
  });

  test("excerpt points into the faulty line of a multi-line query", () => {
    assert.equal(fault("_id.a == 1 &&\n\t_id.b = 2").excerpt(), "\t_id.b = 2\n\t      ^");
  });
});

describe("limits", () => {
  test("query length: the limit passes, one more is refused at the first extra character", () => {
    const fill = (n: number) => `_id.a == '${"x".repeat(n - 11)}'`;
    assert.equal(fill(MAX_QUERY_LENGTH).length, MAX_QUERY_LENGTH);
    parseQuery(fill(MAX_QUERY_LENGTH));
    const error = fault(fill(MAX_QUERY_LENGTH + 1));
    assert.match(error.problem, /query is 1025 characters long; the limit is 1024/);
    assert.equal(error.offset, MAX_QUERY_LENGTH);
    assert.equal(error.column, MAX_QUERY_LENGTH + 1);
  });

  test("nesting depth counts parentheses and '!', with '!(' as one level", () => {
    const nested = (n: number) => `${"(".repeat(n)}_id.a == 1${")".repeat(n)}`;
    parseQuery(nested(MAX_QUERY_DEPTH));
    const error = fault(nested(MAX_QUERY_DEPTH + 1));
    assert.match(error.problem, /nesting is deeper than 32 levels/);
    assert.equal(error.column, MAX_QUERY_DEPTH + 1);
    parseQuery(`${"!".repeat(MAX_QUERY_DEPTH)}true`);
    assert.equal(fault(`${"!".repeat(MAX_QUERY_DEPTH + 1)}true`).column, MAX_QUERY_DEPTH + 1);
    parseQuery(`${"!(".repeat(MAX_QUERY_DEPTH)}true${")".repeat(MAX_QUERY_DEPTH)}`);
    assert.match(
      fault(`${"!(".repeat(MAX_QUERY_DEPTH + 1)}true${")".repeat(MAX_QUERY_DEPTH + 1)}`).problem,
      /deeper/,
    );
  });

  test("limits can be overridden per call", () => {
    assert.match(fault("_id.a == 1", { limits: { maxQueryLength: 5 } }).problem, /the limit is 5/);
    assert.match(fault("((true))", { limits: { maxQueryDepth: 1 } }).problem, /deeper than 1 level/);
    parseQuery(`${"(".repeat(40)}true${")".repeat(40)}`, { limits: { maxQueryDepth: 40 } });
    assert.throws(() => parseQuery("true", { limits: { maxQueryDepth: 0 } }), RangeError);
    assert.throws(() => parseQuery("true", { limits: { maxQueryLength: 1.5 } }), RangeError);
  });

  test("a very long hostile input fails fast on length, before tokenizing", () => {
    const error = fault("(".repeat(1_000_000));
    assert.match(error.problem, /1000000 characters long/);
    assert.ok(error.message.length < 400);
  });

  test("non-string input is a TypeError, not a parse", () => {
    assert.throws(() => parseQuery(42 as unknown as string), TypeError);
  });
});

describe("printing", () => {
  const canonical: [string, string][] = [
    ["_id.owner=='u1'", "_id.owner == 'u1'"],
    ['_id["owner"] == "u1"', "_id.owner == 'u1'"],
    ["_id['a-b'][0]['c'] != null", "_id['a-b'][0].c != null"],
    ["_id.a in['x','y']", "_id.a in ['x', 'y']"],
    ["!_id.a == 1", "!(_id.a == 1)"],
    ["!(_id.a.startsWith('x'))", "!_id.a.startsWith('x')"],
    ["!((_id.a == 1 || _id.b == 2))", "!(_id.a == 1 || _id.b == 2)"],
    ["(_id.a == 1 && _id.b == 2) || _id.c == 3", "_id.a == 1 && _id.b == 2 || _id.c == 3"],
    ["_id.a == 1 && (_id.b == 2 || _id.c == 3)", "_id.a == 1 && (_id.b == 2 || _id.c == 3)"],
    ["_id.a == 1 && (_id.b == 2 && _id.c == 3)", "_id.a == 1 && (_id.b == 2 && _id.c == 3)"],
    ["endsWith( _id.a ,'x' )", "endsWith(_id.a, 'x')"],
    ["_id.n > 1E3", "_id.n > 1000"],
    ["_id.n > -0", "_id.n > -0"],
    ["_id.n < 1e21", "_id.n < 1e+21"],
    ['_id.s == "it\'s"', `_id.s == "it's"`],
    [`_id.s == 'say "hi"'`, `_id.s == 'say "hi"'`],
    [`_id.s == 'both \\' and "'`, `_id.s == 'both \\' and "'`],
    ["_id.s == '\\u0001\\n\\t\\\\'", "_id.s == '\\u0001\\n\\t\\\\'"],
    ["_id.s == '\\ud800'", "_id.s == '\\ud800'"],
    ["_id.s == 'é😀'", "_id.s == 'é😀'"],
    ["_id.startsWith.startsWith('x')", "_id.startsWith.startsWith('x')"],
  ];
  test("a query at the nesting limit still reparses after printing", () => {
    const max = MAX_QUERY_DEPTH;
    const queries = [
      `${"!".repeat(max)}_id.a == 1`,
      `${"!(".repeat(max)}_id.a == 1${")".repeat(max)}`,
      `${"!(!".repeat(max / 2)}_id.a.startsWith('x')${")".repeat(max / 2)}`,
      Array.from({ length: max }, (_, i) => `_id.k${i} == ${i} ${i % 2 ? "&&" : "||"} (`).join("") +
        "true" +
        ")".repeat(max),
    ];
    for (const query of queries) {
      const printed = printQuery(parseQuery(query));
      assert.deepEqual(
        strip(parseQuery(printed, { limits: { maxQueryLength: 4096 } })),
        strip(parseQuery(query)),
      );
    }
  });

  for (const [input, output] of canonical) {
    test(`${input} prints as ${output}`, () => {
      const printed = printQuery(parseQuery(input));
      assert.equal(printed, output);
      assert.deepEqual(strip(parseQuery(printed)), strip(parseQuery(input)));
    });
  }
});
