import { createServer } from "node:net";
import type { HubConfig } from "../../src/config/config.js";
import { createHub, type Hub } from "../../src/hub.js";
import { type TestEngine, testConfig } from "./engines.js";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Starts a hub on a fresh database and a free loopback port; its issuer is the URL it
 * listens on, so DPoP proofs for `url + path` match.
 */
export async function startTestHub(
  engine: TestEngine,
  overrides: Partial<HubConfig> = {},
): Promise<Hub & { url: string }> {
  const port = await freePort();
  const config = await testConfig(engine, { port, issuer: `http://127.0.0.1:${port}`, ...overrides });
  const hub = await createHub(config);
  await hub.listen();
  return Object.assign(hub, { url: config.issuer });
}

/** Headers carrying the hub's admin token. */
export function admin(hub: Hub): Record<string, string> {
  return { authorization: `Bearer ${hub.adminToken}` };
}

/** Creates an app through the admin API and a client secret for it. */
export async function createApp(
  hub: Hub,
  body: Record<string, unknown>,
): Promise<{ id: string; playgroundToken?: string; clientSecret: string }> {
  const created = await hub.http.inject({
    method: "POST",
    url: "/admin/apps",
    headers: admin(hub),
    payload: body,
  });
  if (created.statusCode !== 201) throw new Error(`cannot create app: ${created.body}`);
  const { app, playgroundToken } = created.json();
  const secret = await hub.http.inject({
    method: "POST",
    url: `/admin/apps/${app.id}/secrets`,
    headers: admin(hub),
    payload: {},
  });
  return { id: app.id, playgroundToken, clientSecret: secret.json().clientSecret };
}
