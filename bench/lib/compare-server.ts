/**
 * One token server for bench/compare.bench.ts, run as a child process (forked with IPC)
 * so its CPU time is its own: `meshauth-sqlite`, `meshauth-postgres` (argv[3]: admin URL)
 * or `oidc-provider` (node-oidc-provider with its memory adapter). It answers:
 *   - at start: `{ type: "ready", target }`, the URL and clients the load generator uses;
 *   - `{ type: "cpu" }`: `{ type: "cpu", micros }`, the process's user + system CPU so far.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { startBenchHub } from "./hub.js";

export interface Target {
  kind: "meshauth" | "oidc-provider";
  url: string;
  /** The client that refreshes (a public client: DPoP-bound refresh tokens). */
  publicClientId: string;
  /** The backend client for client_credentials. */
  clientId: string;
  clientSecret: string;
}

/** The resource oidc-provider's access tokens are for (RFC 8707): ES256 JWTs, as meshauth's. */
const RESOURCE = "urn:meshauth-bench:api";

/**
 * oidc-provider's storage: its own MemoryAdapter's behaviour on a plain Map. The bundled
 * one is an LRU of 1,000 entries; every DPoP proof's jti and every rotated refresh token
 * is an entry, so within a second it drops live refresh tokens (`invalid_grant`).
 */
function mapAdapter() {
  type Entry = { payload: Record<string, unknown>; expiresAt: number };
  const store = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const get = (key: string) => {
    const e = store.get(key);
    if (e && e.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return e?.payload;
  };
  return class MapAdapter {
    constructor(readonly model: string) {}
    key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      const key = this.key(id);
      const expiresAt =
        typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      store.set(key, { payload, expiresAt });
      if (typeof payload.grantId === "string") {
        const keys = byGrant.get(payload.grantId) ?? new Set<string>();
        byGrant.set(payload.grantId, keys);
        keys.add(key);
      }
      if (this.model === "Session" && typeof payload.uid === "string") byUid.set(payload.uid, id);
      if (typeof payload.userCode === "string") byUserCode.set(payload.userCode, id);
    }
    async find(id: string) {
      return get(this.key(id));
    }
    async findByUid(uid: string) {
      const id = byUid.get(uid);
      return id === undefined ? undefined : get(this.key(id));
    }
    async findByUserCode(code: string) {
      const id = byUserCode.get(code);
      return id === undefined ? undefined : get(this.key(id));
    }
    async consume(id: string) {
      const p = get(this.key(id));
      if (p) p.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    }
  };
}

async function startOidcProvider(): Promise<{ target: Target; close(): Promise<void> }> {
  const { default: Provider } = await import("oidc-provider");
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "bench-es256", alg: "ES256", use: "sig" };
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientSecret = randomBytes(32).toString("base64url");
  const provider = new Provider(url, {
    adapter: mapAdapter(),
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    clients: [
      {
        // A device app: public client, authorization code with PKCE, refresh tokens.
        client_id: "bench-device",
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback"],
        dpop_bound_access_tokens: true,
        // No ID tokens are asked for (no `openid` scope); the only key is ES256.
        id_token_signed_response_alg: "ES256",
      },
      {
        // An app backend: client_credentials with a secret.
        client_id: "bench-backend",
        client_secret: clientSecret,
        token_endpoint_auth_method: "client_secret_post",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        dpop_bound_access_tokens: true,
        // No ID tokens are asked for (no `openid` scope); the only key is ES256.
        id_token_signed_response_alg: "ES256",
      },
    ],
    scopes: ["offline_access", "api"],
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "api",
          accessTokenFormat: "jwt",
          accessTokenTTL: 600,
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
    // Every refresh rotates its token (meshauth always does), as a device would be configured.
    rotateRefreshToken: true,
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  });
  const callback = provider.callback();

  // The login and consent screens of a real deployment, answered without a form: the
  // user named by `login_hint` signs in and grants what the client asked for. The rest
  // of the authorization code flow is oidc-provider's own.
  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const accountId = String(details.params.login_hint ?? "bench-user");
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new Error("interaction without its grant");
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/interaction/")) {
      interaction(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
      return;
    }
    callback(req, res);
  });
  // Idle keep-alive sockets wait for the next round (Fastify's default is 72 s too).
  server.keepAliveTimeout = 120_000;
  return {
    target: {
      kind: "oidc-provider",
      url,
      publicClientId: "bench-device",
      clientId: "bench-backend",
      clientSecret,
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function startMeshauth(kind: string, adminUrl: string | undefined) {
  const bench = await startBenchHub(
    kind === "meshauth-postgres" ? { kind: "postgres", adminUrl: adminUrl as string } : { kind: "sqlite" },
  );
  bench.hub.http.server.keepAliveTimeout = 120_000;
  const target: Target = {
    kind: "meshauth",
    url: bench.url,
    publicClientId: bench.app.id,
    clientId: bench.app.id,
    clientSecret: bench.app.clientSecret,
  };
  return { target, close: () => bench.close() };
}

const kind = process.argv[2] ?? "";
const started =
  kind === "oidc-provider"
    ? await startOidcProvider()
    : kind.startsWith("meshauth-")
      ? await startMeshauth(kind, process.argv[3])
      : undefined;
if (!started) throw new Error(`unknown server kind ${kind}`);
process.send?.({ type: "ready", target: started.target });
// A benchmark that dies must not leave its servers behind.
process.on("disconnect", () => process.exit(0));
process.on("message", (msg: { type: string }) => {
  if (msg.type === "cpu") {
    const u = process.cpuUsage();
    process.send?.({ type: "cpu", micros: u.user + u.system });
  } else if (msg.type === "exit") {
    started.close().finally(() => process.exit(0));
  }
});
