/**
 * The read filter (what the hub compiles to SQL) agrees with the authorizer: exactly when it
 * says it is exact, and as a superset otherwise, never dropping a readable document.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compilePermissions, type Permissions, parseQuery } from "@meshauth/core";
import { type CollectionSpec, enforcerFor, evaluateKeyFilter, idFromKeys } from "@meshauth/sync";
import fc from "fast-check";

const VALUES = ["a", "b", "ab", "ba", "", "é", "😀", "a😀", "\uFFFD"];
const lit = fc.constantFrom(...VALUES).map((v) => `'${v}'`);
const anyLit = fc.oneof(lit, fc.constantFrom("1", "true", "null", "-2.5"));

function atoms(fields: readonly string[]): fc.Arbitrary<string> {
  const path = fc.constantFrom(
    "_id",
    "_id.nope",
    "_id[0]",
    ...fields.map((f) => `_id.${f}`),
    ...fields.map((f) => `_id['${f}']`),
  );
  return fc.oneof(
    fc
      .tuple(path, fc.constantFrom("==", "!=", "<", "<=", ">", ">="), anyLit)
      .map(([p, op, v]) => `${p} ${op} ${v}`),
    fc.tuple(path, fc.array(anyLit, { maxLength: 4 })).map(([p, vs]) => `${p} in [${vs.join(", ")}]`),
    fc.tuple(path, fc.constantFrom("startsWith", "endsWith"), lit).map(([p, t, v]) => `${p}.${t}(${v})`),
    fc.tuple(path, anyLit).map(([p, v]) => `contains(${p}, ${v})`),
    fc.constantFrom("true", "false"),
  );
}

function queries(fields: readonly string[]): fc.Arbitrary<string> {
  const { q } = fc.letrec((tie) => ({
    q: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      atoms(fields),
      tie("q").map((x) => `!(${x as string})`),
      fc.tuple(tie("q"), tie("q")).map(([a, b]) => `(${a as string}) && (${b as string})`),
      fc.tuple(tie("q"), tie("q")).map(([a, b]) => `(${a as string}) || (${b as string})`),
    ),
  }));
  // Keep what the checker accepts (it refuses, say, `_id < true`).
  return (q as fc.Arbitrary<string>).filter((text) => {
    try {
      parseQuery(text);
      return true;
    } catch {
      return false;
    }
  });
}

function permissionsOf(collection: string, qs: string[]): Permissions {
  return {
    read: { everything: false, queriesByCollection: { [collection]: qs } },
    write: { everything: false, queriesByCollection: {} },
  };
}

for (const spec of [
  { name: "todos", idFields: ["owner", "list"] },
  { name: "notes", idFields: ["id"] },
] satisfies CollectionSpec[]) {
  describe(`read filter over ${spec.idFields.join(", ")}`, () => {
    test("selects what the authorizer reads: exactly when exact, a superset otherwise", () => {
      fc.assert(
        fc.property(
          fc.array(queries(spec.idFields), { minLength: 1, maxLength: 3 }),
          fc.array(
            fc.array(fc.constantFrom(...VALUES), {
              minLength: spec.idFields.length,
              maxLength: spec.idFields.length,
            }),
            {
              minLength: 1,
              maxLength: 12,
            },
          ),
          (qs, docs) => {
            const permissions = permissionsOf(spec.name, qs);
            const authorizer = compilePermissions(permissions);
            const filter = enforcerFor(permissions, spec).readFilter;
            for (const keys of docs) {
              const reads = authorizer.canRead(spec.name, { _id: idFromKeys(spec, keys) });
              const selected = evaluateKeyFilter(filter.where, keys);
              if (filter.exact) assert.equal(selected, reads, `${qs.join(" | ")} on ${JSON.stringify(keys)}`);
              else if (reads)
                assert.ok(selected, `superset lost ${JSON.stringify(keys)} for ${qs.join(" | ")}`);
            }
          },
        ),
        { numRuns: 400 },
      );
    });
  });
}

describe("read filter shapes", () => {
  const spec = { name: "todos", idFields: ["owner", "list"] };
  const filterOf = (...qs: string[]) => enforcerFor(permissionsOf("todos", qs), spec).readFilter;

  test("equality and membership become one key condition", () => {
    assert.deepEqual(filterOf("_id.owner == 'u1' && _id.list in ['a', 'b']"), {
      exact: true,
      where: {
        kind: "and",
        operands: [
          { kind: "in", field: 0, values: ["u1"] },
          { kind: "in", field: 1, values: ["a", "b"] },
        ],
      },
    });
  });

  test("an ordering is not exact: the hub filters those rows again in JS", () => {
    const f = filterOf("_id.owner > 'm'");
    assert.equal(f.exact, false);
    assert.deepEqual(f.where, { kind: "const", value: true });
  });

  test("an ordering next to an equality still narrows by the equality", () => {
    const f = filterOf("_id.owner == 'u1' && _id.list > 'm'");
    assert.equal(f.exact, false);
    assert.deepEqual(f.where, { kind: "in", field: 0, values: ["u1"] });
  });

  test("a path outside the ID fields selects nothing", () => {
    assert.deepEqual(filterOf("_id.secret == 'x'"), { exact: true, where: { kind: "const", value: false } });
  });

  test("everything and an unlisted collection are constants", () => {
    const all: Permissions = {
      read: { everything: true, queriesByCollection: {} },
      write: { everything: false, queriesByCollection: {} },
    };
    assert.deepEqual(enforcerFor(all, spec).readFilter.where, { kind: "const", value: true });
    assert.deepEqual(enforcerFor(permissionsOf("other", ["true"]), spec).readFilter.where, {
      kind: "const",
      value: false,
    });
  });
});
