import formbody from "@fastify/formbody";
import { DEFAULT_DPOP_ALGORITHMS, MeshauthError } from "@meshauth/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../../apps/model.js";
import { authenticateClient, sendsClientCredentials } from "../../auth/client-auth.js";
import type { DpopHooks } from "../../auth/dpop-hook.js";
import type { Grant, GrantRegistry } from "../../auth/grants/registry.js";
import { introspect } from "../../auth/introspection.js";
import type { OtpService } from "../../auth/otp-service.js";
import { oauthParams, requiredParam } from "../../auth/params.js";
import type { TokenService } from "../../auth/tokens.js";
import type { Store } from "../../storage/store.js";
import type { CorsPolicy } from "../cors.js";
import type { Discovery } from "../discovery.js";

export { OTP_GRANT } from "@meshauth/core";

export interface OAuthRoutesOptions {
  store: Store;
  tokens: TokenService;
  otp: OtpService;
  dpopHooks: DpopHooks;
  discovery: Discovery;
  cors: CorsPolicy;
  /** The /token grants, by grant_type (see auth/grants/). */
  grants: GrantRegistry;
  now: () => number;
}

/** Kept for callers of the former module; see auth/params.ts. */
export const params = oauthParams;

function noStore(reply: FastifyReply): void {
  reply.header("cache-control", "no-store").header("pragma", "no-cache");
}

async function findClient(store: Store, clientId: string): Promise<App> {
  const app = clientId.length <= 64 ? await store.findApp(clientId) : undefined;
  if (!app)
    throw new MeshauthError("invalid_client", `unknown client_id ${JSON.stringify(clientId.slice(0, 64))}`);
  return app;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The /token grant a request names and its client, resolved before the DPoP preHandler runs. */
    grant?: { grant: Grant; client: App; authenticated: boolean };
  }
}

/** /otp, /token, /revoke and /introspect: the OAuth 2.0 surface of the hub. */
export async function oauthRoutes(http: FastifyInstance, opts: OAuthRoutesOptions): Promise<void> {
  const { store, tokens, otp, dpopHooks, discovery, cors, grants, now } = opts;

  /**
   * The client a request is from. Credentials that are sent are always checked (RFC 6749
   * §6: "authenticate the client if client authentication is included"); HTTP Basic
   * names the client by itself (§2.3.1). Without credentials a public client names itself
   * by `client_id`, unless `authentication` is required.
   */
  async function clientOf(
    req: FastifyRequest,
    p: Record<string, string>,
    authentication: "required" | "optional",
  ): Promise<{ app: App; authenticated: boolean }> {
    const authenticated = sendsClientCredentials(req, p);
    let app: App;
    if (authenticated || authentication === "required") app = await authenticateClient(store, req, p, now());
    else app = await findClient(store, requiredParam(p, "client_id"));
    cors.assertAllowed(req, app);
    return { app, authenticated };
  }

  await http.register(formbody, { bodyLimit: 16 * 1024 });

  discovery.add({
    token_endpoint: discovery.url("/token"),
    otp_endpoint: discovery.url("/otp"),
    revocation_endpoint: discovery.url("/revoke"),
    introspection_endpoint: discovery.url("/introspect"),
    grant_types_supported: grants.types(),
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    dpop_signing_alg_values_supported: [...DEFAULT_DPOP_ALGORITHMS],
    response_types_supported: [],
  });

  // Every answer carries a fresh nonce, so a client can always put one in its next proof.
  http.addHook("onSend", async (_req, reply) => {
    if (!reply.hasHeader("dpop-nonce")) reply.header("dpop-nonce", await dpopHooks.nonces.issue());
  });

  http.post("/otp", async (req, reply) => {
    const p = oauthParams(req.body);
    const { app } = await clientOf(req, p, "optional");
    noStore(reply);
    return otp.start(app, requiredParam(p, "email"), req.ip);
  });

  // The route only dispatches: each grant declares what it needs (auth/grants/*.ts).
  http.post(
    "/token",
    {
      preValidation: async (req, reply) => {
        noStore(reply);
        const p = oauthParams(req.body);
        const grant = grants.resolve(requiredParam(p, "grant_type"));
        const { app, authenticated } = await clientOf(req, p, grant.clientAuthentication);
        req.grant = { grant, client: app, authenticated };
      },
      preHandler: dpopHooks.require((req) => req.grant?.grant.dpop),
    },
    async (req) => {
      const { grant, client, authenticated } = req.grant as NonNullable<FastifyRequest["grant"]>;
      const p = oauthParams(req.body);
      for (const name of grant.parameters) requiredParam(p, name);
      return grant.handle({ req, params: p, client, authenticated, proof: req.dpop?.proof });
    },
  );

  // RFC 7009: the answer is 200 whether or not the token was known. Public clients may
  // revoke refresh tokens only: an access token is shown to every API it is sent to, so
  // anyone who saw one could end the user's session. For them an access token (anything
  // shaped like a JWT, checked or not, so the answer reveals nothing about it) is
  // `unsupported_token_type` (RFC 7009 §2.2.1) and nothing changes.
  http.post("/revoke", async (req, reply) => {
    const p = oauthParams(req.body);
    const { app, authenticated } = await clientOf(req, p, "optional");
    const token = requiredParam(p, "token");
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
    const p = oauthParams(req.body);
    const { app } = await clientOf(req, p, "required");
    const token = requiredParam(p, "token");
    noStore(reply);
    return introspect(store, tokens, app, token);
  });
}
