/**
 * Refresh-token grants per second at POST /token, against the in-process floor of what
 * every such request must do anyway.
 *
 *   npm run bench -- token
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- token
 *
 * The hub runs in this process (SQLite; also PostgreSQL when BENCH_DATABASE_URL or
 * TEST_DATABASE_URL is set, in a fresh database dropped afterwards). The load comes from
 * a child process (bench/lib/load.ts): C = 1, 8 and 32 clients, each with its own device
 * key, session and keep-alive connection, sending refresh_token grants back to back for
 * a fixed time (bounded by the number of proofs made beforehand).
 *
 * Floor, measured here on one thread: one DPoP proof verification (verifyDpopProof with
 * a MemoryReplayCache) plus one ES256 JWT signature (jose SignJWT with a P-256 key) per
 * op. The hub does both for every refresh, plus its database work and HTTP. The client's
 * proof creation is reported too; the load generator spends it before the clock starts.
 */
import { type ChildProcess, fork } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { createDpopProof, generateDpopKeyPair, MemoryReplayCache, verifyDpopProof } from "@meshauth/core";
import { SignJWT } from "jose";
import { type BenchEngine, startBenchHub } from "./lib/hub.js";
import type { RunRequest, RunResult } from "./lib/load.js";

const CONCURRENCY = [1, 8, 32];
const WARMUP_MS = 700;
const DURATION_MS = 4000;
/** Bounds per setting: proofs made for the warm-up and for the measured phase. */
const MAX_WARMUP = 600;
const MAX_REQUESTS = 8000;
const FLOOR_OPS = 2000;
const FLOOR_WARMUP = 300;

const root = new URL("..", import.meta.url).pathname;

// --- floor ------------------------------------------------------------------------------

async function floor() {
  const htu = "http://127.0.0.1:4000/token";
  const device = await generateDpopKeyPair();
  const proofs: string[] = [];
  const make = () =>
    createDpopProof({ privateKey: device.privateKey, publicKey: device.publicKey, htm: "POST", htu });
  for (let i = 0; i < FLOOR_WARMUP; i++) proofs.push(await make());
  proofs.length = 0;
  let t = performance.now();
  for (let i = 0; i < FLOOR_OPS + FLOOR_WARMUP; i++) proofs.push(await make());
  const createPerSec = (FLOOR_OPS + FLOOR_WARMUP) / ((performance.now() - t) / 1000);

  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const sign = (i: number) =>
    new SignJWT({ sub: "u1", aud: "app", jti: String(i), cnf: { jkt: "x".repeat(43) } })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
      .sign(privateKey);
  const replay = new MemoryReplayCache();
  const verify = (p: string) => verifyDpopProof(p, { htm: "POST", htu, replay });

  for (let i = 0; i < FLOOR_WARMUP; i++) {
    await verify(proofs[i] as string);
    await sign(i);
  }
  t = performance.now();
  for (let i = FLOOR_WARMUP; i < FLOOR_WARMUP + FLOOR_OPS; i++) {
    await verify(proofs[i] as string);
    await sign(i);
  }
  const floorPerSec = FLOOR_OPS / ((performance.now() - t) / 1000);

  // The two parts alone, for reading the floor.
  const fresh: string[] = [];
  for (let i = 0; i < FLOOR_OPS; i++) fresh.push(await make());
  t = performance.now();
  for (const p of fresh) await verify(p);
  const verifyPerSec = FLOOR_OPS / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < FLOOR_OPS; i++) await sign(i);
  const signPerSec = FLOOR_OPS / ((performance.now() - t) / 1000);
  return { floorPerSec, verifyPerSec, signPerSec, createPerSec };
}

// --- endpoint ---------------------------------------------------------------------------

function startLoadGenerator(): ChildProcess {
  return fork(new URL("./lib/load.ts", import.meta.url).pathname, [], {
    cwd: root,
    execArgv: ["--conditions=development", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function runLoad(child: ChildProcess, req: RunRequest): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: RunResult | { type: "error"; message: string }) => {
      child.off("exit", onExit);
      child.off("message", onMessage);
      if (m.type === "result") resolve(m);
      else reject(new Error(`load generator failed: ${m.message}`));
    };
    const onExit = (code: number | null) => {
      child.off("message", onMessage);
      reject(new Error(`load generator exited with code ${code}`));
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
    child.send(req);
  });
}

interface Row extends RunResult {
  engine: string;
  perSec: number;
}

async function endpoint(engine: BenchEngine, child: ChildProcess): Promise<Row[]> {
  const bench = await startBenchHub(engine);
  const rows: Row[] = [];
  try {
    for (const concurrency of CONCURRENCY) {
      const r = await runLoad(child, {
        type: "run",
        url: bench.url,
        app: bench.app,
        concurrency,
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
        maxWarmup: MAX_WARMUP,
        maxRequests: MAX_REQUESTS,
      });
      rows.push({ ...r, engine: engine.kind, perSec: r.requests / (r.elapsedMs / 1000) });
      process.stdout.write(".");
    }
  } finally {
    await bench.close();
  }
  return rows;
}

// --- report -----------------------------------------------------------------------------

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "-";

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  return [
    line(headers),
    `|${widths.map((w, i) => (i < 2 ? `-${"-".repeat(w)}-` : `-${"-".repeat(w)}:`)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const engines: BenchEngine[] = [{ kind: "sqlite" }];
if (pgUrl) engines.push({ kind: "postgres", adminUrl: pgUrl });

const started = performance.now();
const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`node ${process.version}, ${availableParallelism()} cores (${cpu})`);
const f = await floor();
console.log(
  `floor (one thread): verify proof + sign ES256 ${fmt(f.floorPerSec)} ops/s ` +
    `(verify alone ${fmt(f.verifyPerSec)}/s, sign alone ${fmt(f.signPerSec)}/s); ` +
    `client proof creation ${fmt(f.createPerSec)}/s`,
);
if (!pgUrl) console.log("PostgreSQL skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to include it");

const child = startLoadGenerator();
const rows: Row[] = [];
try {
  for (const engine of engines) rows.push(...(await endpoint(engine, child)));
} finally {
  child.send({ type: "exit" });
}
process.stdout.write("\n\n");
console.log(
  table(
    ["engine", "clients", "requests", "req/s", "p50 ms", "p99 ms", "req/s ÷ floor", "errors"],
    rows.map((r) => [
      r.engine,
      String(r.concurrency),
      `${r.requests}${r.exhausted ? "*" : ""}`,
      fmt(r.perSec),
      fmt(r.p50, 2),
      fmt(r.p99, 2),
      fmt(r.perSec / f.floorPerSec, 2),
      String(r.errors),
    ]),
  ),
);
if (rows.some((r) => r.exhausted)) console.log("* hit the request bound before the deadline");
const genRate = rows.length ? rows.reduce((s, r) => s + r.proofCreatePerSec, 0) / rows.length : Number.NaN;
console.log(`load generator's proof creation (before each run): ${fmt(genRate)} proofs/s`);
console.log(`total ${fmt((performance.now() - started) / 1000, 1)} s`);

mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  `${root}bench/results/token-endpoint.json`,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: availableParallelism(), cpu, floor: f, rows }, null, 2)}\n`,
);

const failed = rows.filter((r) => r.errors > 0);
if (failed.length) {
  for (const r of failed)
    console.error(`${r.engine} C=${r.concurrency}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
  process.exit(1);
}
