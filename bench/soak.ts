/**
 * Soak: the token endpoint under steady refresh load for a long time, at about 80% of
 * the throughput measured at the start of the same run.
 *
 *   npm run soak                         # 10 minutes on SQLite
 *   SOAK_SECONDS=90 npm run soak         # shorter, while developing
 *   SOAK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run soak
 *
 * The hub runs in this process (so its event-loop delay and memory are measured
 * directly); the load comes from a child process (bench/lib/soak-load.ts) with
 * SOAK_CLIENTS (16) clients. First SOAK_MEASURE_SECONDS (15) back to back for the
 * throughput, then an open loop at SOAK_LOAD (0.8) of it. Every SOAK_SAMPLE_SECONDS (10)
 * it samples RSS, heap and event-loop delay; it prints them at the start and end with
 * their slope per minute (least squares) and the count of 5xx answers, which must be 0.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type BenchEngine, startBenchHub } from "./lib/hub.js";
import type { SoakProgress, SoakRun } from "./lib/soak-load.js";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const MEASURE_SECONDS = Number(process.env.SOAK_MEASURE_SECONDS ?? 15);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 16);
const LOAD = Number(process.env.SOAK_LOAD ?? 0.8);
const root = new URL("..", import.meta.url).pathname;

function startLoad(): ChildProcess {
  return fork(new URL("./lib/soak-load.ts", import.meta.url).pathname, [], {
    cwd: root,
    execArgv: ["--conditions=development", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function runLoad(
  child: ChildProcess,
  req: SoakRun,
  onProgress: (p: SoakProgress) => void,
): Promise<SoakProgress> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: SoakProgress | { type: "error"; message: string }) => {
      if (m.type === "progress") return onProgress(m);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (m.type === "error") reject(new Error(`load generator failed: ${m.message}`));
      else resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`load generator exited with code ${code}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
    child.send(req);
  });
}

interface Sample {
  t: number;
  rssMb: number;
  heapMb: number;
  eldMeanMs: number;
  eldP99Ms: number;
  eldMaxMs: number;
  reqPerSec: number;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const count5xx = (f: Record<string, number>) =>
  Object.entries(f)
    .filter(([k]) => k.startsWith("5"))
    .reduce((s, [, v]) => s + v, 0);

const pgUrl = process.env.SOAK_DATABASE_URL;
const engine: BenchEngine = pgUrl ? { kind: "postgres", adminUrl: pgUrl } : { kind: "sqlite" };
console.log(
  `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${engine.kind}, ${CLIENTS} clients`,
);
const bench = await startBenchHub(engine);
const child = startLoad();
const base = { type: "run" as const, url: bench.url, app: bench.app, clients: CLIENTS };
let failed = false;
try {
  const measured = await runLoad(
    child,
    { ...base, mode: "closed", rate: 0, durationMs: MEASURE_SECONDS * 1000 },
    () => {},
  );
  const capacity = measured.ok / (measured.elapsedMs / 1000);
  const rate = capacity * LOAD;
  console.log(
    `throughput, ${CLIENTS} clients back to back for ${MEASURE_SECONDS} s: ${capacity.toFixed(0)} refreshes/s; ` +
      `soak at ${(LOAD * 100).toFixed(0)}% = ${rate.toFixed(0)}/s for ${SECONDS} s`,
  );
  if (count5xx(measured.failures) > 0)
    console.log(
      `  5xx during the measurement: ${JSON.stringify(measured.failures)} ${measured.samples[0] ?? ""}`,
    );

  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const samples: Sample[] = [];
  let lastOk = 0;
  let lastT = 0;
  let latest: SoakProgress | undefined;
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const t = (performance.now() - t0) / 1000;
    const ok = latest?.ok ?? 0;
    const mem = process.memoryUsage();
    samples.push({
      t,
      rssMb: mem.rss / 2 ** 20,
      heapMb: mem.heapUsed / 2 ** 20,
      eldMeanMs: eld.mean / 1e6,
      eldP99Ms: eld.percentile(99) / 1e6,
      eldMaxMs: eld.max / 1e6,
      reqPerSec: (ok - lastOk) / (t - lastT),
    });
    lastOk = ok;
    lastT = t;
    eld.reset();
    const s = samples.at(-1) as Sample;
    process.stdout.write(
      `  ${t.toFixed(0).padStart(4)} s  ${s.reqPerSec.toFixed(0).padStart(5)}/s  rss ${s.rssMb.toFixed(0)} MB  ` +
        `heap ${s.heapMb.toFixed(0)} MB  loop delay p99 ${s.eldP99Ms.toFixed(1)} ms  5xx ${count5xx(latest?.failures ?? {})}\n`,
    );
  }, SAMPLE_SECONDS * 1000);
  const result = await runLoad(child, { ...base, mode: "open", rate, durationMs: SECONDS * 1000 }, (p) => {
    latest = p;
  });
  clearInterval(sampler);
  eld.disable();

  const fivexx = count5xx(result.failures);
  const first = samples[0];
  const last = samples.at(-1);
  const perMin = (pick: (s: Sample) => number) => slope(samples.map((s) => [s.t / 60, pick(s)])) || 0;
  console.log(
    `\nsoak: ${result.ok} refreshes in ${(result.elapsedMs / 1000).toFixed(0)} s (${(result.ok / (result.elapsedMs / 1000)).toFixed(0)}/s), late sends ${result.late}`,
  );
  console.log(
    `  5xx: ${fivexx}; other failures: ${JSON.stringify(result.failures)}${result.samples[0] ? ` e.g. ${result.samples[0]}` : ""}`,
  );
  if (first && last) {
    console.log("| measure | start | end | slope per minute |");
    console.log("|---|---:|---:|---:|");
    const line = (name: string, pick: (s: Sample) => number, unit: string) =>
      console.log(
        `| ${name} | ${pick(first).toFixed(1)} ${unit} | ${pick(last).toFixed(1)} ${unit} | ${perMin(pick).toFixed(2)} ${unit} |`,
      );
    line("RSS", (s) => s.rssMb, "MB");
    line("heap used", (s) => s.heapMb, "MB");
    line("event-loop delay mean", (s) => s.eldMeanMs, "ms");
    line("event-loop delay p99", (s) => s.eldP99Ms, "ms");
    line("event-loop delay max", (s) => s.eldMaxMs, "ms");
    line("refreshes/s", (s) => s.reqPerSec, "/s");
  }
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(
    `${root}bench/results/soak.json`,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, engine: engine.kind, capacity, rate, result, samples }, null, 2)}\n`,
  );
  failed = fivexx > 0 || (result.failures.network ?? 0) > 0;
} finally {
  child.send({ type: "exit" });
  await bench.close();
}
if (failed) {
  console.error("FAILED: 5xx answers or requests without an answer during the soak");
  process.exit(1);
}
