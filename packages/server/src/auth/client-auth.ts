import { MeshauthError } from "@meshauth/core";
import type { FastifyRequest } from "fastify";
import type { App } from "../apps/model.js";
import { hashSecret, secretMatches } from "../crypto/secrets.js";
import type { Store } from "../storage/store.js";
import { check, countFailure, LIMITS } from "./limits.js";

// Compared against when the secret ID is unknown, so a miss costs the same as a wrong secret.
const DUMMY_HASH = hashSecret("meshauth-no-such-secret");

function basicCredentials(req: FastifyRequest): { id: string; secret: string } | undefined {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0)
    throw new MeshauthError("invalid_client", "Basic credentials must be client_id:client_secret");
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return {
      id: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    throw new MeshauthError("invalid_client", "Basic credentials are not validly encoded");
  }
}

/** Whether the request carries client credentials (HTTP Basic or `client_secret` in the body). */
export function sendsClientCredentials(req: FastifyRequest, body: Record<string, unknown>): boolean {
  return body.client_secret !== undefined || /^Basic\s/i.test(req.headers.authorization ?? "");
}

/**
 * Authenticates an app's backend by client secret (HTTP Basic or form body, not both).
 * Secrets are compared in constant time against their hash; failures are counted
 * per client IP and stop being answered past the limit.
 */
export async function authenticateClient(
  store: Store,
  req: FastifyRequest,
  body: Record<string, unknown>,
  now: number,
): Promise<App> {
  const basic = basicCredentials(req);
  const post =
    typeof body.client_secret === "string"
      ? { id: String(body.client_id ?? ""), secret: body.client_secret }
      : undefined;
  if (basic && post)
    throw new MeshauthError(
      "invalid_request",
      "send client credentials once: HTTP Basic or the form body, not both",
    );
  const creds = basic ?? post;
  if (!creds)
    throw new MeshauthError("invalid_client", "this request needs the app's client_id and client_secret");
  if (basic && body.client_id !== undefined && body.client_id !== basic.id) {
    throw new MeshauthError(
      "invalid_request",
      "client_id in the body differs from the one in the Authorization header",
    );
  }
  const ipKey = `client-auth-fail:${req.ip}`;
  await check(store.guards, ipKey, LIMITS.clientAuthFailuresPerIp, now, "failed client authentications");

  const app = creds.id.length <= 64 ? await store.findApp(creds.id) : undefined;
  const dot = creds.secret.indexOf(".");
  const secretId = dot > 0 ? creds.secret.slice(0, dot) : "";
  const stored = app && secretId.length <= 32 ? await store.activeSecretHash(app.id, secretId) : undefined;
  const ok = secretMatches(creds.secret, stored ?? DUMMY_HASH) && stored !== undefined;
  if (!app || !ok) {
    await countFailure(store.guards, ipKey, LIMITS.clientAuthFailuresPerIp, now);
    throw new MeshauthError("invalid_client", "unknown client or wrong client secret");
  }
  return app;
}
