/**
 * A hub in this process for benchmarks: a fresh data folder, a free loopback port (the
 * issuer is that URL, so DPoP proofs for `url + path` match), silent logs, and one app
 * with the custom-auth (`client`) provider and a client secret.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type HubConfig, loadConfig } from "../../packages/server/src/config/config.js";
import { createHub, type Hub } from "../../packages/server/src/hub.js";

export interface BenchHub {
  hub: Hub;
  url: string;
  app: { id: string; clientSecret: string };
  close(): Promise<void>;
}

export type BenchEngine = { kind: "sqlite" } | { kind: "postgres"; adminUrl: string };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function startBenchHub(engine: BenchEngine): Promise<BenchHub> {
  const dataDir = mkdtempSync(join(tmpdir(), "meshauth-bench-"));
  let database: HubConfig["database"] = { kind: "sqlite", path: join(dataDir, "hub.sqlite") };
  let dropDatabase = async () => {};
  if (engine.kind === "postgres") {
    const name = `meshauth_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    await adminQuery(engine.adminUrl, `CREATE DATABASE ${name}`);
    const u = new URL(engine.adminUrl);
    u.pathname = `/${name}`;
    database = { kind: "postgres", url: u.href };
    dropDatabase = () => adminQuery(engine.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = {
    ...loadConfig(
      {
        MESHAUTH_DATA_DIR: dataDir,
        PORT: String(port),
        HOST: "127.0.0.1",
        MESHAUTH_ISSUER: url,
        LOG_LEVEL: "silent",
        MESHAUTH_DEMO_APP: "false",
      },
      dataDir,
    ),
    database,
  };
  const hub = await createHub(config);
  await hub.listen();
  const headers = { authorization: `Bearer ${hub.adminToken}` };
  const created = await hub.http.inject({
    method: "POST",
    url: "/admin/apps",
    headers,
    payload: { name: "bench", providers: ["client"] },
  });
  if (created.statusCode !== 201) throw new Error(`cannot create app: ${created.body}`);
  const id = (created.json() as { app: { id: string } }).app.id;
  const secret = await hub.http.inject({
    method: "POST",
    url: `/admin/apps/${id}/secrets`,
    headers,
    payload: {},
  });
  if (secret.statusCode !== 201) throw new Error(`cannot create secret: ${secret.body}`);
  return {
    hub,
    url,
    app: { id, clientSecret: (secret.json() as { clientSecret: string }).clientSecret },
    async close() {
      await hub.close();
      await dropDatabase().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
