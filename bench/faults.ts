/**
 * Fault scripts: what clients see when the hub or its database fails under load.
 *
 *   npm run faults                 # every scenario
 *   npm run faults -- kill9        # kill -9 of the hub under refresh load, SQLite and PostgreSQL
 *   npm run faults -- pg-outage    # PostgreSQL stopped and started under two hubs
 *
 * PostgreSQL is a private server (initdb into a temporary folder, a free port), so
 * stopping it never disturbs anything else on the machine. FAULT_CLIENTS (16) sets the
 * number of clients, FAULT_LOAD_MS (3000) how long the load runs before each fault.
 * Exits non-zero when a scenario breaks its promise (a session lost, a token issued
 * twice, a 500, a request past the bound, no recovery).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type PrivatePostgres, startPrivatePostgres } from "../packages/server/test/helpers/private-pg.js";
import {
  type App,
  createApp,
  describeOutcomes,
  freePort,
  getStatus,
  type HubProcess,
  Ledger,
  merge,
  REQUEST_BOUND_MS,
  RefreshClient,
  sleep,
  startHub,
} from "./lib/fleet.js";

const CLIENTS = Number(process.env.FAULT_CLIENTS ?? 16);
const LOAD_MS = Number(process.env.FAULT_LOAD_MS ?? 3000);
const PG_DOWN_MS = Number(process.env.FAULT_PG_DOWN_MS ?? 5000);
/** How long the hubs may take to notice the database is back. */
const RECOVERY_BOUND_MS = 30_000;

const failures: string[] = [];
function expect(ok: boolean, what: string): void {
  if (!ok) failures.push(what);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "meshauth-faults-"));
}

async function loggedIn(hub: HubProcess, app: App, ledger: Ledger, prefix: string): Promise<RefreshClient[]> {
  const clients = Array.from({ length: CLIENTS }, (_, i) => new RefreshClient(app, `${prefix}-${i}`, ledger));
  for (const c of clients) await c.login(hub);
  return clients;
}

// --- kill -9 under refresh load -------------------------------------------------------

interface KillRow {
  engine: string;
  refreshesBefore: number;
  inFlight: number;
  aliveBefore: number;
  aliveAfter: number;
  lost: number;
  duplicated: number;
  exit: string;
  restartMs: number;
}

async function kill9(engine: "sqlite" | "postgres", pg?: PrivatePostgres): Promise<KillRow> {
  const dataDir = tempDir();
  let databaseUrl = `sqlite:${join(dataDir, "hub.sqlite")}`;
  if (engine === "postgres") {
    if (!pg) throw new Error("no PostgreSQL");
    const name = `faults_kill_${process.pid}`;
    const admin = new (await import("pg")).default.Client({ connectionString: pg.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    databaseUrl = pg.url.replace(/\/postgres$/, `/${name}`);
  }
  const port = await freePort();
  let hub = await startHub({ port, dataDir, databaseUrl });
  const ledger = new Ledger();
  const app = await createApp(hub, dataDir);
  const clients = await loggedIn(hub, app, ledger, "kill");

  // Every client refreshes back to back until the hub dies under it.
  let stop = false;
  const inFlightAtKill = new Set<RefreshClient>();
  const loops = clients.map(async (c) => {
    while (!stop) {
      const res = await c.refresh(hub);
      if (res.status === 0) {
        inFlightAtKill.add(c);
        return;
      }
      if (res.status !== 200) throw new Error(`refresh failed before the kill: ${res.status} ${res.error}`);
    }
  });
  await sleep(LOAD_MS);
  const aliveBefore = clients.filter((c) => c.ok > 0).length;
  const refreshesBefore = clients.reduce((s, c) => s + c.ok, 0);
  hub.child.kill("SIGKILL");
  const exited = await hub.stop();
  stop = true;
  await Promise.all(loops);

  // Restart on the same data; each client retries with the last token it saw succeed
  // (for those whose request was in flight, the answer was lost: the grace covers it).
  const t0 = performance.now();
  hub = await startHub({ port, dataDir, databaseUrl });
  const restartMs = performance.now() - t0;
  let aliveAfter = 0;
  let lost = 0;
  for (const c of clients) {
    const first = await c.refresh(hub);
    const second = first.status === 200 ? await c.refresh(hub) : first;
    if (first.status === 200 && second.status === 200) aliveAfter++;
    else {
      lost++;
      console.log(`  ${c.sub}: ${first.status} ${first.error} ${String(first.body.error_description ?? "")}`);
    }
  }
  const stopped = await hub.stop();
  expect(
    stopped.code === 0,
    `${engine}: the restarted hub did not exit cleanly (${JSON.stringify(stopped)})`,
  );
  rmSync(dataDir, { recursive: true, force: true });
  const row: KillRow = {
    engine,
    refreshesBefore,
    inFlight: inFlightAtKill.size,
    aliveBefore,
    aliveAfter,
    lost,
    duplicated: ledger.duplicated,
    exit: exited.signal ?? String(exited.code),
    restartMs,
  };
  expect(row.exit === "SIGKILL", `${engine}: the hub ended with ${row.exit}, not the SIGKILL sent`);
  expect(lost === 0, `${engine}: ${lost} sessions lost after the restart`);
  expect(row.duplicated === 0, `${engine}: ${row.duplicated} tokens issued twice`);
  expect(aliveAfter === aliveBefore, `${engine}: ${aliveBefore} sessions alive before, ${aliveAfter} after`);
  return row;
}

// --- PostgreSQL stopped and started under two hubs ------------------------------------

interface Phase {
  outcomes: Map<string, number>;
  maxMs: number;
}

async function pgOutage(pg: PrivatePostgres): Promise<void> {
  const name = `faults_outage_${process.pid}`;
  const admin = new (await import("pg")).default.Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const databaseUrl = pg.url.replace(/\/postgres$/, `/${name}`);
  const dataDir = tempDir();
  const hubs = [
    await startHub({ port: await freePort(), dataDir, databaseUrl }),
    await startHub({ port: await freePort(), dataDir, databaseUrl }),
  ];
  const ledger = new Ledger();
  const app = await createApp(hubs[0] as HubProcess, dataDir);
  const clients = await loggedIn(hubs[0] as HubProcess, app, ledger, "outage");

  const PHASES = ["before", "stopping", "down", "recovering", "after"] as const;
  let phase: (typeof PHASES)[number] = "before";
  const phases = Object.fromEntries(PHASES.map((p) => [p, { outcomes: new Map(), maxMs: 0 }])) as Record<
    (typeof PHASES)[number],
    Phase
  >;
  let stop = false;
  let turn = 0;
  const loops = clients.map(async (c) => {
    while (!stop) {
      const hub = hubs[turn++ % hubs.length] as HubProcess;
      const p = phases[phase];
      const res = await c.refresh(hub);
      const key = res.status === 200 ? "200" : `${res.status} ${res.error ?? ""}`.trim();
      p.outcomes.set(key, (p.outcomes.get(key) ?? 0) + 1);
      p.maxMs = Math.max(p.maxMs, res.ms);
      // A client told to come back later waits a little, as the SDK does.
      if (res.status !== 200) await sleep(200);
    }
  });

  // /ready of every hub, sampled every 100 ms.
  const readyLog: { t: number; statuses: number[] }[] = [];
  let sampling = true;
  const t0 = performance.now();
  const sampler = (async () => {
    while (sampling) {
      readyLog.push({
        t: performance.now() - t0,
        statuses: await Promise.all(hubs.map((h) => getStatus(`${h.url}/ready`, 5000))),
      });
      await sleep(100);
    }
  })();

  await sleep(LOAD_MS);
  phase = "stopping";
  await pg.stop("fast");
  const stoppedAt = performance.now() - t0;
  phase = "down";
  await sleep(PG_DOWN_MS);
  const startedAt = performance.now() - t0;
  phase = "recovering";
  await pg.start();
  // Back when every hub answers /ready 200 again.
  let recoveredAt = Number.NaN;
  const deadline = performance.now() + RECOVERY_BOUND_MS;
  while (performance.now() < deadline) {
    const last = readyLog.at(-1);
    if (last && last.t > startedAt && last.statuses.every((s) => s === 200)) {
      recoveredAt = last.t;
      break;
    }
    await sleep(100);
  }
  phase = "after";
  await sleep(LOAD_MS);
  stop = true;
  await Promise.all(loops);
  sampling = false;
  await sampler;

  // Every session still works: one more refresh each.
  let alive = 0;
  for (const c of clients) if ((await c.refresh(hubs[1] as HubProcess)).status === 200) alive++;
  const exits = await Promise.all(hubs.map((h) => h.stop()));
  exits.forEach((e, i) => {
    if (e.code !== 0)
      console.log(
        `  hub ${i} ended with ${e.signal ?? e.code}; its output:\n${hubs[i]?.output().slice(-3000)}`,
      );
  });

  const down = readyLog.filter((r) => r.t > stoppedAt && r.t < startedAt);
  const first503 = down.find((r) => r.statuses.every((s) => s === 503));
  const all = PHASES.reduce((m, name) => merge(m, phases[name].outcomes), new Map<string, number>());
  const count = (prefix: string) =>
    [...all.entries()].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);
  console.log("\nPostgreSQL stopped and started under 2 hubs, 16 clients refreshing round-robin");
  console.log(
    `  PostgreSQL stopped (fast shutdown) at ${(stoppedAt / 1000).toFixed(1)} s, started at ${(startedAt / 1000).toFixed(1)} s`,
  );
  console.log(
    `  /ready: 503 on both hubs ${first503 ? `${Math.max(0, (first503.t - stoppedAt) / 1000).toFixed(2)} s after the stop` : "never"}; ` +
      `200 on both again ${Number.isFinite(recoveredAt) ? `${((recoveredAt - startedAt) / 1000).toFixed(2)} s after the start` : `not within ${RECOVERY_BOUND_MS / 1000} s`}`,
  );
  for (const name of PHASES) {
    const p = phases[name];
    console.log(`  ${name.padEnd(6)}: ${describeOutcomes(p.outcomes)}; slowest ${p.maxMs.toFixed(0)} ms`);
  }
  console.log(
    `  sessions alive at the end: ${alive} of ${clients.length}; tokens issued twice: ${ledger.duplicated}`,
  );
  console.log(`  hub exits: ${exits.map((e) => e.signal ?? e.code).join(", ")}`);

  expect(count("500") === 0, `pg-outage: ${count("500")} answers were 500`);
  expect(
    count("0 ") === 0,
    `pg-outage: ${count("0 ")} requests failed without an answer or hung past ${REQUEST_BOUND_MS} ms`,
  );
  const downOther = [...phases.down.outcomes.keys()].filter((k) => k !== "503 unavailable");
  expect(
    downOther.length === 0,
    `pg-outage: answers other than 503 unavailable while down: ${downOther.join(", ")}`,
  );
  const anyOther = [...all.keys()].filter((k) => k !== "200" && k !== "503 unavailable");
  expect(
    anyOther.length === 0,
    `pg-outage: answers other than 200 and 503 unavailable: ${anyOther.join(", ")}`,
  );
  expect(first503 !== undefined, "pg-outage: /ready never went 503 on both hubs while PostgreSQL was down");
  expect(Number.isFinite(recoveredAt), "pg-outage: the hubs did not recover without a restart");
  expect(alive === clients.length, `pg-outage: ${clients.length - alive} sessions lost`);
  expect(ledger.duplicated === 0, `pg-outage: ${ledger.duplicated} tokens issued twice`);
  expect(
    exits.every((e) => e.code === 0),
    "pg-outage: a hub did not exit cleanly on SIGTERM",
  );
  rmSync(dataDir, { recursive: true, force: true });
}

// --- main -----------------------------------------------------------------------------

const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const wanted = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
console.log(
  `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${CLIENTS} clients`,
);
const pg = await startPrivatePostgres();
try {
  if (wanted("kill9")) {
    const rows = [await kill9("sqlite"), await kill9("postgres", pg)];
    console.log(
      `\nkill -9 of the hub under refresh load (${CLIENTS} clients, ${LOAD_MS} ms), then a restart`,
    );
    console.log(
      "| engine | refreshes before | in flight at kill | alive before | alive after | lost | duplicated | hub ended by | restart s |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for (const r of rows)
      console.log(
        `| ${r.engine} | ${r.refreshesBefore} | ${r.inFlight} | ${r.aliveBefore} | ${r.aliveAfter} | ${r.lost} | ${r.duplicated} | ${r.exit} | ${(r.restartMs / 1000).toFixed(1)} |`,
      );
  }
  if (wanted("pg-outage")) await pgOutage(pg);
} finally {
  pg.destroy();
}
if (failures.length) {
  console.error(`\nFAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("\nall fault scenarios held");
