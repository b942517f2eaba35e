/**
 * Read rules compiled to SQL select, on the real engines, exactly the documents the
 * authorizer allows (for exact filters) or a superset (otherwise), including non-ASCII
 * keys where SQL and JS string handling could differ.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { compilePermissions, FULL_ACCESS, type Permissions, parseQuery } from "@meshauth/core";
import { enforcerFor, idFromKeys, keyOf } from "@meshauth/sync";
import fc from "fast-check";
import { openHubCore } from "../src/hub.js";
import { DocumentStore } from "../src/sync/document-store.js";
import { syncDb } from "../src/sync/schema.js";
import { sqlFilter } from "../src/sync/sql-filter.js";
import { cleanup, engines, testConfig } from "./helpers/engines.js";

after(cleanup);

const VALUES = ["a", "b", "ab", "ba", "aa", "é", "😀", "a😀", "\uFFFD", "x%", "_", "A"];
const spec = { name: "todos", idFields: ["owner", "list"] };
const lit = fc.constantFrom(...VALUES).map((v) => `'${v}'`);
const path = fc.constantFrom("_id.owner", "_id.list", "_id", "_id.other");
const atom = fc.oneof(
  fc
    .tuple(path, fc.constantFrom("==", "!=", "<", ">="), fc.oneof(lit, fc.constant("null")))
    .map(([p, op, v]) => `${p} ${op} ${v}`),
  fc.tuple(path, fc.array(lit, { maxLength: 3 })).map(([p, vs]) => `${p} in [${vs.join(", ")}]`),
  fc.tuple(path, fc.constantFrom("startsWith", "endsWith"), lit).map(([p, t, v]) => `${p}.${t}(${v})`),
  fc.tuple(path, lit).map(([p, v]) => `contains(${p}, ${v})`),
);
const query = fc
  .oneof(
    atom,
    fc.tuple(atom, atom).map(([x, y]) => `${x} && ${y}`),
    fc.tuple(atom, atom).map(([x, y]) => `${x} || !(${y})`),
  )
  .filter((q) => {
    try {
      parseQuery(q);
      return true;
    } catch {
      return false;
    }
  });

for (const engine of engines()) {
  describe(`read rules as SQL on ${engine.name}`, () => {
    let core: Awaited<ReturnType<typeof openHubCore>>;
    let appId: string;
    const all: string[][] = [];

    before(async () => {
      core = await openHubCore(await testConfig(engine, { demoApp: false }));
      appId = (await core.apps.create({ name: "sql", providers: ["client"] })).app.id;
      const db = syncDb(core.store.db);
      await db
        .insertInto("sync_collections")
        .values({
          app_id: appId,
          name: "todos",
          id_fields: JSON.stringify(spec.idFields),
          seq: 0,
          created_at: 0,
        })
        .execute();
      for (const o of VALUES) for (const l of VALUES) all.push([o, l]);
      const store = new DocumentStore(core.store, core.store.engine);
      const e = enforcerFor(FULL_ACCESS, spec);
      for (let i = 0; i < all.length; i += 100) {
        const rows = e.checkPush({
          rows: all.slice(i, i + 100).map(([owner, list]) => ({
            assumedMasterState: null,
            newDocumentState: { owner, list, _deleted: false },
          })),
        });
        await store.push(appId, e, rows);
      }
    });
    after(() => core.close());

    test("SQL selects what the authorizer allows", async () => {
      const db = syncDb(core.store.db);
      await fc.assert(
        fc.asyncProperty(fc.array(query, { minLength: 1, maxLength: 2 }), async (qs) => {
          const permissions: Permissions = {
            read: { everything: false, queriesByCollection: { todos: qs } },
            write: { everything: false, queriesByCollection: {} },
          };
          const authorizer = compilePermissions(permissions);
          const filter = enforcerFor(permissions, spec).readFilter;
          const rows = await db
            .selectFrom("sync_documents")
            .select("doc_key")
            .where("app_id", "=", appId)
            .where(sqlFilter(filter.where, core.store.engine) as never)
            .execute();
          const selected = new Set(rows.map((r) => r.doc_key));
          for (const keys of all) {
            const reads = authorizer.canRead("todos", { _id: idFromKeys(spec, keys) });
            const inSql = selected.has(keyOf(keys));
            if (filter.exact) assert.equal(inSql, reads, `${qs.join(" | ")} on ${JSON.stringify(keys)}`);
            else if (reads) assert.ok(inSql, `${qs.join(" | ")} dropped ${JSON.stringify(keys)}`);
          }
        }),
        { numRuns: 150 },
      );
    });
  });
}
