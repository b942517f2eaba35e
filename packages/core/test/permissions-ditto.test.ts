// Ditto's legacy query syntax (snake_case string functions, regex) and Ditto's permission
// members load unchanged, next to meshauth's own spellings.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compilePermissions,
  compileQuery,
  MAX_REGEX_INPUT_LENGTH,
  PermissionQueryError,
  PermissionsError,
  parseQuery,
  printQuery,
  validatePermissions,
} from "@meshauth/core";

const doc = (id: unknown) => ({ _id: id });

describe("Ditto's legacy query syntax", () => {
  test("starts_with, ends_with and contains as functions mean what the camelCase spellings mean", () => {
    const pairs: Array<[string, string]> = [
      ["starts_with(_id.owner, 'ad')", "_id.owner.startsWith('ad')"],
      ["ends_with(_id.owner, 'da')", "endsWith(_id.owner, 'da')"],
      ["contains(_id.owner, 'd')", "_id.owner.contains('d')"],
    ];
    const docs = ["ada", "bob", "dad", 5, null, ["d"]].map((owner) => doc({ owner }));
    for (const [legacy, current] of pairs) {
      const a = compileQuery(legacy);
      const b = compileQuery(current);
      for (const d of docs) assert.equal(a(d), b(d), `${legacy} vs ${current} on ${JSON.stringify(d)}`);
      assert.equal(printQuery(parseQuery(legacy)), legacy, "printed as written");
    }
    assert.equal(compileQuery("starts_with(_id.owner, 'ad')")(doc({ owner: "ada" })), true);
    assert.equal(compileQuery("starts_with(_id.owner, 'ad')")(doc({ owner: "bob" })), false);
  });

  test("regex(_id.code, '^...$') finds a match with RE2 syntax; non-strings never match", () => {
    const code = compileQuery("regex(_id.code, '^[A-Za-z0-9_]+$')");
    assert.equal(code(doc({ code: "abc_123" })), true);
    assert.equal(code(doc({ code: "abc-123" })), false);
    assert.equal(code(doc({ code: 123 })), false);
    assert.equal(code(doc({})), false);
    const unanchored = compileQuery("regex(_id.code, 'b+')");
    assert.equal(unanchored(doc({ code: "abbbc" })), true, "a match anywhere counts, as in Ditto");
    const escaped = compileQuery("regex(_id.code, '^\\\\d{3}$')");
    assert.equal(escaped(doc({ code: "123" })), true, "a backslash is doubled inside the query's string");
    assert.equal(escaped(doc({ code: "12a" })), false);
    assert.equal(
      compileQuery("!regex(_id.code, '^x') && _id.code != null")(doc({ code: "yes" })),
      true,
      "combines like any condition",
    );
    assert.equal(printQuery(parseQuery("regex(_id.code, '^[a-z]+$')")), "regex(_id.code, '^[a-z]+$')");
  });

  test("a pattern that backtracks catastrophically elsewhere runs in linear time here", () => {
    const evil = compileQuery("regex(_id.s, '^(a+)+$')");
    const input = `${"a".repeat(MAX_REGEX_INPUT_LENGTH - 1)}b`;
    // A backtracking engine takes 2^1023 steps on this; RE2 answers at once.
    assert.equal(evil(doc({ s: input })), false);
    assert.equal(evil(doc({ s: "aaaa" })), true);
    assert.equal(
      evil(doc({ s: "a".repeat(MAX_REGEX_INPUT_LENGTH + 1) })),
      false,
      "longer strings than the input bound never match",
    );
  });

  test("bad patterns fail validation, naming the query and the reason", () => {
    const cases: Array<[string, RegExp]> = [
      ["regex(_id.c, '(a')", /invalid regular expression \(RE2 syntax\): missing closing \)/],
      ["regex(_id.c, '(?=a)b')", /invalid or unsupported Perl syntax/],
      ["regex(_id.c, '(a)\\\\1')", /invalid regular expression/],
      [`regex(_id.c, '${"a".repeat(257)}')`, /regex patterns have at most 256/],
      ["regex(_id.c, 5)", /regex needs a string pattern, found number 5/],
      ["regex('x', _id.c)", /expected|path/],
    ];
    for (const [query, message] of cases) {
      assert.throws(
        () => parseQuery(query),
        (e: unknown) => {
          assert.ok(e instanceof PermissionQueryError, `${query}: ${String(e)}`);
          assert.match(e.message, message, query);
          return true;
        },
      );
      assert.throws(
        () => validatePermissions({ read: { queriesByCollection: { c: [query] } }, write: {} }),
        (e: unknown) => e instanceof PermissionsError && /read\.queriesByCollection\.c\[0\]/.test(e.message),
        `${query} is refused when the rule set is validated`,
      );
    }
  });

  test("an unknown function lists every function there is", () => {
    assert.throws(
      () => parseQuery("matches(_id.a, 'x')"),
      /unknown function 'matches'; the functions are startsWith, endsWith, contains, starts_with, ends_with and regex/,
    );
  });

  test("permissions.remoteQuery (Ditto's configurable sample) is accepted and kept", () => {
    const permissions = validatePermissions({
      remoteQuery: true,
      read: { everything: false, queriesByCollection: { cars: ["regex(_id.vin, '^W')"] } },
      write: { everything: false, queriesByCollection: {} },
    });
    assert.equal(permissions.remoteQuery, true);
    assert.equal(compilePermissions(permissions).canRead("cars", doc({ vin: "WVW1" })), true);
    assert.equal(compilePermissions(permissions).canRead("cars", doc({ vin: "ZAR1" })), false);
    assert.equal(validatePermissions({ read: {}, write: {} }).remoteQuery, undefined);
    assert.throws(
      () => validatePermissions({ remoteQuery: "yes", read: {}, write: {} }),
      /remoteQuery: expected true or false, found/,
    );
    assert.throws(
      () => validatePermissions({ remoteQueries: true, read: {}, write: {} }),
      /unknown member "remoteQueries"; a permission set has only read, write and remoteQuery/,
    );
  });
});
