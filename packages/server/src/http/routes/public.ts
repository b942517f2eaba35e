import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import type { AppService } from "../../apps/app-service.js";
import type { SigningKeys } from "../../keys/signing-keys.js";
import type { Store } from "../../storage/store.js";
import type { Discovery } from "../discovery.js";

export interface PublicRoutesOptions {
  store: Store;
  keys: SigningKeys;
  apps: AppService;
  discovery: Discovery;
}

/** Liveness, readiness, discovery, the JWKS and each app's CA certificate. */
export async function publicRoutes(app: FastifyInstance, opts: PublicRoutesOptions): Promise<void> {
  const { store, keys, apps, discovery } = opts;
  discovery.add({
    jwks_uri: discovery.url("/jwks.json"),
    // One CA per app: the client substitutes its client_id (= app ID).
    ca_uri: discovery.url("/apps/{client_id}/ca.pem"),
  });

  app.get("/health", async () => ({ status: "ok" }));

  app.get("/ready", async () => {
    try {
      await store.ping();
    } catch {
      throw new MeshauthError("unavailable", "storage is not reachable");
    }
    return { status: "ready" };
  });

  app.get("/.well-known/oauth-authorization-server", async (_req, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return discovery.document();
  });

  app.get("/jwks.json", async (_req, reply) => {
    // Short cache: a rotated key must reach verifiers well before it signs anything that matters.
    reply.header("cache-control", "public, max-age=60");
    return keys.jwks();
  });

  app.get<{ Params: { appId: string } }>("/apps/:appId/ca.pem", async (req, reply) => {
    const pem = await apps.caCertificate(req.params.appId);
    reply.header("content-type", "application/x-pem-file").header("cache-control", "public, max-age=300");
    return pem;
  });
}
