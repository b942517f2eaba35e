/**
 * Sync through the hub, measured in one run against baselines from the same run:
 * - pull throughput (documents/s) for a user whose rules select 10% of 100,000 documents,
 *   against the same number of documents pulled with `everything`, and against a bare SQL
 *   select of the same documents (no HTTP, no enforcement);
 * - push throughput with enforcement (write rules on `_id`) against `everything`;
 * - latency from a push to another device receiving it on its stream (p50, p99).
 * On SQLite, and on PostgreSQL when TEST_DATABASE_URL (or BENCH_DATABASE_URL) is set.
 *
 *   npm run bench -- sync          (DOCS=100000 ROUNDS=3 LATENCY_SAMPLES=200)
 */
import { FULL_ACCESS, type Permissions } from "@meshauth/core";
import { enforcerFor, type StreamFrame } from "@meshauth/sync";
import { DocumentStore } from "../packages/server/src/sync/document-store.js";
import { syncDb } from "../packages/server/src/sync/schema.js";
import { loginAs, type SyncSession } from "../packages/server/test/helpers/sync.js";
import { type BenchEngine, startBenchHub } from "./lib/hub.js";

const DOCS = Number(process.env.DOCS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SAMPLES = Number(process.env.LATENCY_SAMPLES ?? 200);
const OWNERS = 10; // so one owner is 10% of the documents
const PAGE = 1000;
const spec = { name: "todos", idFields: ["owner", "list"] };

const rules = (q: string): Permissions => ({
  read: { everything: false, queriesByCollection: { todos: [q] } },
  write: { everything: false, queriesByCollection: { todos: [q] } },
});

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? 0;
}

/** Pulls `count` documents in pages; returns documents/s. */
async function pullRate(s: SyncSession, count: number): Promise<number> {
  const start = performance.now();
  let checkpoint: unknown = null;
  let got = 0;
  while (got < count) {
    const res = await s.call("todos", "pull", { checkpoint, limit: Math.min(PAGE, count - got) });
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    if (res.body.documents.length === 0) break;
    got += res.body.documents.length;
    checkpoint = res.body.checkpoint;
  }
  if (got !== count) throw new Error(`pulled ${got}, expected ${count}`);
  return (got * 1000) / (performance.now() - start);
}

async function run(name: string, engine: BenchEngine): Promise<void> {
  const bench = await startBenchHub(engine);
  try {
    const { hub, url, app } = bench;
    const declared = await hub.http.inject({
      method: "POST",
      url: `/admin/apps/${app.id}/collections`,
      headers: { authorization: `Bearer ${hub.adminToken}` },
      payload: spec,
    });
    if (declared.statusCode !== 201) throw new Error(declared.body);

    // Seed through the store the routes use, 100 rows a transaction.
    const store = new DocumentStore(hub.store, hub.store.engine);
    const full = enforcerFor(FULL_ACCESS, spec);
    const seedStart = performance.now();
    for (let i = 0; i < DOCS; i += 100) {
      const rows = [];
      for (let j = i; j < Math.min(DOCS, i + 100); j++) {
        rows.push({
          assumedMasterState: null,
          newDocumentState: {
            owner: `u${j % OWNERS}`,
            list: `l${j}`,
            title: `todo ${j}`,
            done: false,
            _deleted: false,
          },
        });
      }
      await store.push(app.id, full, full.checkPush({ rows }));
    }
    console.log(
      `\n[${name}] seeded ${DOCS} documents in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
    );

    const selected = DOCS / OWNERS;
    const ruled = await loginAs(url, app, "u3", rules("_id.owner == 'u3'"));
    const everything = await loginAs(url, app, "all", FULL_ACCESS);
    const db = syncDb(hub.store.db);
    const bare = async (): Promise<number> => {
      const start = performance.now();
      let after = 0;
      let got = 0;
      for (;;) {
        const rows = await db
          .selectFrom("sync_documents")
          .select(["seq", "doc"])
          .where("app_id", "=", app.id)
          .where("collection", "=", "todos")
          .where("k0", "=", "u3")
          .where("seq", ">", after)
          .orderBy("seq")
          .limit(PAGE)
          .execute();
        if (rows.length === 0) break;
        got += rows.length;
        after = Number(rows[rows.length - 1]?.seq);
      }
      if (got !== selected) throw new Error(`bare select got ${got}`);
      return (got * 1000) / (performance.now() - start);
    };

    // The hub's own pull (SQL filter and the enforcer's decision per row), without HTTP.
    const ruledEnforcer = enforcerFor(rules("_id.owner == 'u3'"), spec);
    const storePull = async (): Promise<number> => {
      const start = performance.now();
      let after = 0;
      let got = 0;
      for (;;) {
        const batch = await store.pull(app.id, ruledEnforcer, after, PAGE);
        if (batch.documents.length === 0) break;
        got += batch.documents.length;
        after = batch.lastSeq;
      }
      if (got !== selected) throw new Error(`store pull got ${got}`);
      return (got * 1000) / (performance.now() - start);
    };
    const r = {
      ruled: [] as number[],
      everything: [] as number[],
      bare: [] as number[],
      store: [] as number[],
    };
    await pullRate(ruled, selected); // warm-up
    await pullRate(everything, selected);
    await bare();
    await storePull();
    for (let i = 0; i < ROUNDS; i++) {
      r.store.push(await storePull());
      r.ruled.push(await pullRate(ruled, selected));
      r.everything.push(await pullRate(everything, selected));
      r.bare.push(await bare());
    }
    const [pr, pe, pb, ps] = [median(r.ruled), median(r.everything), median(r.bare), median(r.store)];
    console.log(`[${name}] pull of ${selected} documents (pages of ${PAGE}), documents/s:`);
    console.log(`  rules select 10% (_id.owner == 'u3')  ${pr.toFixed(0).padStart(9)}`);
    console.log(
      `  everything (same count)                ${pe.toFixed(0).padStart(9)}   rules/everything = ${(pr / pe).toFixed(2)} (aim >= 0.80)`,
    );
    console.log(
      `  bare SQL select of the same documents  ${pb.toFixed(0).padStart(9)}   bare/pull = ${(pb / pr).toFixed(2)} (aim <= 2)`,
    );
    console.log(
      `  the hub's pull without HTTP            ${ps.toFixed(0).padStart(9)}   bare/hub pull = ${(pb / ps).toFixed(2)}`,
    );

    // Push: 100-row batches of new documents, one request at a time.
    let n = 0;
    const pushRate = async (s: SyncSession, owner: string): Promise<number> => {
      const batches = 20;
      const start = performance.now();
      for (let b = 0; b < batches; b++) {
        const rows = Array.from({ length: 100 }, () => ({
          assumedMasterState: null,
          newDocumentState: { owner, list: `p${n++}`, title: "pushed", done: false, _deleted: false },
        }));
        const res = await s.call("todos", "push", { rows });
        if (res.status !== 200 || res.body.refused.length > 0)
          throw new Error(JSON.stringify(res.body).slice(0, 300));
      }
      return (batches * 100 * 1000) / (performance.now() - start);
    };
    const w = { ruled: [] as number[], everything: [] as number[] };
    await pushRate(ruled, "u3");
    await pushRate(everything, "u9");
    for (let i = 0; i < ROUNDS; i++) {
      w.ruled.push(await pushRate(ruled, "u3"));
      w.everything.push(await pushRate(everything, "u9"));
    }
    const [wr, we] = [median(w.ruled), median(w.everything)];
    console.log(`[${name}] push, 100-row batches, documents/s:`);
    console.log(`  write rules (_id.owner == 'u3')        ${wr.toFixed(0).padStart(9)}`);
    console.log(
      `  everything                             ${we.toFixed(0).padStart(9)}   rules/everything = ${(wr / we).toFixed(2)} (aim >= 0.80)`,
    );

    // Latency: a push by one device until another device's stream delivers it.
    const reader = await loginAs(url, app, "reader", rules("_id.owner == 'u3'"));
    const stream = await reader.stream("todos");
    await stream.next((f) => f === "RESYNC");
    const latencies: number[] = [];
    const afterAnswer: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const list = `lat${i}`;
      const from = stream.frames.length;
      const start = performance.now();
      const arrived = stream.next(
        (f: StreamFrame) =>
          typeof f === "object" && "documents" in f && f.documents.some((d) => d.list === list),
        from,
      );
      await ruled.call("todos", "push", {
        rows: [{ assumedMasterState: null, newDocumentState: { owner: "u3", list, _deleted: false } }],
      });
      const answered = performance.now();
      await arrived;
      const done = performance.now();
      latencies.push(done - start);
      afterAnswer.push(Math.max(0, done - answered));
    }
    stream.close();
    console.log(
      `[${name}] push to stream, ${SAMPLES} samples: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (from sending the push); from the push's answer: p50 ${percentile(afterAnswer, 50).toFixed(1)} ms, p99 ${percentile(afterAnswer, 99).toFixed(1)} ms`,
    );
  } finally {
    await bench.close();
  }
}

await run("sqlite", { kind: "sqlite" });
const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (pgUrl) await run("postgres", { kind: "postgres", adminUrl: pgUrl });
else console.log("\n(PostgreSQL skipped: set TEST_DATABASE_URL to include it)");
