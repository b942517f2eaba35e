import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type HubConfig, loadConfig } from "../../src/config/config.js";

export interface TestEngine {
  name: "sqlite" | "postgres";
  /** A fresh, empty database config (a new SQLite file or a new PostgreSQL database). */
  database(): Promise<HubConfig["database"]>;
}

const created: { dirs: string[]; pgDatabases: string[] } = { dirs: [], pgDatabases: [] };

export function tempDir(prefix = "meshauth-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.dirs.push(dir);
  return dir;
}

const pgUrl = process.env.TEST_DATABASE_URL;
let skipNoticeShown = false;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * The storage engines to run a suite against: SQLite always, PostgreSQL when
 * TEST_DATABASE_URL is set (each call gets its own fresh database, dropped at exit).
 */
export function engines(): TestEngine[] {
  const list: TestEngine[] = [
    {
      name: "sqlite",
      async database() {
        return { kind: "sqlite", path: join(tempDir(), "hub.sqlite") };
      },
    },
  ];
  if (pgUrl) {
    list.push({
      name: "postgres",
      async database() {
        const name = `meshauth_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
        await adminQuery(`CREATE DATABASE ${name}`);
        created.pgDatabases.push(name);
        return { kind: "postgres", url: withDatabase(pgUrl, name) };
      },
    });
  } else if (!skipNoticeShown) {
    skipNoticeShown = true;
    console.log(
      "# PostgreSQL tests skipped: set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run them (a fresh database is made per suite)",
    );
  }
  return list;
}

/** A hub configuration in a fresh data folder, with no port bound and quiet logs. */
export async function testConfig(engine: TestEngine, overrides: Partial<HubConfig> = {}): Promise<HubConfig> {
  const dataDir = tempDir();
  const base = loadConfig({ MESHAUTH_DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "silent" }, dataDir);
  return { ...base, database: await engine.database(), ...overrides };
}

/** Drops what the tests made; call from an `after` hook. */
export async function cleanup(): Promise<void> {
  for (const dir of created.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const name of created.pgDatabases.splice(0)) {
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}
