/**
 * Fault scripts: what clients see when the hub or its database fails under load.
 *
 *   npm run faults                 # every scenario
 *   npm run faults -- kill9        # kill -9 of the hub under refresh load, SQLite and PostgreSQL
 *   npm run faults -- pg-outage    # PostgreSQL stopped and started under two hubs
 *
 * PostgreSQL is a private server (initdb into a temporary folder, a free port), so
 * stopping it never disturbs anything else on the machine. FAULT_CLIENTS (16) sets the
 * number of clients, FAULT_LOAD_MS (3000) how long the load runs before and after each
 * fault, FAULT_PG_DOWN_MS (5000) how long PostgreSQL stays down. The scenarios are in
 * packages/server/test/helpers/fault-scenarios.ts (the crash tests run them smaller).
 * Exits non-zero when a scenario breaks a promise (a session lost, a token issued
 * twice, a 500, a request past the bound, no recovery).
 */
import { availableParallelism, cpus } from "node:os";
import {
  type KillReport,
  killUnderLoad,
  OUTAGE_PHASES,
  postgresOutage,
} from "../packages/server/test/helpers/fault-scenarios.js";
import { describeOutcomes } from "../packages/server/test/helpers/fleet.js";
import { startPrivatePostgres } from "../packages/server/test/helpers/private-pg.js";

const CLIENTS = Number(process.env.FAULT_CLIENTS ?? 16);
const LOAD_MS = Number(process.env.FAULT_LOAD_MS ?? 3000);
const DOWN_MS = Number(process.env.FAULT_PG_DOWN_MS ?? 5000);

const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const wanted = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
const failures: string[] = [];

console.log(
  `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${CLIENTS} clients`,
);
const pg = await startPrivatePostgres();
try {
  if (wanted("kill9")) {
    const db = new (await import("pg")).default.Client({ connectionString: pg.url });
    await db.connect();
    await db.query(`CREATE DATABASE faults_kill_${process.pid}`);
    await db.end();
    const rows: [string, KillReport][] = [
      ["sqlite", await killUnderLoad({ clients: CLIENTS, loadMs: LOAD_MS })],
      [
        "postgres",
        await killUnderLoad({
          databaseUrl: pg.url.replace(/\/postgres$/, `/faults_kill_${process.pid}`),
          clients: CLIENTS,
          loadMs: LOAD_MS,
        }),
      ],
    ];
    console.log(
      `\nkill -9 of the hub under refresh load (${CLIENTS} clients, ${LOAD_MS} ms), then a restart`,
    );
    console.log(
      "| engine | refreshes before | in flight at kill | alive before | alive after | lost | duplicated | hub ended by | restart s |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for (const [engine, r] of rows) {
      console.log(
        `| ${engine} | ${r.refreshesBefore} | ${r.inFlight} | ${r.aliveBefore} | ${r.aliveAfter} | ${r.lost} | ${r.duplicated} | ${r.killedExit} | ${(r.restartMs / 1000).toFixed(1)} |`,
      );
      failures.push(...r.problems.map((p) => `kill9 ${engine}: ${p}`));
    }
  }
  if (wanted("pg-outage")) {
    const r = await postgresOutage({ pg, hubs: 2, clients: CLIENTS, loadMs: LOAD_MS, downMs: DOWN_MS });
    console.log(
      `\nPostgreSQL stopped and started under ${r.hubs} hubs, ${r.clients} clients refreshing round-robin`,
    );
    console.log(
      `  fast shutdown done at ${(r.stoppedAtMs / 1000).toFixed(1)} s, started at ${(r.startedAtMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `  /ready 503 on every hub ${(r.readyDownAfterMs / 1000).toFixed(2)} s after the stop; ` +
        `200 on every hub again ${(r.readyBackAfterMs / 1000).toFixed(2)} s after the start`,
    );
    for (const name of OUTAGE_PHASES) {
      const p = r.phases[name];
      console.log(
        `  ${name.padEnd(10)} ${describeOutcomes(p.outcomes) || "-"}; slowest ${p.maxMs.toFixed(0)} ms`,
      );
    }
    console.log(
      `  sessions alive at the end: ${r.aliveAtEnd} of ${r.clients}; tokens issued twice: ${r.duplicated}; hub exits on SIGTERM: ${r.exits.join(", ")}`,
    );
    failures.push(...r.problems.map((p) => `pg-outage: ${p}`));
  }
} finally {
  pg.destroy();
}
if (failures.length) {
  console.error(`\nFAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("\nall fault scenarios held");
