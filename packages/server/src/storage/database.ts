import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
} from "kysely";
import pg from "pg";
import type { HubConfig } from "../config/config.js";
import { migrations } from "./migrations/index.js";
import type { Database } from "./schema.js";
import { openSqlite } from "./sqlite-driver.js";

export type Engine = "sqlite" | "postgres";

export interface OpenDatabase {
  db: Kysely<Database>;
  engine: Engine;
}

/**
 * Opens the configured database. Errors (a SQLite file that cannot be opened, PostgreSQL
 * not reachable) surface at the first query (see `migrate`). The SQLite driver is loaded
 * then too, picked by the running Node (see sqlite-driver.ts).
 */
export function openDatabase(config: HubConfig["database"]): OpenDatabase {
  if (config.kind === "sqlite") {
    if (config.path !== ":memory:") mkdirSync(dirname(config.path), { recursive: true });
    return {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: () => openSqlite(config.path) }) }),
      engine: "sqlite",
    };
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: 10,
    connectionTimeoutMillis: 5000,
    // Notices a peer that vanished without closing the connection.
    keepAlive: true,
    // bigint columns hold epoch seconds, which fit a JS number exactly.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === 20
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // A client losing its connection must not crash the process: idle ones report on the
  // pool, checked-out ones (between two queries of a transaction, say) on themselves.
  // Either way pg-pool drops the broken client and the next request opens a new one.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), engine: "postgres" };
}

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Applies pending migrations; throws with the failing migration's name. */
export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(
      failed ? `migration ${failed.migrationName} failed: ${cause}` : `cannot migrate the database: ${cause}`,
    );
  }
}
