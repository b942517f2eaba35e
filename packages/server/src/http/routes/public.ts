import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import type { AppService } from "../../apps/app-service.js";
import type { Revocations } from "../../auth/revocations.js";
import type { SigningKeys } from "../../keys/signing-keys.js";
import type { Store } from "../../storage/store.js";
import type { Discovery } from "../discovery.js";

export interface PublicRoutesOptions {
  revocations: Revocations;
  store: Store;
  keys: SigningKeys;
  apps: AppService;
  discovery: Discovery;
}

/** Liveness, readiness, discovery, the JWKS and each app's CA certificate. */
export async function publicRoutes(app: FastifyInstance, opts: PublicRoutesOptions): Promise<void> {
  const { store, keys, apps, discovery, revocations } = opts;
  discovery.add({
    jwks_uri: discovery.url("/jwks.json"),
    // One CA per app: the client substitutes its client_id (= app ID).
    ca_uri: discovery.url("/apps/{client_id}/ca.pem"),
    revocations_uri: discovery.url("/apps/{client_id}/revocations"),
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

  // For tools that find a JWKS through OpenID discovery (Supabase's third-party auth, ...):
  // the same metadata as above, so nothing OpenID Connect needs (ID tokens, userinfo, an
  // authorization endpoint) is claimed.
  app.get("/.well-known/openid-configuration", async (_req, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return discovery.document();
  });

  app.get("/jwks.json", async (_req, reply) => {
    // Short cache: a rotated key must reach verifiers well before it signs anything that matters.
    reply.header("cache-control", "public, max-age=60");
    return keys.jwks();
  });

  // A signed JWS (typ meshauth-revocations+jwt); peers verify it with /jwks.json and pass it on.
  app.get<{ Params: { appId: string } }>("/apps/:appId/revocations", async (req, reply) => {
    const jws = await revocations.signedList(req.params.appId);
    reply.header("content-type", "application/jwt").header("cache-control", "public, max-age=60");
    return jws;
  });

  app.get<{ Params: { appId: string } }>("/apps/:appId/ca.pem", async (req, reply) => {
    const pem = await apps.caCertificate(req.params.appId);
    reply.header("content-type", "application/x-pem-file").header("cache-control", "public, max-age=300");
    return pem;
  });
}
