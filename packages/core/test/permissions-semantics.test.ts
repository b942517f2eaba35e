import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compileQuery } from "@meshauth/core";

/** Does `query` match a document whose `_id` is `id`? */
function matches(query: string, id: unknown): boolean {
  return compileQuery(query)({ _id: id });
}

function table(rows: [string, unknown, boolean][]): void {
  for (const [query, id, expected] of rows) {
    test(`${query} on ${JSON.stringify(id) ?? String(id)} → ${expected}`, () => {
      assert.equal(matches(query, id), expected);
    });
  }
}

describe("equality", () => {
  table([
    ["_id.owner == 'u1'", { owner: "u1" }, true],
    ["_id.owner == 'u1'", { owner: "u2" }, false],
    ["_id.owner == 'u1'", { owner: "U1" }, false],
    ["_id == 'doc-1'", "doc-1", true],
    ["_id == 7", 7, true],
    ["_id == 7", "7", false],
    ["_id.n == 1", { n: 1.0 }, true],
    ["_id.n == 0", { n: -0 }, true],
    ["_id.n == 1", { n: "1" }, false],
    ["_id.n == 1", { n: true }, false],
    ["_id.b == true", { b: true }, true],
    ["_id.b == true", { b: 1 }, false],
    ["_id.b == false", { b: 0 }, false],
    ["_id.b == false", { b: "" }, false],
    ["_id.x == null", { x: null }, true],
    ["_id.x == null", {}, false],
    ["_id.x == null", { x: 0 }, false],
    ["_id.o == 'x'", { o: { x: 1 } }, false],
    ["_id.o == 'x'", { o: ["x"] }, false],
    ["_id.a.b.c == 1", { a: { b: { c: 1 } } }, true],
    ["_id.a.b.c == 1", { a: { b: null } }, false],
    ["_id['a-b'] == 1", { "a-b": 1 }, true],
    ["_id.n == 1", { n: Number.NaN }, false],
  ]);
});

describe("!= (same type and different; '!= null' means present and not null)", () => {
  table([
    ["_id.owner != 'u1'", { owner: "u2" }, true],
    ["_id.owner != 'u1'", { owner: "u1" }, false],
    ["_id.owner != 'u1'", {}, false],
    ["_id.owner != 'u1'", { owner: null }, false],
    ["_id.owner != 'u1'", { owner: 5 }, false],
    ["_id.owner != 'u1'", { owner: { id: "u2" } }, false],
    ["_id.n != 1", { n: 2 }, true],
    ["_id.n != 1", { n: "2" }, false],
    ["_id.b != true", { b: false }, true],
    ["_id.x != null", { x: 0 }, true],
    ["_id.x != null", { x: "" }, true],
    ["_id.x != null", { x: {} }, true],
    ["_id.x != null", { x: null }, false],
    ["_id.x != null", {}, false],
    ["_id.x != null", { x: undefined }, false],
    ["!(_id.owner == 'u1')", {}, true],
    ["!(_id.owner == 'u1')", { owner: 5 }, true],
    ["!(_id.owner != 'u1')", {}, true],
  ]);
});

describe("ordering (numbers with numbers, strings with strings)", () => {
  table([
    ["_id.n < 3", { n: 2 }, true],
    ["_id.n < 3", { n: 3 }, false],
    ["_id.n <= 3", { n: 3 }, true],
    ["_id.n > -1.5", { n: -1 }, true],
    ["_id.n >= 1e3", { n: 1000 }, true],
    ["_id.n > 0", { n: "5" }, false],
    ["_id.n < 10", { n: "5" }, false],
    ["_id.n < 10", { n: null }, false],
    ["_id.n < 10", { n: true }, false],
    ["_id.n < 10", {}, false],
    ["_id.n > 0", { n: Number.NaN }, false],
    ["_id.n < 0", { n: Number.NEGATIVE_INFINITY }, true],
    ["_id.s < 'b'", { s: "a" }, true],
    ["_id.s < 'b'", { s: "B" }, true],
    ["_id.s >= 'b'", { s: "ba" }, true],
    ["_id.s < 'b'", { s: 1 }, false],
    ["_id.s > '2'", { s: "10" }, false],
    ["!(_id.n < 3)", { n: "x" }, true],
  ]);
});

describe("in", () => {
  table([
    ["_id.team in ['a', 'b']", { team: "a" }, true],
    ["_id.team in ['a', 'b']", { team: "c" }, false],
    ["_id.team in ['a', 'b']", {}, false],
    ["_id.team in []", { team: "a" }, false],
    ["_id.x in [1, 'one', true, null]", { x: null }, true],
    ["_id.x in [1, 'one', true, null]", { x: "1" }, false],
    ["_id.x in [1, 2, 3, 4, 5, 6]", { x: 6 }, true],
    ["_id.x in [1, 2, 3, 4, 5, 6]", { x: "6" }, false],
    ["_id.x in [1, 2, 3, 4, 5, 6]", { x: -0 }, false],
    ["_id.x in [0, 2, 3, 4, 5, 6]", { x: -0 }, true],
    ["_id.x in ['a', 'b', 'c', 'd', 'e']", { x: ["a"] }, false],
  ]);
});

describe("string tests", () => {
  table([
    ["_id.region.startsWith('eu-')", { region: "eu-west" }, true],
    ["_id.region.startsWith('eu-')", { region: "us-east" }, false],
    ["startsWith(_id.region, 'eu-')", { region: "eu-west" }, true],
    ["startsWith(_id.region, 'eu-')", { region: 5 }, false],
    ["_id.region.startsWith('')", { region: "" }, true],
    ["_id.region.startsWith('eu-')", {}, false],
    ["_id.file.endsWith('.pdf')", { file: "a.pdf" }, true],
    ["endsWith(_id.file, '.pdf')", { file: "a.pdfx" }, false],
    ["_id.path.contains('/shared/')", { path: "/x/shared/y" }, true],
    ["contains(_id.path, '/shared/')", { path: "/x/y" }, false],
    ["_id.tags.contains('red')", { tags: ["blue", "red"] }, true],
    ["_id.tags.contains('red')", { tags: ["blue"] }, false],
    ["_id.tags.contains(3)", { tags: [1, 2, 3] }, true],
    ["_id.tags.contains(3)", { tags: ["3"] }, false],
    ["contains(_id.tags, null)", { tags: [null] }, true],
    ["_id.tags.contains(3)", { tags: "123" }, false],
    ["_id.tags.contains('x')", { tags: { x: 1 } }, false],
    ["_id.startsWith('org:')", "org:acme", true],
    ["!_id.region.startsWith('eu-')", { region: "us" }, true],
    ["!_id.region.startsWith('eu-')", {}, true],
  ]);
});

describe("arrays and indexes", () => {
  table([
    ["_id.tags[0] == 'a'", { tags: ["a", "b"] }, true],
    ["_id.tags[1] == 'b'", { tags: ["a", "b"] }, true],
    ["_id.tags[2] == 'b'", { tags: ["a", "b"] }, false],
    ["_id.tags[0] == 'a'", { tags: { 0: "a" } }, false],
    ["_id.tags['0'] == 'a'", { tags: ["a"] }, false],
    ["_id[0] == 'a'", ["a"], true],
    ["_id.m[0].k == 1", { m: [{ k: 1 }] }, true],
    ["_id.tags[0] != null", { tags: [] }, false],
    ["_id.tags.length > 0", { tags: ["a"] }, false],
    ["_id.s.length > 0", { s: "abc" }, false],
  ]);

  test("holes in sparse arrays are missing", () => {
    // biome-ignore lint/suspicious/noSparseArray: the point of the test
    const sparse = [, "b"];
    assert.equal(matches("_id.a[0] == null", { a: sparse }), false);
    assert.equal(matches("_id.a[0] != null", { a: sparse }), false);
  });
});

describe("missing _id and odd documents", () => {
  const q = compileQuery("_id.owner == 'u1'");
  const any = compileQuery("true");
  const none = compileQuery("false");
  test("documents without an own _id match only constant queries", () => {
    assert.equal(q({} as { _id: unknown }), false);
    assert.equal(q({ _id: undefined }), false);
    assert.equal(q(Object.create({ _id: { owner: "u1" } })), false);
    assert.equal(any({} as { _id: unknown }), true);
    assert.equal(none({ _id: { owner: "u1" } }), false);
    assert.equal(q(null as unknown as { _id: unknown }), false);
    assert.equal(q("str" as unknown as { _id: unknown }), false);
  });
  test("non-JSON values never compare and never throw", () => {
    for (const id of [new Date(0), new Map([["owner", "u1"]]), () => 1, Symbol("x"), 10n, undefined]) {
      assert.equal(matches("_id.owner == 'u1'", id), false);
      assert.equal(matches("_id == 1", id), false);
      assert.equal(matches("_id != 1", id), false);
    }
    assert.equal(matches("_id.n == 1", { n: 1n }), false);
  });
  test("a document whose _id throws when read is denied, not an exception", () => {
    const hostile = {
      get _id(): unknown {
        throw new Error("boom");
      },
    };
    assert.equal(q(hostile), false);
    const deep = {
      _id: {
        get owner(): string {
          throw new Error("boom");
        },
      },
    };
    assert.equal(q(deep), false);
  });
  test("class instances: own fields count, prototype members do not", () => {
    class Id {
      owner = "u1";
      get role(): string {
        return "admin";
      }
    }
    assert.equal(matches("_id.owner == 'u1'", new Id()), true);
    assert.equal(matches("_id.role == 'admin'", new Id()), false);
  });
});

describe("prototype safety: paths walk own properties only", () => {
  table([
    ["_id.constructor != null", {}, false],
    ["_id.__proto__ != null", {}, false],
    ["_id.toString != null", {}, false],
    ["_id.hasOwnProperty != null", {}, false],
    ["_id.constructor.name == 'Object'", {}, false],
    ["_id.__proto__.polluted == true", {}, false],
    ["_id['__proto__'] == null", {}, false],
    ["_id.constructor == 'x'", { constructor: "x" }, true],
    ["_id.tags.length == 1", { tags: ["a"] }, false],
    ["_id.s.constructor != null", { s: "abc" }, false],
    ["!(_id.constructor != null)", {}, true],
    ["!(_id.toString == null)", {}, true],
    ["_id.a.constructor.name == 'Object'", { a: {} }, false],
    ["!(_id.a.constructor.name == 'Object')", { a: {} }, true],
  ]);

  test("an inherited _id is no _id, also under negation", () => {
    const doc = Object.create({ _id: { owner: "u1" } }) as { _id: unknown };
    assert.equal(compileQuery("_id.owner == 'u1'")(doc), false);
    assert.equal(compileQuery("!(_id.owner == 'u1')")(doc), true);
    assert.equal(compileQuery("_id != null")(doc), false);
  });

  test("an own __proto__ member from JSON is data and can be matched", () => {
    const doc = JSON.parse('{"_id": {"__proto__": {"role": "admin"}}}') as { _id: unknown };
    assert.equal(compileQuery("_id.__proto__.role == 'admin'")(doc), true);
  });

  test("a polluted Object.prototype grants nothing", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto["owner"] = "u1";
    proto["polluted"] = true;
    try {
      assert.equal(matches("_id.owner == 'u1'", {}), false);
      assert.equal(matches("_id.polluted == true", {}), false);
      assert.equal(matches("_id.a.owner == 'u1'", { a: {} }), false);
      assert.equal(compileQuery("_id == null")({} as { _id: unknown }), false);
    } finally {
      delete proto["owner"];
      delete proto["polluted"];
    }
  });

  test("a polluted Array.prototype grants nothing", () => {
    const proto = Array.prototype as unknown as Record<number, unknown>;
    proto[0] = "admin";
    try {
      assert.equal(matches("_id.roles[0] == 'admin'", { roles: [] }), false);
      // biome-ignore lint/suspicious/noSparseArray: a hole that would read through the prototype
      assert.equal(matches("_id.roles.contains('admin')", { roles: [, "user"] }), false);
    } finally {
      delete proto[0];
    }
  });
});

describe("logic", () => {
  table([
    ["true", {}, true],
    ["false", {}, false],
    ["!false", {}, true],
    ["!!true", {}, true],
    ["_id.a == 1 && _id.b == 2", { a: 1, b: 2 }, true],
    ["_id.a == 1 && _id.b == 2", { a: 1, b: 3 }, false],
    ["_id.a == 1 || _id.b == 2", { a: 0, b: 2 }, true],
    ["_id.a == 1 || _id.b == 2", { a: 0, b: 0 }, false],
    ["_id.a == 1 || _id.b == 2 && _id.c == 3", { a: 1 }, true],
    ["(_id.a == 1 || _id.b == 2) && _id.c == 3", { a: 1 }, false],
    ["_id.team in ['a', 'b'] && !(_id.archived == true)", { team: "a" }, true],
    ["_id.team in ['a', 'b'] && !(_id.archived == true)", { team: "a", archived: true }, false],
    ["_id.team in ['a', 'b'] && !(_id.archived == true)", { team: "a", archived: "yes" }, true],
    ["_id.a == 1 || _id.a == 2 || _id.a == 3 || _id.a == 4 || _id.a == 5 || _id.a == 6", { a: 6 }, true],
    ["_id.a == 1 || _id.a == 2 || _id.a == 3 || _id.a == 4 || _id.a == 5 || _id.a == 6", { a: 7 }, false],
    ["_id.a == 1 || _id.a in [2, 3] || _id.b == 1", { a: 3 }, true],
    ["_id.a == 1 || _id.a in [2, 3] || _id.b == 1", { b: 1 }, true],
    ["_id.a == 1 || _id.a in [2, 3] || _id.b == 1", { a: "3" }, false],
    ["false || _id.a == 1", { a: 1 }, true],
    ["true && _id.a == 1", { a: 2 }, false],
    ["_id.a == 1 && _id.b == 1 && _id.c == 1 && _id.d == 1", { a: 1, b: 1, c: 1, d: 1 }, true],
    ["_id.a == 1 && _id.b == 1 && _id.c == 1 && _id.d == 1", { a: 1, b: 1, c: 1 }, false],
  ]);
});
