import { FULL_ACCESS, MeshauthError, type Permissions } from "@meshauth/core";
import type { FastifyRequest } from "fastify";
import type { App } from "../apps/model.js";
import { type SecretBox, secretMatches } from "../crypto/secrets.js";
import { type JwksCache, verifyOidcToken } from "../providers/oidc.js";
import { callAuthWebhook } from "../providers/webhook.js";
import type { Store } from "../storage/store.js";
import type { DpopGuard } from "./dpop-guard.js";
import type { TokenResponse, TokenService } from "./tokens.js";

export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const MAX_SUBJECT_TOKEN = 8192;

export interface TokenExchangeDeps {
  store: Store;
  box: SecretBox;
  tokens: TokenService;
  dpop: DpopGuard;
}

function enabled(app: App, kind: "playground" | "webhook" | "oidc"): void {
  if (!app.providers.includes(kind))
    throw new MeshauthError("provider_disabled", `${kind} login is not enabled for app ${app.name}`);
}

/**
 * RFC 8693 token exchange: the device hands over whatever credential it has and names
 * the provider that can vouch for it. The DPoP proof must carry a fresh hub nonce, the
 * seed's signed challenge, so a captured request cannot be replayed later.
 */
export function tokenExchangeGrant(deps: TokenExchangeDeps) {
  const { store, box, tokens, dpop } = deps;
  const oidcKeys: JwksCache = new Map();

  async function webhookLogin(app: App, name: string, credential: string, jkt: string) {
    const hook = (await store.listWebhooks(app.id)).find((w) => w.name === name);
    if (!hook)
      throw new MeshauthError(
        "invalid_request",
        `provider: app ${app.name} has no webhook provider ${JSON.stringify(name)}`,
      );
    const secret = box.open(hook.secretSealed, `webhook:${app.id}:${hook.name}`).toString("utf8");
    return callAuthWebhook({ appId: app.id, provider: hook, secret, token: credential, peerKey: jkt });
  }

  return async (
    req: FastifyRequest,
    p: Record<string, string>,
    app: App,
  ): Promise<TokenResponse & { issued_token_type: string }> => {
    const proof = await dpop.verify(req, "/token", { requireNonce: true });
    const credential = p.subject_token;
    if (!credential)
      throw new MeshauthError(
        "invalid_request",
        "subject_token is required: the credential the provider checks",
      );
    if (credential.length > MAX_SUBJECT_TOKEN)
      throw new MeshauthError("invalid_request", "subject_token is too long");
    if (!p.subject_token_type)
      throw new MeshauthError("invalid_request", "subject_token_type is required (RFC 8693)");
    const provider = p.provider ?? "";
    const [kind, name = ""] = provider.split(/:(.*)/s);
    let result: TokenResponse;
    if (kind === "playground" && name === "") {
      enabled(app, "playground");
      const hash = await store.playgroundTokenHash(app.id);
      if (!hash || !secretMatches(credential, hash))
        throw new MeshauthError("provider_rejected", "wrong playground token for this app");
      result = await tokens.login({
        app,
        userId: "playground",
        provider: "playground",
        permissions: FULL_ACCESS,
        jkt: proof.jkt,
      });
    } else if (kind === "webhook" && name) {
      enabled(app, "webhook");
      const who = await webhookLogin(app, name, credential, proof.jkt);
      const info =
        who.clientInfo !== null && typeof who.clientInfo === "object" && !Array.isArray(who.clientInfo)
          ? (who.clientInfo as Record<string, unknown>)
          : undefined;
      result = await tokens.login({
        app,
        userId: who.userId,
        provider: `webhook:${name}`,
        permissions: who.permissions,
        jkt: proof.jkt,
        maxLifetimeSeconds: who.expirationSeconds,
        ...(info ? { userInfo: info } : {}),
        ...(who.clientInfo !== undefined ? { clientInfo: who.clientInfo } : {}),
      });
    } else if (kind === "oidc" && name) {
      enabled(app, "oidc");
      const idp = (await store.listOidcProviders(app.id)).find((o) => o.name === name);
      if (!idp)
        throw new MeshauthError(
          "invalid_request",
          `provider: app ${app.name} has no OIDC provider ${JSON.stringify(name)}`,
        );
      const who = await verifyOidcToken({ provider: idp, token: credential, jwksCache: oidcKeys });
      let permissions: Permissions;
      if (who.permissionsFromWebhook) {
        permissions = (await webhookLogin(app, idp.mapping.permissionsWebhook ?? "", credential, proof.jkt))
          .permissions;
      } else {
        permissions = who.permissions;
      }
      result = await tokens.login({
        app,
        userId: who.userId,
        provider: `oidc:${name}`,
        permissions,
        jkt: proof.jkt,
        userInfo: who.userInfo,
      });
    } else {
      throw new MeshauthError(
        "invalid_request",
        "provider: expected playground, webhook:<name> or oidc:<name>",
      );
    }
    return { ...result, issued_token_type: ISSUED_TOKEN_TYPE };
  };
}
