/**
 * The SQLite driver, picked by the running Node:
 * - Node 22.13+ (and 23.4+, 24): the built-in `node:sqlite`. No native addon, so nothing
 *   to build and nothing that can abort the process at exit.
 * - Node 20 (and 22 before 22.13): better-sqlite3, imported lazily here and nowhere else.
 *   better-sqlite3 12 must never load on Node 24: its destructors call
 *   RemoveEnvironmentCleanupHook after the environment is gone and the process aborts.
 *
 * MESHAUTH_SQLITE_DRIVER=node:sqlite|better-sqlite3 overrides the choice (benchmarks
 * compare the two on Node 22); better-sqlite3 is refused on Node 24 and later.
 */
import type { SqliteDatabase } from "kysely";
import { NodeSqliteDatabase, type NodeSqliteModule } from "./node-sqlite.js";

export type SqliteDriverName = "node:sqlite" | "better-sqlite3";

function parseVersion(version: string): [number, number] {
  const [major = 0, minor = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
  return [major, minor];
}

/** Whether this Node has `node:sqlite` without a flag. */
export function hasNodeSqlite(version = process.versions.node): boolean {
  const [major, minor] = parseVersion(version);
  return major >= 24 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
}

/** The driver the hub uses on this Node (or the one MESHAUTH_SQLITE_DRIVER names). */
export function sqliteDriverFor(
  version = process.versions.node,
  override = process.env.MESHAUTH_SQLITE_DRIVER,
): SqliteDriverName {
  const [major] = parseVersion(version);
  if (override) {
    if (override !== "node:sqlite" && override !== "better-sqlite3") {
      throw new Error(`MESHAUTH_SQLITE_DRIVER must be "node:sqlite" or "better-sqlite3", not "${override}"`);
    }
    if (override === "node:sqlite" && !hasNodeSqlite(version)) {
      throw new Error(`MESHAUTH_SQLITE_DRIVER=node:sqlite needs Node 22.13 or newer (this is ${version})`);
    }
    if (override === "better-sqlite3" && major >= 24) {
      throw new Error(`MESHAUTH_SQLITE_DRIVER=better-sqlite3 is refused on Node ${version}: it aborts there`);
    }
    return override;
  }
  return hasNodeSqlite(version) ? "node:sqlite" : "better-sqlite3";
}

// The settings both drivers get. WAL lets the CLI and the hub use the file at once; the
// busy timeout makes a writer wait for the other instead of failing; SQLite leaves
// foreign keys off by default.
const PRAGMAS = ["journal_mode = WAL", "foreign_keys = ON", "busy_timeout = 5000", "synchronous = NORMAL"];

async function loadNodeSqlite(): Promise<NodeSqliteModule> {
  // Node 22 prints an ExperimentalWarning for node:sqlite on every start; the hub picks
  // this module on purpose, so that one warning is dropped and every other is kept.
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    (emit as (w: string | Error, ...r: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return (await import("node:sqlite" as string)) as NodeSqliteModule;
  } finally {
    process.emitWarning = emit;
  }
}

/** Opens (creating if needed) the SQLite file at `path` with the driver for this Node. */
export async function openSqlite(path: string, driver = sqliteDriverFor()): Promise<SqliteDatabase> {
  if (driver === "node:sqlite") {
    const { DatabaseSync } = await loadNodeSqlite();
    const db = new NodeSqliteDatabase(new DatabaseSync(path));
    for (const pragma of PRAGMAS) db.exec(`PRAGMA ${pragma}`);
    return db;
  }
  let db: import("better-sqlite3").Database;
  try {
    const SQLite = (await import("better-sqlite3")).default;
    db = new SQLite(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // A missing package or an addon built for another Node; anything else (a folder it
    // cannot write, say) is reported as it is.
    if (
      err.code === "ERR_MODULE_NOT_FOUND" ||
      err.code === "ERR_DLOPEN_FAILED" ||
      /NODE_MODULE_VERSION|bindings file/.test(err.message)
    ) {
      throw new Error(
        `SQLite on Node ${process.versions.node} needs the better-sqlite3 package, which did not load (${err.message}); ` +
          "use Node 22.13 or newer (built-in SQLite), or reinstall with python3, make and g++ available",
      );
    }
    throw e;
  }
  for (const pragma of PRAGMAS) db.pragma(pragma);
  return withStatementCache(db);
}

/** How many prepared statements are kept; the hub runs a few dozen distinct queries. */
const STATEMENT_CACHE = 256;

/**
 * better-sqlite3 with its prepared statements kept per SQL text (as NodeSqliteDatabase
 * does for node:sqlite): Kysely prepares every query anew, and preparing costs more than
 * running the hub's small indexed queries. Statements are used synchronously, one at a time.
 */
export function withStatementCache(db: import("better-sqlite3").Database): SqliteDatabase {
  const cache = new Map<string, import("better-sqlite3").Statement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
