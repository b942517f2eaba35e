/**
 * meshauth against node-oidc-provider on the same grants, in one run:
 *
 *   npm run bench -- compare
 *   BENCH_DATABASE_URL=postgres://... npm run bench -- compare   # PostgreSQL elsewhere
 *
 * Every server runs in its own child process (bench/lib/compare-server.ts): meshauth on
 * SQLite, meshauth on PostgreSQL (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the
 * local default; skipped when none answers), and oidc-provider with its memory adapter,
 * configured with DPoP, client_credentials, rotating refresh tokens and ES256 JWT access
 * tokens. The load comes from another child (bench/lib/compare-load.ts): C = 8 and 32
 * clients, each with its own P-256 key and keep-alive socket, proofs made before the
 * clock starts. Settings (grant x C x server) run in interleaved rounds; each round also
 * reads the server process's CPU time (and, for PostgreSQL, the postgres processes').
 * ROUNDS and ROUND_MS (environment) change the rounds (default 3 of 2500 ms).
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import pg from "pg";
import type { Grant, RoundResult } from "./lib/compare-load.js";
import type { Target } from "./lib/compare-server.js";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ROUND_MS = Number(process.env.ROUND_MS ?? 2500);
const WARMUP_MS = 800;
const CONCURRENCY = [8, 32];
const GRANTS: Grant[] = ["client_credentials", "refresh_token"];
/** Proofs per round over all clients: more than any server answers in ROUND_MS here. */
const MAX_PER_ROUND = Math.ceil((ROUND_MS / 1000) * 4000);

const root = new URL("..", import.meta.url).pathname;
const execArgv = ["--conditions=development", "--import", "tsx"];

// --- child processes ---------------------------------------------------------------------

interface Child {
  proc: ChildProcess;
  ask<T>(msg: object, type?: string): Promise<T>;
}

function child(script: string, args: string[]): Child {
  const proc = fork(`${root}bench/lib/${script}`, args, {
    execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting: Array<{ resolve(v: unknown): void; reject(e: Error): void }> = [];
  proc.on("message", (m: { type: string; message?: string }) => {
    const w = waiting.shift();
    if (!w) return;
    if (m.type === "error") w.reject(new Error(m.message));
    else w.resolve(m);
  });
  proc.on("exit", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${script} exited (${code})`));
  });
  return {
    proc,
    ask<T>(msg: object): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting.push({ resolve: resolve as (v: unknown) => void, reject });
        proc.send(msg);
      });
    },
  };
}

interface Server {
  name: string;
  child: Child;
  target: Target;
  postgres: boolean;
}

async function startServer(name: string, args: string[]): Promise<Server> {
  const c = child("compare-server.ts", args);
  const ready = await new Promise<{ target: Target }>((resolve, reject) => {
    c.proc.once("message", resolve);
    c.proc.once("exit", (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  return { name, child: c, target: ready.target, postgres: name.includes("PostgreSQL") };
}

async function cpuMicros(s: Server): Promise<number> {
  return (await s.child.ask<{ micros: number }>({ type: "cpu" })).micros;
}

/** CPU time of every `postgres` process on this machine, microseconds (Linux /proc). */
function postgresMicros(): number {
  const tick = 1e6 / 100; // USER_HZ
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") continue;
      const fields = stat.slice(close + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

async function postgresUrl(): Promise<string | undefined> {
  const url =
    process.env.BENCH_DATABASE_URL ??
    process.env.TEST_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return url;
  } catch {
    return undefined;
  }
}

// --- the run -----------------------------------------------------------------------------

interface Setting {
  id: string;
  grant: Grant;
  concurrency: number;
  server: Server;
  rounds: Array<{ rps: number; cpuUs: number; pgUs: number | undefined; result: RoundResult }>;
  errors: number;
  errorSamples: string[];
}

const load0 = loadavg()[0] ?? 0;
const pgUrl = await postgresUrl();
const servers: Server[] = [
  await startServer("meshauth SQLite", ["meshauth-sqlite"]),
  ...(pgUrl ? [await startServer("meshauth PostgreSQL", ["meshauth-postgres", pgUrl])] : []),
  await startServer("oidc-provider memory", ["oidc-provider"]),
];
const load = child("compare-load.ts", []);

const settings: Setting[] = [];
for (const grant of GRANTS) {
  for (const concurrency of CONCURRENCY) {
    for (const server of servers) {
      const id = `${grant === "refresh_token" ? "rt" : "cc"}${concurrency}-${settings.length}`;
      await load.ask({ type: "setup", id, target: server.target, grant, concurrency });
      settings.push({ id, grant, concurrency, server, rounds: [], errors: 0, errorSamples: [] });
    }
  }
}

async function round(s: Setting, ms: number, keep: boolean): Promise<void> {
  await load.ask({ type: "prepare", id: s.id, perClient: Math.ceil(MAX_PER_ROUND / s.concurrency) });
  const pg0 = s.server.postgres ? postgresMicros() : 0;
  const cpu0 = await cpuMicros(s.server);
  const result = await load.ask<RoundResult>({ type: "go", id: s.id, durationMs: ms });
  const cpu1 = await cpuMicros(s.server);
  const pg1 = s.server.postgres ? postgresMicros() : 0;
  s.errors += result.errors;
  s.errorSamples.push(...result.errorSamples.slice(0, 3 - s.errorSamples.length));
  if (!keep) return;
  const n = Math.max(1, result.requests);
  s.rounds.push({
    rps: (result.requests * 1000) / result.elapsedMs,
    cpuUs: (cpu1 - cpu0) / n,
    pgUs: s.server.postgres ? (pg1 - pg0) / n : undefined,
    result,
  });
}

for (const s of settings) await round(s, WARMUP_MS, false);
for (let r = 0; r < ROUNDS; r++) {
  // Each round starts at another setting, so none is always first after a pause.
  for (let i = 0; i < settings.length; i++) {
    await round(settings[(i + r) % settings.length] as Setting, ROUND_MS, true);
  }
}

await load.ask({ type: "exit" }).catch(() => undefined);
for (const s of servers) s.child.proc.send({ type: "exit" });

// --- report ------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const fmt = (x: number, d = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const spread = (xs: number[], d = 0) =>
  `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

const cpuInfo = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `\n${availableParallelism()} cores (${cpuInfo}), Node ${process.version}, load average ${load0.toFixed(2)} at start; ${ROUNDS} rounds of ${ROUND_MS} ms after a ${WARMUP_MS} ms warm-up`,
);
console.log("\nRequests per second (median of rounds, min–max) and server CPU per request");
console.log(
  `${"grant".padEnd(19)} ${"C".padStart(3)}  ${"server".padEnd(21)} ${"req/s".padStart(22)} ${"CPU µs/req".padStart(20)} ${"+ postgres µs".padStart(14)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} errors`,
);
for (const s of settings) {
  const rps = s.rounds.map((r) => r.rps);
  const cpu = s.rounds.map((r) => r.cpuUs);
  const pgUs = s.rounds.map((r) => r.pgUs).filter((x): x is number => x !== undefined);
  const exhausted = s.rounds.some((r) => r.result.exhausted) ? "*" : " ";
  console.log(
    `${s.grant.padEnd(19)} ${String(s.concurrency).padStart(3)}  ${s.server.name.padEnd(21)} ${(spread(rps) + exhausted).padStart(22)} ${spread(cpu).padStart(20)} ${(pgUs.length ? fmt(median(pgUs)) : "–").padStart(14)} ${fmt(median(s.rounds.map((r) => r.result.p50)), 2).padStart(7)} ${fmt(median(s.rounds.map((r) => r.result.p99)), 2).padStart(7)} ${s.errors}`,
  );
}

console.log("\nRatios in the same round (meshauth ÷ oidc-provider memory adapter): median (min–max)");
const baseline = servers.find((s) => s.target.kind === "oidc-provider") as Server;
const ratios: Record<string, unknown>[] = [];
for (const grant of GRANTS) {
  for (const concurrency of CONCURRENCY) {
    const base = settings.find(
      (s) => s.grant === grant && s.concurrency === concurrency && s.server === baseline,
    );
    for (const s of settings.filter(
      (x) => x.grant === grant && x.concurrency === concurrency && x.server !== baseline,
    )) {
      const byRound = s.rounds.map((r, i) => r.rps / (base?.rounds[i]?.rps ?? Number.NaN));
      const cpuRatio = s.rounds.map((r, i) => (base?.rounds[i]?.cpuUs ?? Number.NaN) / r.cpuUs);
      ratios.push({ grant, concurrency, server: s.server.name, throughput: byRound, cpu: cpuRatio });
      console.log(
        `${grant.padEnd(19)} ${String(concurrency).padStart(3)}  ${s.server.name.padEnd(21)} throughput ${spread(byRound, 2)}   CPU per request (oidc ÷ meshauth) ${spread(cpuRatio, 2)}`,
      );
    }
  }
}

console.log("\nErrors per setting (every one must be 0)");
let failed = false;
for (const s of settings) {
  console.log(
    `${s.grant.padEnd(19)} ${String(s.concurrency).padStart(3)}  ${s.server.name.padEnd(21)} ${s.errors}`,
  );
  if (s.errors > 0) {
    failed = true;
    for (const e of s.errorSamples) console.log(`  ${e}`);
  }
}
if (!pgUrl) console.log("\nPostgreSQL: no server answered, so meshauth ran on SQLite only.");
console.log("* a round ended because its proofs ran out (the bound on requests), not at the deadline.");

mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  `${root}bench/results/compare.json`,
  JSON.stringify(
    {
      node: process.version,
      cores: availableParallelism(),
      cpu: cpuInfo,
      loadAverage: load0,
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      settings: settings.map((s) => ({
        grant: s.grant,
        concurrency: s.concurrency,
        server: s.server.name,
        errors: s.errors,
        rounds: s.rounds.map((r) => ({
          rps: r.rps,
          cpuUs: r.cpuUs,
          pgUs: r.pgUs,
          p50: r.result.p50,
          p99: r.result.p99,
        })),
      })),
      ratios,
    },
    null,
    2,
  ),
);
process.exit(failed ? 1 : 0);
