import {
  FULL_ACCESS,
  MeshauthError,
  type Permissions,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPES,
  type TokenResponse,
  type TokenTypeUrn,
} from "@meshauth/core";
import type { App } from "../../apps/model.js";
import { type SecretBox, secretMatches } from "../../crypto/secrets.js";
import { type JwksCache, verifyOidcToken } from "../../providers/oidc.js";
import { callAuthWebhook } from "../../providers/webhook.js";
import type { Store } from "../../storage/store.js";
import { plainJson, plainRecord } from "../identity.js";
import type { TokenService } from "../tokens.js";
import type { Grant } from "./registry.js";

const MAX_SUBJECT_TOKEN = 8192;

/** The `subject_token_type`s each kind of provider accepts (RFC 8693 §3). */
export const SUBJECT_TOKEN_TYPES: Record<"playground" | "webhook" | "oidc", readonly TokenTypeUrn[]> = {
  playground: [TOKEN_TYPES.accessToken],
  // A webhook's credential is whatever the app's own auth issued: opaque or a JWT.
  webhook: [TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt],
  oidc: [TOKEN_TYPES.idToken, TOKEN_TYPES.jwt],
};

export interface TokenExchangeDeps {
  store: Store;
  box: SecretBox;
  tokens: TokenService;
  /** Fetch for webhook calls (the SSRF-guarded one in production). */
  fetch?: typeof fetch;
  /** Fetch for OIDC key sets. */
  jwksFetch?: typeof fetch;
  /**
   * Show devices why a webhook or key set failed (development). Otherwise they learn one
   * stable reason, `unavailable`, and the hub's log says what happened, so a login
   * cannot probe what the hub can reach.
   */
  exposeProviderFailures?: boolean;
}

function enabled(app: App, kind: "playground" | "webhook" | "oidc"): void {
  if (!app.providers.includes(kind))
    throw new MeshauthError("provider_disabled", `${kind} login is not enabled for app ${app.name}`);
}

/**
 * RFC 8693 §2.2.2: a subject token the provider refuses is `invalid_request`; meshauth's
 * reason (`provider_rejected`) travels as `meshauth_error` for the SDK's alerts.
 */
function asInvalidRequest(e: unknown): never {
  if (e instanceof MeshauthError && e.code === "provider_rejected")
    throw new MeshauthError("invalid_request", e.message, { ...e.details, meshauth_error: e.code });
  throw e;
}

/**
 * RFC 8693 token exchange: the device hands over whatever credential it has and names
 * the provider that can vouch for it. The DPoP proof must carry a fresh hub nonce, the
 * seed's signed challenge, so a captured request cannot be replayed later.
 */
export function tokenExchangeGrant(deps: TokenExchangeDeps): Grant {
  const { store, box, tokens } = deps;
  const oidcKeys: JwksCache = new Map();

  async function webhookLogin(app: App, name: string, credential: string, jkt: string) {
    const hook = (await store.listWebhooks(app.id)).find((w) => w.name === name);
    if (!hook)
      throw new MeshauthError(
        "invalid_request",
        `provider: app ${app.name} has no webhook provider ${JSON.stringify(name)}`,
      );
    const secret = box.open(hook.secretSealed, `webhook:${app.id}:${hook.name}`).toString("utf8");
    return callAuthWebhook({
      appId: app.id,
      provider: hook,
      secret,
      token: credential,
      peerKey: jkt,
      ...(deps.fetch ? { fetchImpl: deps.fetch } : {}),
    });
  }

  async function exchange(app: App, p: Record<string, string>, jkt: string): Promise<TokenResponse> {
    const credential = p.subject_token ?? "";
    if (credential.length > MAX_SUBJECT_TOKEN)
      throw new MeshauthError("invalid_request", "subject_token is too long");
    const provider = p.provider ?? "";
    const [kind, name = ""] = provider.split(/:(.*)/s);
    if (!((kind === "playground" && name === "") || ((kind === "webhook" || kind === "oidc") && name)))
      throw new MeshauthError(
        "invalid_request",
        "provider: expected playground, webhook:<name> or oidc:<name>",
      );
    const k = kind as keyof typeof SUBJECT_TOKEN_TYPES;
    if (!(SUBJECT_TOKEN_TYPES[k] as readonly string[]).includes(p.subject_token_type ?? ""))
      throw new MeshauthError(
        "invalid_request",
        `subject_token_type: ${k} providers accept ${SUBJECT_TOKEN_TYPES[k].join(" or ")}`,
      );
    if (kind === "playground") {
      enabled(app, "playground");
      const hash = await store.playgroundTokenHash(app.id);
      if (!hash || !secretMatches(credential, hash))
        throw new MeshauthError("provider_rejected", "wrong playground token for this app");
      return tokens.login({
        app,
        userId: "playground",
        provider: "playground",
        permissions: FULL_ACCESS,
        jkt,
      });
    }
    if (kind === "webhook") {
      enabled(app, "webhook");
      const who = await webhookLogin(app, name, credential, jkt);
      const clientInfo = who.clientInfo === undefined ? undefined : plainJson(who.clientInfo);
      // Ditto gives clientInfo to the device; only an app that opts in also shares it with
      // every API (access tokens) and every peer (certificates) as userInfo.
      const info = app.shareClientInfo ? plainRecord(clientInfo) : undefined;
      const metadata = plainRecord(who.identityServiceMetadata);
      return tokens.login({
        app,
        userId: who.userId,
        provider: `webhook:${name}`,
        permissions: who.permissions,
        jkt,
        maxLifetimeSeconds: who.expirationSeconds,
        ...(info ? { userInfo: info } : {}),
        ...(clientInfo !== undefined ? { clientInfo } : {}),
        ...(metadata ? { identityMetadata: metadata } : {}),
      });
    }
    enabled(app, "oidc");
    const idp = (await store.listOidcProviders(app.id)).find((o) => o.name === name);
    if (!idp)
      throw new MeshauthError(
        "invalid_request",
        `provider: app ${app.name} has no OIDC provider ${JSON.stringify(name)}`,
      );
    const who = await verifyOidcToken({
      provider: idp,
      token: credential,
      jwksCache: oidcKeys,
      ...(deps.jwksFetch ? { fetchImpl: deps.jwksFetch } : {}),
    });
    let permissions: Permissions;
    if (who.permissionsFromWebhook) {
      permissions = (await webhookLogin(app, idp.mapping.permissionsWebhook ?? "", credential, jkt))
        .permissions;
    } else {
      permissions = who.permissions;
    }
    return tokens.login({
      app,
      userId: who.userId,
      provider: `oidc:${name}`,
      permissions,
      jkt,
      userInfo: plainRecord(who.userInfo) ?? {},
    });
  }

  return {
    grantType: TOKEN_EXCHANGE_GRANT,
    parameters: ["subject_token", "subject_token_type"],
    clientAuthentication: "optional",
    dpop: { nonce: true },
    async handle({ req, params, client, proof }) {
      const result = await exchange(client, params, (proof as NonNullable<typeof proof>).jkt).catch(
        (e: unknown) => {
          if (
            e instanceof MeshauthError &&
            e.code === "provider_unavailable" &&
            !deps.exposeProviderFailures
          ) {
            req.log.warn({ code: e.code, ...e.details }, e.message);
            const provider = String(e.details.provider ?? params.provider);
            throw new MeshauthError(
              "provider_unavailable",
              `login provider ${provider} did not give a usable answer; the hub's log says why`,
              { provider, reason: "unavailable" },
            );
          }
          return asInvalidRequest(e);
        },
      );
      return { ...result, issued_token_type: TOKEN_TYPES.accessToken };
    },
  };
}
