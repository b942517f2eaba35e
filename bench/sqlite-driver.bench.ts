/**
 * The two SQLite drivers under the hub's Kysely dialect, on the same Node, in
 * interleaved rounds (bench/lib/rounds.ts): node:sqlite through the hub's adapter
 * (storage/node-sqlite.ts) against better-sqlite3, the baseline.
 *
 *   npm run bench -- sqlite-driver
 *   BENCH_BETTER_SQLITE3=/path/to/node_modules/better-sqlite3 npm run bench -- sqlite-driver
 *
 * better-sqlite3 is the repository's own on Node 20 (where node:sqlite does not exist,
 * so there is nothing to compare); on Node 22/24 point BENCH_BETTER_SQLITE3 at a copy
 * built for that Node. The hub never loads better-sqlite3 on Node 24: it aborts there.
 *
 * Cases, each on a file database in WAL mode with the hub's pragmas:
 *   - "refresh": the storage work of one refresh-token rotation, one transaction:
 *     look up the token with its session, mark it used (compare-and-set), insert the
 *     successor, touch the session;
 *   - "lookup": one indexed select, the most frequent read (DPoP jti, app, key).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kysely, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import {
  hasNodeSqlite,
  openSqlite,
  withStatementCache,
} from "../packages/server/src/storage/sqlite-driver.js";
import { type Case, measure, print } from "./lib/rounds.js";

interface Tables {
  sessions: { id: string; last_used_at: number };
  refresh_tokens: { hash: string; session_id: string; generation: number; used_at: number | null };
}

const dir = mkdtempSync(join(tmpdir(), "meshauth-bench-sqlite-"));
const PRAGMAS = ["journal_mode = WAL", "foreign_keys = ON", "busy_timeout = 5000", "synchronous = NORMAL"];

async function betterSqlite3(path: string): Promise<SqliteDatabase | undefined> {
  const from = process.env.BENCH_BETTER_SQLITE3;
  if (!from && hasNodeSqlite()) return undefined;
  if (!from) return openSqlite(path, "better-sqlite3");
  const SQLite = createRequire(import.meta.url)(from) as typeof import("better-sqlite3");
  const db = new SQLite(path);
  for (const p of PRAGMAS) db.pragma(p);
  // The same statement cache the hub puts in front of better-sqlite3 (sqlite-driver.ts).
  return withStatementCache(db);
}

async function setUp(name: string, database: SqliteDatabase): Promise<Case[]> {
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
  await sql`CREATE TABLE sessions (id TEXT PRIMARY KEY, last_used_at INTEGER NOT NULL)`.execute(db);
  await sql`CREATE TABLE refresh_tokens (hash TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), generation INTEGER NOT NULL, used_at INTEGER)`.execute(
    db,
  );
  await sql`CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id, generation)`.execute(db);
  const SESSIONS = 1000;
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < SESSIONS; i++) {
      await tx
        .insertInto("sessions")
        .values({ id: `s${i}`, last_used_at: 0 })
        .execute();
      await tx
        .insertInto("refresh_tokens")
        .values({ hash: `s${i}-0`, session_id: `s${i}`, generation: 0, used_at: null })
        .execute();
    }
  });
  const generation = new Array<number>(SESSIONS).fill(0);
  let turn = 0;
  const refresh = async () => {
    const i = turn++ % SESSIONS;
    const g = generation[i] as number;
    const hash = `s${i}-${g}`;
    await db.transaction().execute(async (tx) => {
      const found = await tx
        .selectFrom("refresh_tokens")
        .innerJoin("sessions", "sessions.id", "refresh_tokens.session_id")
        .select(["refresh_tokens.hash", "refresh_tokens.generation", "sessions.id", "sessions.last_used_at"])
        .where("refresh_tokens.hash", "=", hash)
        .executeTakeFirst();
      if (!found) throw new Error(`${name}: token ${hash} missing`);
      const taken = await tx
        .updateTable("refresh_tokens")
        .set({ used_at: turn })
        .where("hash", "=", hash)
        .where("used_at", "is", null)
        .executeTakeFirst();
      if (taken.numUpdatedRows !== 1n) throw new Error(`${name}: compare-and-set failed`);
      await tx
        .insertInto("refresh_tokens")
        .values({ hash: `s${i}-${g + 1}`, session_id: `s${i}`, generation: g + 1, used_at: null })
        .execute();
      await tx.updateTable("sessions").set({ last_used_at: turn }).where("id", "=", `s${i}`).execute();
    });
    generation[i] = g + 1;
  };
  const lookup = async () => {
    const i = turn++ % SESSIONS;
    const row = await db
      .selectFrom("sessions")
      .select(["id", "last_used_at"])
      .where("id", "=", `s${i}`)
      .executeTakeFirst();
    if (!row) throw new Error(`${name}: session missing`);
  };
  return [
    { name: `${name} refresh`, op: refresh },
    { name: `${name} lookup`, op: lookup },
  ];
}

console.log(`node ${process.version}`);
const cases: Case[] = [];
const better = await betterSqlite3(join(dir, "better.sqlite"));
if (better) cases.push(...(await setUp("better-sqlite3", better)));
else console.log("better-sqlite3: skipped (set BENCH_BETTER_SQLITE3 to a copy built for this Node)");
if (hasNodeSqlite())
  cases.push(...(await setUp("node:sqlite", await openSqlite(join(dir, "node.sqlite"), "node:sqlite"))));
else console.log("node:sqlite: not in this Node (22.13 or newer has it)");

const results = await measure(cases);
const rows: [string, number, string][] = [];
for (const kind of ["refresh", "lookup"]) {
  const base = results.get(`better-sqlite3 ${kind}`);
  for (const c of cases.filter((x) => x.name.endsWith(kind))) {
    const ops = results.get(c.name) ?? 0;
    rows.push([c.name, ops, base ? `${(ops / base).toFixed(2)}x better-sqlite3` : "-"]);
  }
}
print("SQLite drivers under Kysely, sequential ops/s (median of interleaved rounds)", rows);
rmSync(dir, { recursive: true, force: true });
