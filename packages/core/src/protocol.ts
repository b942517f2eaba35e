import type { Identity, ProviderId } from "./identity.js";
import type { Permissions } from "./permissions/types.js";

/**
 * The hub's wire protocol: grant and token-type URNs, the /token answer, the access-token
 * claims and the error body. Hub and SDK both compile against this one module.
 */

/** meshauth's email-code grant (`/otp` then `/token`). */
export const OTP_GRANT = "urn:meshauth:grant-type:otp";
/** RFC 8693 token exchange: a provider's credential for a hub session. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const REFRESH_TOKEN_GRANT = "refresh_token";
export const CLIENT_CREDENTIALS_GRANT = "client_credentials";

/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPES = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
} as const;
export type TokenTypeUrn = (typeof TOKEN_TYPES)[keyof typeof TOKEN_TYPES];

/** What /token answers on success (RFC 6749 §5.1 plus meshauth's `identity`). */
export interface TokenResponse {
  access_token: string;
  token_type: "DPoP";
  expires_in: number;
  refresh_token?: string;
  identity: Identity;
  /** When the session ends at the latest (seconds since the epoch). */
  refresh_token_expires_at?: number;
  /** Free JSON the login provider returned for the device (Ditto's `clientInfo`). */
  client_info?: unknown;
  /** RFC 8693 §2.2.1, on token-exchange answers. */
  issued_token_type?: TokenTypeUrn;
}

/** The claims of a meshauth access token (RFC 9068 plus the identity). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  exp: number;
  iat: number;
  jti: string;
  /** Session ID; absent for a backend's own client_credentials token. */
  sid?: string;
  cnf: { jkt: string };
  provider: ProviderId;
  permissions: Permissions;
  user_info?: Record<string, unknown>;
  /** The identity's `metadata` (Ditto's identityServiceMetadata). */
  identity_metadata?: Record<string, unknown>;
  /** When the identity ends (the session's absolute end). */
  identity_exp: number;
}

/**
 * An error answer. `error` is the registered OAuth code where the endpoint is an OAuth
 * one (so spec-following clients work); `meshauth_error` carries meshauth's more precise
 * reason when it differs (for example `session_revoked` under `invalid_grant`).
 */
export interface ErrorResponse {
  error: string;
  error_description: string;
  meshauth_error?: string;
  [extra: string]: unknown;
}

/** The `sub` of an app backend's own client_credentials token; no user may have it. */
export function backendSubject(appId: string): string {
  return `client:${appId}`;
}
