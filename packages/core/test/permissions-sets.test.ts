import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compilePermissions,
  createPermissionCompiler,
  describeDecision,
  FULL_ACCESS,
  MAX_COLLECTIONS,
  MAX_PERMISSIONS_BYTES,
  MAX_QUERIES_PER_COLLECTION,
  NO_ACCESS,
  PermissionQueryError,
  type Permissions,
  PermissionsError,
  validatePermissions,
} from "@meshauth/core";

function refusal(input: unknown, options?: Parameters<typeof validatePermissions>[1]): PermissionsError {
  try {
    validatePermissions(input, options);
  } catch (error) {
    assert.ok(error instanceof PermissionsError, `not a PermissionsError: ${String(error)}`);
    assert.equal(error.code, "invalid_permissions");
    return error;
  }
  assert.fail("expected the permission set to be refused");
}

const rules = (queriesByCollection: Record<string, string[]>, everything = false) => ({
  everything,
  queriesByCollection,
});

/** The three roles of Ditto's public sample-authentication-permissions, as its webhook sends them. */
const DITTO_SAMPLES = {
  customer: `{
    "read": {"everything": false, "queriesByCollection": {"orders": ["_id.userID == 'u1'"], "products": ["true"]}},
    "write": {"everything": false, "queriesByCollection": {"orders": ["_id.userID == 'u1'"]}}
  }`,
  manager: `{
    "read": {"everything": true, "queriesByCollection": {}},
    "write": {"everything": true, "queriesByCollection": {}}
  }`,
  employee: `{
    "read": {"everything": true, "queriesByCollection": {}},
    "write": {"everything": false, "queriesByCollection": {"orders": ["true"]}}
  }`,
  // From PROTOCOL.md and the issue: per-owner cars, team-scoped tasks, regional sites.
  owner: `{
    "read":  {"everything": false, "queriesByCollection": {"cars": ["_id.owner == 'u123'"]}},
    "write": {"everything": false, "queriesByCollection": {"cars": ["_id.owner == 'u123'"]}}
  }`,
  teams: `{
    "read": {"everything": false, "queriesByCollection": {
      "tasks": ["_id.team in ['a', 'b'] && !(_id.archived == true)", "_id.assignee == 'u7'"],
      "sites": ["_id.region.startsWith('eu-')", "endsWith(_id.name, '-public')"],
      "locations": ["_id.locationId == 'abc'"]
    }},
    "write": {"everything": false, "queriesByCollection": {"tasks": ["_id.assignee == 'u7'"], "sites": ["false"]}}
  }`,
};

describe("Ditto rule sets load unchanged and decide as documented", () => {
  test("every sample validates to an equal (normalized, frozen) set", () => {
    for (const [name, json] of Object.entries(DITTO_SAMPLES)) {
      const input = JSON.parse(json) as unknown;
      const permissions = validatePermissions(input);
      assert.deepEqual(permissions, input, name);
      assert.ok(Object.isFrozen(permissions) && Object.isFrozen(permissions.read.queriesByCollection), name);
    }
  });

  test("customer: own orders by _id.userID, every product, writes only own orders", () => {
    const a = compilePermissions(JSON.parse(DITTO_SAMPLES.customer) as Permissions);
    assert.equal(a.canRead("orders", { _id: { userID: "u1", orderId: 1 } }), true);
    assert.equal(a.canRead("orders", { _id: { userID: "u2", orderId: 2 } }), false);
    assert.equal(a.canRead("products", { _id: "p1" }), true);
    assert.equal(a.canRead("employees", { _id: "e1" }), false);
    assert.equal(a.canWrite("orders", { _id: { userID: "u1" } }), true);
    assert.equal(a.canWrite("orders", { _id: { userID: "u2" } }), false);
    assert.equal(a.canWrite("products", { _id: "p1" }), false);
    // A document whose mutable body claims the user grants nothing: only _id counts.
    assert.equal(a.canRead("orders", { _id: { orderId: 3 }, userID: "u1" } as { _id: unknown }), false);
  });

  test("manager: everything, read and write", () => {
    const a = compilePermissions(JSON.parse(DITTO_SAMPLES.manager) as Permissions);
    for (const collection of ["orders", "products", "anything"]) {
      assert.equal(a.canRead(collection, { _id: 1 }), true);
      assert.equal(a.canWrite(collection, { _id: { x: 1 } }), true);
      assert.deepEqual(a.explain("write", collection, { _id: 1 }), {
        allowed: true,
        reason: "everything",
        direction: "write",
        collection,
      });
    }
  });

  test('employee: read everything, write orders: ["true"]', () => {
    const a = compilePermissions(JSON.parse(DITTO_SAMPLES.employee) as Permissions);
    assert.equal(a.canRead("products", { _id: "p" }), true);
    assert.equal(a.canWrite("orders", { _id: { userID: "anyone" } }), true);
    assert.equal(a.canWrite("orders", {} as { _id: unknown }), true);
    assert.equal(a.canWrite("products", { _id: "p" }), false);
    assert.deepEqual(a.explain("write", "orders", { _id: 1 }), {
      allowed: true,
      reason: "query",
      direction: "write",
      collection: "orders",
      index: 0,
      query: "true",
    });
    assert.deepEqual(a.explain("write", "products", { _id: 1 }), {
      allowed: false,
      reason: "no-collection",
      direction: "write",
      collection: "products",
    });
  });

  test("teams: in, negation, both string-test spellings, literal false", () => {
    const a = compilePermissions(JSON.parse(DITTO_SAMPLES.teams) as Permissions);
    assert.equal(a.canRead("tasks", { _id: { team: "a" } }), true);
    assert.equal(a.canRead("tasks", { _id: { team: "a", archived: true } }), false);
    assert.equal(a.canRead("tasks", { _id: { team: "c", assignee: "u7" } }), true);
    assert.equal(a.canRead("sites", { _id: { region: "eu-north" } }), true);
    assert.equal(a.canRead("sites", { _id: { region: "us", name: "hq-public" } }), true);
    assert.equal(a.canRead("sites", { _id: { region: "us", name: "hq" } }), false);
    assert.equal(a.canWrite("sites", { _id: { region: "eu-north" } }), false);
    assert.deepEqual(a.explain("read", "tasks", { _id: { team: "z", assignee: "u7" } }), {
      allowed: true,
      reason: "query",
      direction: "read",
      collection: "tasks",
      index: 1,
      query: "_id.assignee == 'u7'",
    });
    assert.deepEqual(a.explain("read", "tasks", { _id: { team: "z" } }), {
      allowed: false,
      reason: "no-rule",
      direction: "read",
      collection: "tasks",
    });
    assert.equal(a.scope("read", "tasks"), "some");
    assert.equal(a.scope("write", "sites"), "none");
    assert.equal(a.scope("write", "missing"), "none");
  });
});

describe("authorizer", () => {
  const permissions: Permissions = {
    read: rules({
      cars: ["_id.owner == 'u1'", "_id.shared == true", "true"],
      trucks: [],
      notes: ["_id.owner == 'u1'"],
    }),
    write: rules({ cars: ["_id.owner == 'u1'"] }),
  };
  const a = compilePermissions(permissions);

  test("explain names the first matching query in written order", () => {
    assert.deepEqual(a.explain("read", "cars", { _id: { owner: "u1", shared: true } }), {
      allowed: true,
      reason: "query",
      direction: "read",
      collection: "cars",
      index: 0,
      query: "_id.owner == 'u1'",
    });
    const second = a.explain("read", "cars", { _id: { shared: true } });
    assert.ok(second.allowed && second.reason === "query");
    assert.equal(second.index, 1);
    const third = a.explain("read", "cars", { _id: "x" });
    assert.ok(third.reason === "query" && third.index === 2 && third.query === "true");
  });

  test("a listed collection with no queries denies with no-rule", () => {
    assert.equal(a.canRead("trucks", { _id: 1 }), false);
    assert.equal(a.explain("read", "trucks", { _id: 1 }).reason, "no-rule");
    assert.equal(a.scope("read", "trucks"), "none");
  });

  test("can, canRead and canWrite agree with explain", () => {
    const docs = [
      { _id: { owner: "u1" } },
      { _id: { owner: "u2" } },
      { _id: null },
      { _id: { shared: true } },
    ];
    for (const direction of ["read", "write"] as const) {
      for (const collection of ["cars", "trucks", "notes", "other"]) {
        for (const doc of docs) {
          const allowed = a.explain(direction, collection, doc).allowed;
          assert.equal(a.can(direction, collection, doc), allowed);
          assert.equal(
            direction === "read" ? a.canRead(collection, doc) : a.canWrite(collection, doc),
            allowed,
          );
        }
      }
    }
  });

  test("filterReadable and filterWritable keep order and element types", () => {
    type Note = { _id: { owner: string; n: number }; text: string };
    const notes: Note[] = [
      { _id: { owner: "u1", n: 1 }, text: "a" },
      { _id: { owner: "u2", n: 2 }, text: "b" },
      { _id: { owner: "u1", n: 3 }, text: "c" },
    ];
    const readable: Note[] = a.filterReadable("notes", notes);
    assert.deepEqual(
      readable.map((n) => n.text),
      ["a", "c"],
    );
    assert.deepEqual(a.filterWritable("notes", notes), []);
    assert.deepEqual(a.filterReadable("cars", new Set(notes)), notes);
    assert.deepEqual(a.filterWritable("cars", notes.values()), [notes[0], notes[2]]);
    const all = compilePermissions(FULL_ACCESS);
    assert.deepEqual(all.filterWritable("x", notes), notes);
  });

  test("scope tells whole-collection grants from per-document ones", () => {
    assert.equal(a.scope("read", "cars"), "all");
    assert.equal(a.scope("read", "notes"), "some");
    assert.equal(a.scope("read", "other"), "none");
    assert.equal(compilePermissions(FULL_ACCESS).scope("write", "x"), "all");
    assert.equal(compilePermissions(NO_ACCESS).scope("write", "x"), "none");
  });

  test("describeDecision writes a sentence naming the rule", () => {
    assert.equal(
      describeDecision(a.explain("read", "notes", { _id: { owner: "u1" } })),
      `read of a document in "notes" allowed by read.queriesByCollection.notes[0]: _id.owner == 'u1'`,
    );
    assert.match(describeDecision(a.explain("write", "x", { _id: 1 })), /denied: write.everything is false/);
    assert.match(describeDecision(a.explain("read", "notes", { _id: 1 })), /denied: no query of/);
    assert.match(
      describeDecision(compilePermissions(FULL_ACCESS).explain("read", "x", { _id: 1 })),
      /everything/,
    );
  });

  test("collection names are data: prototype names and odd characters are ordinary collections", () => {
    const odd = validatePermissions(
      JSON.parse(
        '{"read": {"everything": false, "queriesByCollection": {"__proto__": ["true"], "my coll": ["_id == 1"]}}, "write": {"everything": false}}',
      ),
    );
    assert.deepEqual(Object.keys(odd.read.queriesByCollection), ["__proto__", "my coll"]);
    const b = compilePermissions(odd);
    assert.equal(b.canRead("__proto__", { _id: 1 }), true);
    assert.equal(b.canRead("constructor", { _id: 1 }), false);
    assert.equal(b.canRead("toString", { _id: 1 }), false);
    assert.equal(b.canRead("my coll", { _id: 1 }), true);
    assert.equal(b.canRead("my coll", { _id: 2 }), false);
  });

  test("an unknown direction is a TypeError", () => {
    assert.throws(() => a.can("delete" as "read", "cars", { _id: 1 }), TypeError);
  });
});

describe("validatePermissions: shape", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["null", null, "", /must be an object \{read, write\}, found null/],
    ["array", [], "", /found an array/],
    ["string", "true", "", /found the string "true"/],
    [
      "missing write",
      { read: rules({}) },
      "write",
      /write is missing; a permission set needs both read and write/,
    ],
    ["missing read", { write: rules({}) }, "read", /read is missing/],
    [
      "unknown top-level member",
      { read: rules({}), write: rules({}), admin: true },
      "admin",
      /unknown member "admin"/,
    ],
    [
      "rules not an object",
      { read: true, write: rules({}) },
      "read",
      /expected an object \{everything, queriesByCollection\}/,
    ],
    [
      "typo in a rules member",
      { read: { everything: false, queriesByCollections: {} }, write: rules({}) },
      "read.queriesByCollections",
      /unknown member "queriesByCollections"/,
    ],
    [
      "everything not a boolean",
      { read: { everything: "true" }, write: rules({}) },
      "read.everything",
      /expected true or false, found the string "true"/,
    ],
    [
      "queriesByCollection not an object",
      { read: { everything: false, queriesByCollection: [] }, write: rules({}) },
      "read.queriesByCollection",
      /expected an object mapping collection names/,
    ],
    [
      "a single query instead of a list",
      { read: rules({}), write: { everything: false, queriesByCollection: { orders: "true" } } },
      "write.queriesByCollection.orders",
      /expected a list of query strings, found the string "true" \(write \["true"\]\)/,
    ],
    [
      "a boolean instead of a query string",
      { read: { everything: false, queriesByCollection: { orders: [true] } }, write: rules({}) },
      "read.queriesByCollection.orders[0]",
      /expected a query string, found boolean true \(queries are strings: write "true"\)/,
    ],
    [
      "an empty collection name",
      { read: rules({ "": ["true"] }), write: rules({}) },
      'read.queriesByCollection[""]',
      /collection name cannot be empty/,
    ],
  ];
  for (const [name, input, path, message] of cases) {
    test(name, () => {
      const error = refusal(input);
      assert.equal(error.path, path);
      assert.match(error.message, message);
      assert.equal(error.details["path"], path);
      assert.ok(!(error instanceof PermissionQueryError));
    });
  }

  test("everything and queriesByCollection default to false and {}", () => {
    assert.deepEqual(validatePermissions({ read: { everything: true }, write: {} }), {
      read: { everything: true, queriesByCollection: {} },
      write: { everything: false, queriesByCollection: {} },
    });
  });

  test("the result is a frozen copy, detached from the input", () => {
    const input = { read: rules({ cars: ["true"] }), write: rules({}) };
    const output = validatePermissions(input);
    assert.notEqual(output, input);
    input.read.queriesByCollection["cars"]?.push("false");
    assert.deepEqual(output.read.queriesByCollection["cars"], ["true"]);
    assert.throws(() => {
      (output.read.queriesByCollection["cars"] as string[]).push("x");
    }, TypeError);
  });
});

describe("validatePermissions: queries", () => {
  test("a bad query is named by direction, collection and index, with its position", () => {
    const input = {
      read: rules({ cars: ["_id.owner == 'u1'", "owner == 'u1'"] }),
      write: rules({}),
    };
    const error = refusal(input);
    assert.ok(error instanceof PermissionQueryError);
    assert.equal(error.path, "read.queriesByCollection.cars[1]");
    assert.equal(error.direction, "read");
    assert.equal(error.collection, "cars");
    assert.equal(error.index, 1);
    assert.equal(error.query, "owner == 'u1'");
    assert.deepEqual([error.line, error.column, error.offset], [1, 1, 0]);
    assert.deepEqual(error.expected, ["an _id path"]);
    assert.equal(
      error.message,
      `read.queriesByCollection.cars[1]: invalid query "owner == 'u1'" at line 1, column 1: ` +
        `only the immutable _id may be queried: 'owner' is not under _id ` +
        `(put access-control fields in the document's _id and write _id.owner)`,
    );
    assert.deepEqual(error.details, {
      path: "read.queriesByCollection.cars[1]",
      direction: "read",
      collection: "cars",
      index: 1,
      query: "owner == 'u1'",
      offset: 0,
      line: 1,
      column: 1,
      expected: ["an _id path"],
      found: "'owner'",
    });
  });

  test("write queries and odd collection names are named too", () => {
    const error = refusal({ read: rules({}), write: rules({ "line-items": ["true", "true", "_id.a = 1"] }) });
    assert.ok(error instanceof PermissionQueryError);
    assert.equal(error.path, 'write.queriesByCollection["line-items"][2]');
    assert.equal(error.column, 7);
  });

  test("a query error inside everything: true is still refused (it may be issued to peers)", () => {
    const error = refusal({ read: rules({ a: ["nope"] }, true), write: rules({}) });
    assert.ok(error instanceof PermissionQueryError);
  });
});

describe("validatePermissions: limits", () => {
  test("queries per collection", () => {
    const ok = Array.from({ length: MAX_QUERIES_PER_COLLECTION }, (_, i) => `_id.n == ${i}`);
    validatePermissions({ read: rules({ c: ok }), write: rules({}) });
    const error = refusal({ read: rules({ c: [...ok, "true"] }), write: rules({}) });
    assert.equal(error.path, "read.queriesByCollection.c");
    assert.match(error.problem, /lists 65 queries; the limit is 64/);
  });

  test("collections per direction", () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, ["true"]]));
    validatePermissions({ read: rules(many(MAX_COLLECTIONS)), write: rules({}) });
    const error = refusal({ read: rules({}), write: rules(many(MAX_COLLECTIONS + 1)) });
    assert.equal(error.path, "write.queriesByCollection");
    assert.match(error.problem, /lists 257 collections; the limit is 256/);
  });

  test("collection name length", () => {
    assert.match(
      refusal({ read: rules({ ["c".repeat(257)]: ["true"] }), write: rules({}) }).problem,
      /257 characters/,
    );
  });

  test("total size, measured as compact UTF-8 JSON", () => {
    const set = (queryLength: number, collections: number, text = "x") => ({
      read: rules(
        Object.fromEntries(
          Array.from({ length: collections }, (_, i) => [
            `c${i}`,
            [`_id.a == '${text.repeat(queryLength - 12)}'`],
          ]),
        ),
      ),
      write: rules({}),
    });
    const error = refusal(set(1000, 17));
    assert.equal(error.path, "");
    assert.match(error.problem, /permission set is \d+ bytes of JSON; the limit is 16384/);
    validatePermissions(set(1000, 15));
    // Multi-byte characters count as their UTF-8 bytes: 8 × 1000 × 2 bytes > 16 KiB.
    assert.match(refusal(set(500, 17, "é")).problem, /bytes of JSON/);
    assert.equal(MAX_PERMISSIONS_BYTES, 16384);
  });

  test("a too-long query inside a set", () => {
    const error = refusal({ read: rules({ c: [`_id.a == '${"x".repeat(1100)}'`] }), write: rules({}) });
    assert.ok(error instanceof PermissionQueryError);
    assert.equal(error.path, "read.queriesByCollection.c[0]");
    assert.match(error.problem, /the limit is 1024/);
    assert.ok(error.message.length < 500, "the message shortens a long query");
  });

  test("limits can be raised or lowered per call", () => {
    const set = { read: rules({ c: ["true", "true", "true"] }), write: rules({}) };
    assert.match(refusal(set, { limits: { maxQueriesPerCollection: 2 } }).problem, /the limit is 2/);
    validatePermissions(
      { read: rules({ c: Array.from({ length: 100 }, () => "true") }), write: rules({}) },
      { limits: { maxQueriesPerCollection: 100 } },
    );
    assert.match(refusal(set, { limits: { maxPermissionsBytes: 50 } }).problem, /the limit is 50/);
  });
});

describe("compilePermissions: caching", () => {
  const json = JSON.stringify({
    read: rules({ cars: ["_id.owner == 'u1'"] }),
    write: rules({}),
  });

  test("the same frozen set compiles once (by identity)", () => {
    const validated = validatePermissions(JSON.parse(json));
    assert.equal(compilePermissions(validated), compilePermissions(validated));
    assert.equal(compilePermissions(FULL_ACCESS), compilePermissions(FULL_ACCESS));
    assert.equal(compilePermissions(validated).permissions, validated);
  });

  test("equal sets arriving as fresh JSON compile once (by content, key order ignored)", () => {
    const a = compilePermissions(JSON.parse(json) as Permissions);
    const b = compilePermissions(JSON.parse(json) as Permissions);
    assert.equal(a, b);
    const reordered = {
      write: rules({}),
      read: { queriesByCollection: { cars: ["_id.owner == 'u1'"] }, everything: false },
    };
    assert.equal(compilePermissions(reordered), a);
  });

  test("a mutable set edited after compiling is recompiled, never served stale", () => {
    const mutable: Permissions = JSON.parse(json) as Permissions;
    const before = compilePermissions(mutable);
    assert.equal(before.canRead("cars", { _id: { owner: "u2" } }), false);
    mutable.read.queriesByCollection["cars"] = ["_id.owner == 'u2'"];
    const after = compilePermissions(mutable);
    assert.notEqual(after, before);
    assert.equal(after.canRead("cars", { _id: { owner: "u2" } }), true);
    assert.equal(before.canRead("cars", { _id: { owner: "u2" } }), false, "an authorizer never changes");
  });

  test("different limits do not share cache entries", () => {
    const set = JSON.parse(json) as Permissions;
    compilePermissions(set);
    assert.throws(() => compilePermissions(set, { limits: { maxQueryLength: 5 } }), PermissionQueryError);
    const frozen = validatePermissions(JSON.parse(json));
    compilePermissions(frozen);
    assert.throws(() => compilePermissions(frozen, { limits: { maxQueryLength: 5 } }), PermissionQueryError);
  });

  test("cache: false compiles afresh", () => {
    const set = validatePermissions(JSON.parse(json));
    assert.notEqual(compilePermissions(set, { cache: false }), compilePermissions(set, { cache: false }));
  });

  test("an invalid set is refused every time, never cached", () => {
    const bad = { read: rules({ c: ["_id.a = 1"] }), write: rules({}) } as Permissions;
    assert.throws(() => compilePermissions(bad), PermissionQueryError);
    assert.throws(() => compilePermissions(bad), PermissionQueryError);
    assert.throws(() => compilePermissions(null as unknown as Permissions), PermissionsError);
  });

  test("a private compiler keeps at most cacheSize sets, evicting the least recently used", () => {
    const compiler = createPermissionCompiler({ cacheSize: 2 });
    const set = (owner: string) => ({ read: rules({ c: [`_id.o == '${owner}'`] }), write: rules({}) });
    const a = compiler.compile(set("a"));
    compiler.compile(set("b"));
    assert.equal(compiler.compile(set("a")), a, "a is now the most recent");
    compiler.compile(set("c")); // evicts b
    assert.equal(compiler.size, 2);
    assert.equal(compiler.compile(set("a")), a);
    const b2 = compiler.compile(set("b"));
    assert.equal(compiler.compile(set("b")), b2);
    compiler.clear();
    assert.equal(compiler.size, 0);
    assert.notEqual(compiler.compile(set("a")), a);
    assert.throws(() => createPermissionCompiler({ cacheSize: -1 }), RangeError);
    const none = createPermissionCompiler({ cacheSize: 0 });
    assert.notEqual(none.compile(set("a")), none.compile(set("a")));
  });
});
