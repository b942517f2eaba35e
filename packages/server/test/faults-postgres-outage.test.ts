/**
 * PostgreSQL stopped and started under two hub processes (a private server, so the
 * machine's shared one is never stopped): /ready answers 503 while it is down, token
 * requests answer 503 `unavailable` (never 500, never a hang), the hubs serve again
 * without a restart, and no session is lost. `npm run faults -- pg-outage` runs more.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { postgresOutage } from "./helpers/fault-scenarios.js";
import { hasPostgresTools, type PrivatePostgres, startPrivatePostgres } from "./helpers/private-pg.js";

const tools = hasPostgresTools();
if (!tools) console.log("# PostgreSQL outage test skipped: initdb and pg_ctl are not installed");

describe("PostgreSQL stopped and started under the hubs", { skip: !tools }, () => {
  let pg: PrivatePostgres | undefined;
  before(async () => {
    pg = await startPrivatePostgres();
  });
  after(() => pg?.destroy());

  test("503 unavailable meanwhile, /ready 503 then 200, recovery without a restart", async () => {
    const r = await postgresOutage({
      pg: pg as PrivatePostgres,
      hubs: 2,
      clients: 6,
      loadMs: 1500,
      downMs: 2500,
    });
    assert.deepEqual(r.problems, []);
    assert.ok((r.phases.down.outcomes.get("503 unavailable") ?? 0) > 0);
    assert.equal(r.phases.down.outcomes.get("500 internal_error"), undefined);
    assert.ok(Number.isFinite(r.readyDownAfterMs), "/ready went 503");
    assert.ok(Number.isFinite(r.readyBackAfterMs), "/ready came back");
    assert.equal(r.aliveAtEnd, 6);
    assert.deepEqual(r.exits, ["0", "0"]);
  });
});
