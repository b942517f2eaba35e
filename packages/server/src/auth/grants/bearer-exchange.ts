// RFC 8693 exchange of a live, DPoP-proven session for a short-lived bearer JWT that
// engines verifying JWTs against a JWKS understand (PowerSync, Supabase, Hasura, ...).
import { MeshauthError, type Permissions } from "@meshauth/core";
import type { App } from "../../apps/model.js";
import {
  MAX_BEARER_TTL_SECONDS,
  type TokenAudience,
  type TokenAudiences,
} from "../../apps/token-audiences.js";
import { randomToken } from "../../crypto/secrets.js";
import type { SigningKeys } from "../../keys/signing-keys.js";
import type { Store } from "../../storage/store.js";
import type { AccessTokenClaims, TokenService } from "../tokens.js";

export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

/** What the exchange answers (RFC 8693 §2.2.1). */
export interface BearerTokenResponse {
  access_token: string;
  issued_token_type: typeof JWT_TOKEN_TYPE;
  token_type: "Bearer";
  expires_in: number;
  audience: string;
}

export interface BearerExchangeDeps {
  store: Store;
  tokens: TokenService;
  keys: SigningKeys;
  audiences: TokenAudiences;
  now: () => number;
}

/** The part of a /token request the exchange reads (a grant registry's request fits). */
export interface BearerExchangeRequest {
  params: Record<string, string>;
  client: App;
  /** The request's verified DPoP proof. */
  proof: { jkt: string } | undefined;
}

/**
 * Whether a token-exchange request asks for a bearer JWT (`requested_token_type` jwt,
 * or an `audience` without a login `provider`) rather than a login.
 */
export function wantsBearerToken(params: Record<string, string>): boolean {
  return (
    params["requested_token_type"] === JWT_TOKEN_TYPE ||
    (params["audience"] !== undefined && params["provider"] === undefined)
  );
}

/**
 * `sub`, `role`, flattened permissions ("read:*", "write:notes"), the app and the
 * audience's own claims. Per-document `_id` queries stay with meshauth's enforcement:
 * an engine gets the collections a user may touch at all.
 */
export function flattenPermissions(permissions: Permissions): string[] {
  const out: string[] = [];
  for (const op of ["read", "write"] as const) {
    const rules = permissions[op];
    if (rules.everything) {
      out.push(`${op}:*`);
      continue;
    }
    for (const [collection, queries] of Object.entries(rules.queriesByCollection)) {
      if (queries.length > 0) out.push(`${op}:${collection}`);
    }
  }
  return out;
}

export function bearerExchange(deps: BearerExchangeDeps) {
  const { store, tokens, keys, audiences, now } = deps;

  return async ({ params, client, proof }: BearerExchangeRequest): Promise<BearerTokenResponse> => {
    const subject = params["subject_token"];
    if (!subject)
      throw new MeshauthError("invalid_request", "subject_token is required: the session's access token");
    if (subject.length > 8192) throw new MeshauthError("invalid_request", "subject_token is too long");
    if (params["subject_token_type"] !== ACCESS_TOKEN_TYPE)
      throw new MeshauthError("invalid_request", `subject_token_type: expected ${ACCESS_TOKEN_TYPE}`);
    if (params["requested_token_type"] !== undefined && params["requested_token_type"] !== JWT_TOKEN_TYPE)
      throw new MeshauthError("invalid_request", `requested_token_type: expected ${JWT_TOKEN_TYPE}`);
    const audience = params["audience"];
    if (!audience)
      throw new MeshauthError("invalid_request", "audience is required: the service the token is for");
    if (params["resource"] !== undefined || params["scope"] !== undefined)
      throw new MeshauthError(
        "invalid_request",
        "resource and scope are not supported; name the service in audience",
      );
    if (!proof)
      throw new MeshauthError("invalid_dpop_proof", "a DPoP proof by the session's key is required");

    let claims: AccessTokenClaims;
    try {
      claims = await tokens.verifyAccessToken(subject, client);
    } catch (e) {
      // RFC 8693 §2.2.2: a subject token that is not acceptable is invalid_request.
      throw new MeshauthError("invalid_request", `subject_token: ${(e as Error).message}`, {
        meshauth_error: "invalid_token",
      });
    }
    // Possession, not just knowledge: the proof is by the key the session is bound to.
    if (claims.cnf.jkt !== proof.jkt)
      throw new MeshauthError(
        "invalid_dpop_proof",
        "the DPoP proof is not by the key the subject token is bound to",
      );
    if (claims.sid === undefined)
      throw new MeshauthError(
        "invalid_request",
        "subject_token: a backend's own token has no session to exchange",
      );
    const session = await store.sessions.findSession(claims.sid);
    if (!session || !(await tokens.sessionIsLive(client.id, claims.sid, claims.sub)))
      throw new MeshauthError("invalid_grant", "the session has ended; log in again", {
        meshauth_error: "session_revoked",
      });

    const target = await audiences.find(client.id, audience);
    if (!target)
      throw new MeshauthError(
        "invalid_target",
        `app ${client.name} issues no tokens for audience ${JSON.stringify(audience.slice(0, 200))}; an admin adds it (POST /admin/apps/${client.name}/token-audiences)`,
      );
    const iat = Math.floor(now());
    const exp = Math.min(iat + Math.min(target.ttlSeconds, MAX_BEARER_TTL_SECONDS), session.expiresAt);
    const token = await keys.sign(
      {
        iss: claims.iss,
        sub: session.userId,
        aud: audience,
        iat,
        nbf: iat,
        exp,
        jti: randomToken(16, "bt_"),
        sid: session.id,
        client_id: client.id,
        role: target.role,
        ...shapeClaims(target, client, session.permissions, session.userInfo),
      },
      "JWT",
    );
    return {
      access_token: token,
      issued_token_type: JWT_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: exp - iat,
      audience,
    };
  };
}

function shapeClaims(
  target: TokenAudience,
  app: App,
  permissions: Permissions,
  userInfo: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target.claims };
  if (target.appClaim) out[target.appClaim] = app.id;
  if (target.permissionsClaim) out[target.permissionsClaim] = flattenPermissions(permissions);
  for (const [claim, member] of Object.entries(target.userInfoClaims)) {
    const value = userInfo[member];
    if (value !== undefined) out[claim] = value;
  }
  return out;
}
