/**
 * Fault scenarios shared by the crash tests (packages/server/test/faults-*.test.ts) and
 * `npm run faults` (bench/faults.ts, larger and printed): each runs hub processes
 * under refresh load, breaks something, and reports what the clients saw, with the
 * list of promises broken (empty when the hub behaved).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REFRESH_GRACE_SECONDS } from "../../src/auth/tokens.js";
import {
  type App,
  createApp,
  freePort,
  getStatus,
  type HubProcess,
  Ledger,
  merge,
  REQUEST_BOUND_MS,
  RefreshClient,
  sleep,
  startHub,
} from "./fleet.js";
import type { PrivatePostgres } from "./private-pg.js";

/** How long hubs may take to notice the database is back. */
export const RECOVERY_BOUND_MS = 30_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "meshauth-faults-"));
}

async function loggedIn(
  hub: HubProcess,
  app: App,
  ledger: Ledger,
  prefix: string,
  n: number,
): Promise<RefreshClient[]> {
  const clients = Array.from({ length: n }, (_, i) => new RefreshClient(app, `${prefix}-${i}`, ledger));
  for (const c of clients) await c.login(hub);
  return clients;
}

function describeExit(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ?? String(e.code);
}

// --- kill -9 under refresh load -------------------------------------------------------

export interface KillReport {
  refreshesBefore: number;
  /** Clients whose refresh was in flight when the hub died (their answer was lost). */
  inFlight: number;
  aliveBefore: number;
  aliveAfter: number;
  lost: number;
  /** Refresh tokens or access-token jtis handed out twice. */
  duplicated: number;
  /** How the killed hub ended (SIGKILL), and how the restarted one ended on SIGTERM. */
  killedExit: string;
  restartedExit: string;
  restartMs: number;
  lostDetails: string[];
  problems: string[];
}

/**
 * Clients refresh back to back against one hub; after `loadMs` the hub gets SIGKILL
 * and is started again on the same data. Each client then refreshes with the last
 * token it saw succeed (the one whose answer was lost, for those in flight) and once
 * more: a session that cannot is lost.
 */
export async function killUnderLoad(opts: {
  /** `sqlite:` URL (undefined: a new SQLite file) or a PostgreSQL database URL. */
  databaseUrl?: string;
  clients: number;
  loadMs: number;
}): Promise<KillReport> {
  const dataDir = tempDir();
  const databaseUrl = opts.databaseUrl ?? `sqlite:${join(dataDir, "hub.sqlite")}`;
  const port = await freePort();
  let hub = await startHub({ port, dataDir, databaseUrl });
  try {
    const ledger = new Ledger();
    const app = await createApp(hub, dataDir);
    const clients = await loggedIn(hub, app, ledger, "kill", opts.clients);

    let stop = false;
    const inFlight = new Set<RefreshClient>();
    const refusedBefore: string[] = [];
    const loops = clients.map(async (c) => {
      while (!stop) {
        const res = await c.refresh(hub);
        if (res.status === 0) {
          inFlight.add(c);
          return;
        }
        // A busy hub may ask to come back later; the client keeps its token and does.
        if (res.status === 503 && res.error === "unavailable") {
          await sleep(200);
          continue;
        }
        if (res.status !== 200) {
          refusedBefore.push(`${res.status} ${res.error}`);
          return;
        }
      }
    });
    // Every client has refreshed at least once (however slow the machine), then the load
    // runs for loadMs more.
    const warm = performance.now() + 60_000;
    while (clients.some((c) => c.ok === 0) && refusedBefore.length === 0 && performance.now() < warm)
      await sleep(50);
    await sleep(opts.loadMs);
    const aliveBefore = clients.filter((c) => c.ok > 0).length;
    const refreshesBefore = clients.reduce((s, c) => s + c.ok, 0);
    hub.child.kill("SIGKILL");
    const killed = await hub.stop();
    stop = true;
    await Promise.all(loops);

    const t0 = performance.now();
    hub = await startHub({ port, dataDir, databaseUrl });
    const restartMs = performance.now() - t0;
    // Past the refresh grace, a retry of a rotated token is treated as reuse (by design).
    if (restartMs > REFRESH_GRACE_SECONDS * 1000 * 0.8)
      throw new Error(
        `the restart took ${Math.round(restartMs)} ms, too close to the ${REFRESH_GRACE_SECONDS} s refresh grace`,
      );
    let aliveAfter = 0;
    const lostDetails: string[] = [];
    /** A refresh, retried while the hub answers 503 unavailable (as the SDK does). */
    const refresh = async (c: RefreshClient) => {
      for (let attempt = 0; ; attempt++) {
        const res = await c.refresh(hub);
        if (res.status !== 503 || attempt === 5) return res;
        await sleep(500);
      }
    };
    for (const c of clients) {
      const first = await refresh(c);
      const second = first.status === 200 ? await refresh(c) : first;
      if (first.status === 200 && second.status === 200) aliveAfter++;
      else
        lostDetails.push(
          `${c.sub}: ${second.status} ${second.error} ${String(second.body.error_description ?? "")}`,
        );
    }
    const restarted = await hub.stop();
    const report: KillReport = {
      refreshesBefore,
      inFlight: inFlight.size,
      aliveBefore,
      aliveAfter,
      lost: lostDetails.length,
      duplicated: ledger.duplicated,
      killedExit: describeExit(killed),
      restartedExit: describeExit(restarted),
      restartMs,
      lostDetails,
      problems: [],
    };
    const p = report.problems;
    if (refusedBefore.length) p.push(`refreshes refused before the kill: ${refusedBefore.join(", ")}`);
    if (report.killedExit !== "SIGKILL")
      p.push(`the killed hub ended with ${report.killedExit}, not SIGKILL`);
    if (report.restartedExit !== "0")
      p.push(`the restarted hub ended with ${report.restartedExit} on SIGTERM`);
    if (report.lost) p.push(`${report.lost} sessions lost: ${lostDetails.join("; ")}`);
    if (report.duplicated) p.push(`${report.duplicated} tokens issued twice`);
    if (aliveBefore !== clients.length)
      p.push(`only ${aliveBefore} of ${clients.length} clients refreshed before the kill`);
    return report;
  } finally {
    if (hub.child.exitCode === null && hub.child.signalCode === null) await hub.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// --- PostgreSQL stopped and started under the hubs ------------------------------------

export const OUTAGE_PHASES = ["before", "stopping", "down", "recovering", "after"] as const;
export type OutagePhase = (typeof OUTAGE_PHASES)[number];

export interface OutageReport {
  hubs: number;
  clients: number;
  stoppedAtMs: number;
  startedAtMs: number;
  /** From the end of the stop to /ready answering 503 on every hub (0 if already). */
  readyDownAfterMs: number;
  /** From the start to /ready answering 200 on every hub again. */
  readyBackAfterMs: number;
  /** Answers per phase ("200", "503 unavailable", "0 timeout", ...) and the slowest. */
  phases: Record<OutagePhase, { outcomes: Map<string, number>; maxMs: number }>;
  aliveAtEnd: number;
  duplicated: number;
  exits: string[];
  problems: string[];
}

/**
 * `hubs` processes on one database of the private PostgreSQL `pg`; clients refresh
 * round-robin across them; PostgreSQL gets a fast shutdown for `downMs` and is started
 * again. The hubs must answer 503 `unavailable` meanwhile (never 500, never past the
 * bound), report it on /ready, and serve again without a restart.
 */
export async function postgresOutage(opts: {
  pg: PrivatePostgres;
  hubs: number;
  clients: number;
  loadMs: number;
  downMs: number;
}): Promise<OutageReport> {
  const { pg } = opts;
  const name = `faults_outage_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new (await import("pg")).default.Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const databaseUrl = pg.url.replace(/\/postgres$/, `/${name}`);
  const dataDir = tempDir();
  const hubs: HubProcess[] = [];
  try {
    for (let i = 0; i < opts.hubs; i++)
      hubs.push(await startHub({ port: await freePort(), dataDir, databaseUrl }));
    const first = hubs[0] as HubProcess;
    const ledger = new Ledger();
    const app = await createApp(first, dataDir);
    const clients = await loggedIn(first, app, ledger, "outage", opts.clients);

    let phase: OutagePhase = "before";
    const phases = Object.fromEntries(
      OUTAGE_PHASES.map((p) => [p, { outcomes: new Map(), maxMs: 0 }]),
    ) as Record<OutagePhase, { outcomes: Map<string, number>; maxMs: number }>;
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
        const statuses = await Promise.all(hubs.map((h) => getStatus(`${h.url}/ready`, 5000)));
        readyLog.push({ t: performance.now() - t0, statuses });
        await sleep(100);
      }
    })();

    await sleep(opts.loadMs);
    phase = "stopping";
    await pg.stop("fast");
    const stoppedAtMs = performance.now() - t0;
    phase = "down";
    await sleep(opts.downMs);
    const startedAtMs = performance.now() - t0;
    phase = "recovering";
    await pg.start();
    let recoveredAt = Number.NaN;
    const deadline = performance.now() + RECOVERY_BOUND_MS;
    while (performance.now() < deadline) {
      const last = readyLog.at(-1);
      if (last && last.t > startedAtMs && last.statuses.every((s) => s === 200)) {
        recoveredAt = last.t;
        break;
      }
      await sleep(100);
    }
    phase = "after";
    await sleep(opts.loadMs);
    stop = true;
    await Promise.all(loops);
    sampling = false;
    await sampler;

    // Every session still works: one more refresh each, at the last hub.
    let aliveAtEnd = 0;
    for (const c of clients) if ((await c.refresh(hubs.at(-1) as HubProcess)).status === 200) aliveAtEnd++;
    const exits = await Promise.all(hubs.map((h) => h.stop()));

    const downSample = readyLog.find(
      (r) => r.t > stoppedAtMs - 1 && r.t < startedAtMs && r.statuses.every((s) => s === 503),
    );
    const all = OUTAGE_PHASES.reduce((m, n) => merge(m, phases[n].outcomes), new Map<string, number>());
    const report: OutageReport = {
      hubs: hubs.length,
      clients: clients.length,
      stoppedAtMs,
      startedAtMs,
      readyDownAfterMs: downSample ? Math.max(0, downSample.t - stoppedAtMs) : Number.NaN,
      readyBackAfterMs: recoveredAt - startedAtMs,
      phases,
      aliveAtEnd,
      duplicated: ledger.duplicated,
      exits: exits.map(describeExit),
      problems: [],
    };
    const p = report.problems;
    const unexpected = [...all.keys()].filter((k) => k !== "200" && k !== "503 unavailable");
    if (unexpected.length)
      p.push(
        `answers other than 200 and 503 unavailable (0 = none within ${REQUEST_BOUND_MS} ms): ${unexpected.join(", ")}`,
      );
    const downOther = [...phases.down.outcomes.keys()].filter((k) => k !== "503 unavailable");
    if (downOther.length) p.push(`answers while PostgreSQL was down: ${downOther.join(", ")}`);
    if (!phases.down.outcomes.has("503 unavailable"))
      p.push("no request was answered 503 unavailable while down");
    if (!downSample) p.push("/ready did not answer 503 on every hub while PostgreSQL was down");
    if (!Number.isFinite(recoveredAt))
      p.push(`/ready was not 200 on every hub within ${RECOVERY_BOUND_MS} ms of the start`);
    if (!phases.after.outcomes.has("200")) p.push("no refresh succeeded after the recovery");
    if (aliveAtEnd !== clients.length) p.push(`${clients.length - aliveAtEnd} sessions lost`);
    if (ledger.duplicated) p.push(`${ledger.duplicated} tokens issued twice`);
    exits.forEach((e, i) => {
      if (e.code !== 0) p.push(`hub ${i} ended with ${describeExit(e)}: ${hubs[i]?.output().slice(-1500)}`);
    });
    return report;
  } finally {
    for (const h of hubs) if (h.child.exitCode === null && h.child.signalCode === null) await h.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
