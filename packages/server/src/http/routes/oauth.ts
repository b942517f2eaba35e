import formbody from "@fastify/formbody";
import { DEFAULT_DPOP_ALGORITHMS, FULL_ACCESS, MeshauthError, type Permissions } from "@meshauth/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../../apps/model.js";
import { authenticateClient } from "../../auth/client-auth.js";
import type { DpopGuard } from "../../auth/dpop-guard.js";
import type { OtpService } from "../../auth/otp-service.js";
import type { TokenService } from "../../auth/tokens.js";
import { hashSecret } from "../../crypto/secrets.js";
import type { Store } from "../../storage/store.js";
import type { CorsPolicy } from "../cors.js";
import type { Discovery } from "../discovery.js";

export const OTP_GRANT = "urn:meshauth:grant-type:otp";

export interface OAuthRoutesOptions {
  store: Store;
  tokens: TokenService;
  otp: OtpService;
  dpop: DpopGuard;
  discovery: Discovery;
  cors: CorsPolicy;
  validatePermissions: (value: unknown, field: string) => Permissions;
  now: () => number;
  /** Extra grant types (token exchange), registered by later features. */
  grants?: Map<string, GrantHandler>;
}

export type GrantHandler = (req: FastifyRequest, body: Record<string, string>, app: App) => Promise<unknown>;

/**
 * Flattens a form or JSON body into single string values. RFC 6749 §3.2: a parameter
 * must not appear twice; JSON bodies may carry objects for `permissions`.
 */
export function params(body: unknown): Record<string, string> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body))
    throw new MeshauthError("invalid_request", "send the parameters as a form or a JSON object");
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw new MeshauthError("invalid_request", `${key}: sent more than once`);
    if (value === undefined || value === null) continue;
    out[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

function required(p: Record<string, string>, name: string): string {
  const v = p[name];
  if (v === undefined || v === "") throw new MeshauthError("invalid_request", `${name} is required`);
  if (v.length > 8192) throw new MeshauthError("invalid_request", `${name} is too long`);
  return v;
}

function noStore(reply: FastifyReply): void {
  reply.header("cache-control", "no-store").header("pragma", "no-cache");
}

async function findClient(store: Store, clientId: string): Promise<App> {
  const app = clientId.length <= 64 ? await store.findApp(clientId) : undefined;
  if (!app)
    throw new MeshauthError("invalid_client", `unknown client_id ${JSON.stringify(clientId.slice(0, 64))}`);
  return app;
}

const JKT = /^[A-Za-z0-9_-]{43}$/;

/** /otp, /token, /revoke and /introspect: the OAuth 2.0 surface of the hub. */
export async function oauthRoutes(http: FastifyInstance, opts: OAuthRoutesOptions): Promise<void> {
  const { store, tokens, otp, dpop, discovery, cors, now } = opts;
  /** The app a public client names, checked against the request's browser origin. */
  async function appFor(req: FastifyRequest, clientId: string): Promise<App> {
    const app = await findClient(store, clientId);
    cors.assertAllowed(req, app);
    return app;
  }
  const grants = opts.grants ?? new Map<string, GrantHandler>();
  await http.register(formbody, { bodyLimit: 16 * 1024 });

  discovery.add({
    token_endpoint: discovery.url("/token"),
    otp_endpoint: discovery.url("/otp"),
    revocation_endpoint: discovery.url("/revoke"),
    introspection_endpoint: discovery.url("/introspect"),
    grant_types_supported: [OTP_GRANT, "refresh_token", "client_credentials", ...grants.keys()],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    dpop_signing_alg_values_supported: [...DEFAULT_DPOP_ALGORITHMS],
    response_types_supported: [],
  });

  // Every answer carries a fresh nonce, so a client can always put one in its next proof.
  http.addHook("onSend", async (_req, reply) => {
    if (!reply.hasHeader("dpop-nonce")) reply.header("dpop-nonce", await dpop.nonces.issue());
  });

  http.post("/otp", async (req, reply) => {
    const p = params(req.body);
    const app = await appFor(req, required(p, "client_id"));
    noStore(reply);
    return otp.start(app, required(p, "email"), req.ip);
  });

  http.post("/token", async (req, reply) => {
    const p = params(req.body);
    const grantType = required(p, "grant_type");
    noStore(reply);
    switch (grantType) {
      case OTP_GRANT: {
        const app = await appFor(req, required(p, "client_id"));
        const proof = await dpop.verify(req, "/token");
        const email = await otp.verify(app, required(p, "otp_id"), required(p, "otp"));
        return tokens.login({
          app,
          userId: email,
          provider: "otp",
          permissions: app.defaultPermissions,
          userInfo: { email },
          profile: { email },
          jkt: proof.jkt,
        });
      }
      case "refresh_token": {
        const app = await appFor(req, required(p, "client_id"));
        const proof = await dpop.verify(req, "/token");
        // Email users follow the app's current default permissions, so a change reaches them at the next refresh.
        return tokens.refresh(app, required(p, "refresh_token"), proof.jkt, (s) =>
          s.provider === "otp" ? app.defaultPermissions : s.permissions,
        );
      }
      case "client_credentials": {
        const app = await authenticateClient(store, req, p, now());
        cors.assertAllowed(req, app);
        if (!app.providers.includes("client"))
          throw new MeshauthError(
            "unauthorized_client",
            `client credentials are not enabled for app ${app.name}`,
          );
        if (p.sub !== undefined) return customLogin(app, p);
        const proof = await dpop.verify(req, "/token");
        return tokens.backendToken(app, proof.jkt, FULL_ACCESS);
      }
      default: {
        const handler = grants.get(grantType);
        if (handler) return handler(req, p, await appFor(req, required(p, "client_id")));
        throw new MeshauthError(
          "unsupported_grant_type",
          `grant_type ${JSON.stringify(grantType.slice(0, 100))} is not supported; use one of ${[OTP_GRANT, "refresh_token", "client_credentials", ...grants.keys()].join(", ")}`,
        );
      }
    }
  });

  /** The app's backend vouches for a user and names the user's device key. */
  async function customLogin(app: App, p: Record<string, string>) {
    const sub = required(p, "sub");
    if (sub.length > 256) throw new MeshauthError("invalid_request", "sub: at most 256 characters");
    const jkt = required(p, "dpop_jkt");
    if (!JKT.test(jkt))
      throw new MeshauthError(
        "invalid_request",
        "dpop_jkt: expected the RFC 7638 SHA-256 thumbprint (43 base64url characters) of the user's device key",
      );
    let permissions = app.defaultPermissions;
    if (p.permissions !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(p.permissions);
      } catch {
        throw new MeshauthError("invalid_request", "permissions: expected JSON");
      }
      permissions = opts.validatePermissions(parsed, "permissions");
    }
    const email = p.email?.slice(0, 254);
    const name = p.name?.slice(0, 200);
    return tokens.login({
      app,
      userId: sub,
      provider: "client",
      permissions,
      jkt,
      userInfo: { ...(email ? { email } : {}), ...(name ? { name } : {}) },
      profile: { ...(email ? { email } : {}), ...(name ? { name } : {}) },
    });
  }

  // RFC 7009: the answer is 200 whether or not the token was known. Public clients may
  // revoke refresh tokens only: an access token is shown to every API it is sent to, so
  // anyone who saw one could end the user's session. For them an access token (anything
  // shaped like a JWT, checked or not, so the answer reveals nothing about it) is
  // `unsupported_token_type` (RFC 7009 §2.2.1) and nothing changes.
  http.post("/revoke", async (req, reply) => {
    const p = params(req.body);
    const authenticated = p.client_secret !== undefined || Boolean(req.headers.authorization);
    const app = authenticated
      ? await authenticateClient(store, req, p, now())
      : await appFor(req, required(p, "client_id"));
    const token = required(p, "token");
    if (p.token_type_hint !== undefined && !["refresh_token", "access_token"].includes(p.token_type_hint)) {
      throw new MeshauthError(
        "unsupported_token_type",
        "token_type_hint: expected refresh_token or access_token",
      );
    }
    noStore(reply);
    if (!(await tokens.revokeRefreshToken(app, token)) && token.split(".").length === 3) {
      if (!authenticated)
        throw new MeshauthError(
          "unsupported_token_type",
          "a public client can revoke only refresh tokens; send the refresh token to log out",
        );
      // An access token from the app's backend: end the session it belongs to.
      const claims = await tokens.verifyAccessToken(token, app).catch(() => undefined);
      if (claims?.sid) await store.sessions.revokeSession(claims.sid, "logout", now());
    }
    return {};
  });

  // RFC 7662, for the app's backend (authenticated with its secret).
  http.post("/introspect", async (req, reply) => {
    const p = params(req.body);
    const app = await authenticateClient(store, req, p, now());
    const token = required(p, "token");
    noStore(reply);
    if (token.split(".").length === 3) {
      const claims = await tokens.verifyAccessToken(token, app).catch(() => undefined);
      if (!claims || !(await tokens.sessionIsLive(app.id, claims.sid, claims.sub))) return { active: false };
      return { active: true, token_type: "DPoP", ...claims };
    }
    const found = await store.sessions.findByRefreshHash(hashSecret(token));
    if (
      !found ||
      found.session.appId !== app.id ||
      found.usedAt !== null ||
      !(await tokens.sessionIsLive(app.id, found.session.id, found.session.userId))
    ) {
      return { active: false };
    }
    const s = found.session;
    return {
      active: true,
      token_type: "refresh_token",
      client_id: app.id,
      sub: s.userId,
      sid: s.id,
      exp: s.expiresAt,
      iat: s.createdAt,
      cnf: { jkt: s.jkt },
    };
  });
}
