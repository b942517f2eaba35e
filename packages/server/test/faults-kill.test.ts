/**
 * kill -9 of a hub process under refresh load, then a restart on the same data: every
 * session lives on (a client whose answer was lost retries with the token it had), no
 * token is issued twice. `npm run faults -- kill9` runs the same with more clients.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { cleanup, engines } from "./helpers/engines.js";
import { killUnderLoad } from "./helpers/fault-scenarios.js";

after(cleanup);

for (const engine of engines()) {
  describe(`kill -9 under refresh load on ${engine.name}`, () => {
    test("8 clients: none lost, none duplicated, the restarted hub exits cleanly", async () => {
      const db = await engine.database();
      const r = await killUnderLoad({
        databaseUrl: db.kind === "postgres" ? db.url : undefined,
        clients: 8,
        loadMs: 1500,
      });
      assert.deepEqual(r.problems, []);
      assert.equal(r.killedExit, "SIGKILL");
      assert.equal(r.aliveBefore, 8);
      assert.equal(r.aliveAfter, 8);
      assert.equal(r.lost, 0);
      assert.equal(r.duplicated, 0);
      assert.ok(r.refreshesBefore > 8, `only ${r.refreshesBefore} refreshes before the kill`);
    });
  });
}
