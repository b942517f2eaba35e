import type { HubConfig } from "../../src/config/config.js";
import { createHub, type Hub } from "../../src/hub.js";
import { type TestEngine, testConfig } from "./engines.js";

/** Starts a hub on a fresh database, on an ephemeral loopback port. */
export async function startTestHub(
  engine: TestEngine,
  overrides: Partial<HubConfig> = {},
): Promise<Hub & { url: string }> {
  const config = await testConfig(engine, overrides);
  const hub = await createHub(config);
  const url = await hub.listen();
  return Object.assign(hub, { url });
}

/** Headers carrying the hub's admin token. */
export function admin(hub: Hub): Record<string, string> {
  return { authorization: `Bearer ${hub.adminToken}` };
}
