import { MeshauthError, type Permissions, validatePermissions } from "@meshauth/core";
import {
  createRemoteJWKSet,
  customFetch,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import type { OidcProvider } from "../apps/model.js";

/**
 * Signature algorithms accepted in ID tokens: asymmetric only. HS* would make the
 * audience's client secret a signing key, and `none` is no signature at all.
 */
export const OIDC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
/** Seconds of clock difference tolerated on exp/iat/nbf. */
export const OIDC_CLOCK_TOLERANCE_SECONDS = 30;
/** Milliseconds allowed for fetching the issuer's JWKS. */
export const OIDC_JWKS_TIMEOUT_MS = 5000;
export const OIDC_MAX_USER_ID_LENGTH = 256;

/** One remote key set per JWKS URL, so jose's key cache and refetch cooldown work across logins. */
export type JwksCache = Map<string, JWTVerifyGetKey>;
const defaultJwksCache: JwksCache = new Map();

export interface VerifyOidcTokenOptions {
  provider: OidcProvider;
  /** The ID token the device sent. */
  token: string;
  /** Clock in milliseconds. */
  now?: () => number;
  /** Defaults to a process-wide cache. */
  jwksCache?: JwksCache;
  /** Fetch for the key set (the hub passes its SSRF-guarded one in production). */
  fetchImpl?: typeof fetch;
}

interface OidcIdentityBase {
  userId: string;
  /** The claims named in `mapping.userInfoClaims` that the token carries. */
  userInfo: Record<string, unknown>;
  /** The token's `exp`, in milliseconds since the epoch. */
  expiresAt: number;
}

/**
 * A verified ID token. With `mapping.permissionsWebhook` set the static rules are not
 * consulted: `permissions` is null and the caller asks that webhook.
 */
export type OidcIdentity =
  | (OidcIdentityBase & { permissionsFromWebhook: false; permissions: Permissions })
  | (OidcIdentityBase & { permissionsFromWebhook: true; permissions: null });

function rejected(provider: OidcProvider, reason: string, problem: string): MeshauthError {
  return new MeshauthError("provider_rejected", `OIDC provider ${provider.name}: ${problem}`, {
    provider: `oidc:${provider.name}`,
    reason,
  });
}

function unavailable(provider: OidcProvider, problem: string): MeshauthError {
  return new MeshauthError("provider_unavailable", `OIDC provider ${provider.name}: ${problem}`, {
    provider: `oidc:${provider.name}`,
    reason: "jwks",
  });
}

/** Sorts jose's failures: the key set could not be had (outage) versus the token is bad (rejection). */
function classify(error: unknown, provider: OidcProvider): MeshauthError {
  if (error instanceof joseErrors.JWKSTimeout) {
    return unavailable(provider, `key set ${provider.jwksUri} did not answer in time`);
  }
  if (error instanceof joseErrors.JWKSInvalid) {
    return unavailable(provider, `key set ${provider.jwksUri} is not a valid JWKS`);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return rejected(provider, "unknown_key", "token is not signed by a key of the issuer");
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return rejected(provider, "bad_signature", "token signature does not verify");
  }
  if (error instanceof joseErrors.JWTExpired) return rejected(provider, "expired", "token has expired");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const reason =
      error.claim === "iss" ? "wrong_issuer" : error.claim === "aud" ? "wrong_audience" : "bad_claims";
    return rejected(provider, reason, `token claim ${error.claim} is not acceptable (${error.reason})`);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return rejected(provider, "algorithm", "token algorithm is not accepted (asymmetric signatures only)");
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return rejected(provider, "malformed", "token is not a well-formed signed JWT");
  }
  // What is left: jose's generic error (non-200 or non-JSON key set) or fetch's own "fetch failed".
  if (error instanceof joseErrors.JOSEError && error.code !== "ERR_JOSE_GENERIC") {
    return rejected(provider, "invalid", "token does not verify");
  }
  return unavailable(provider, `cannot fetch the key set ${provider.jwksUri}`);
}

function jwksFor(provider: OidcProvider, cache: JwksCache, fetchImpl?: typeof fetch): JWTVerifyGetKey {
  let jwks = cache.get(provider.jwksUri);
  if (jwks === undefined) {
    jwks = createRemoteJWKSet(new URL(provider.jwksUri), {
      timeoutDuration: OIDC_JWKS_TIMEOUT_MS,
      ...(fetchImpl ? { [customFetch]: fetchImpl } : {}),
    });
    cache.set(provider.jwksUri, jwks);
  }
  return jwks;
}

/**
 * The permission set the claim selects. The claim may be a string or an array of strings;
 * for an array, the first value (in the token's order) that has a rule wins.
 */
function staticPermissions(provider: OidcProvider, claims: JWTPayload): Permissions {
  const { permissionsClaim, permissionsByClaimValue, defaultPermissions } = provider.mapping;
  if (permissionsClaim !== undefined && permissionsByClaimValue !== undefined) {
    const raw = claims[permissionsClaim];
    const values = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [];
    for (const value of values) {
      // hasOwn: a claim value such as "constructor" must not reach Object.prototype.
      if (typeof value === "string" && Object.hasOwn(permissionsByClaimValue, value)) {
        const rule = permissionsByClaimValue[value];
        if (rule !== undefined) return validatePermissions(rule);
      }
    }
  }
  return validatePermissions(defaultPermissions);
}

/**
 * Verifies an OIDC ID token against the provider's issuer, audience and JWKS and maps its
 * claims to an identity. Rejects with `provider_rejected` (details.reason says why) or
 * `provider_unavailable` (the key set cannot be fetched).
 */
export async function verifyOidcToken(options: VerifyOidcTokenOptions): Promise<OidcIdentity> {
  const { provider, token } = options;
  const now = options.now ?? Date.now;
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(
      token,
      jwksFor(provider, options.jwksCache ?? defaultJwksCache, options.fetchImpl),
      {
        issuer: provider.issuer,
        audience: provider.audience,
        algorithms: OIDC_ALGORITHMS,
        clockTolerance: OIDC_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["exp", "iat", "sub"],
        currentDate: new Date(now()),
      },
    ));
  } catch (error) {
    throw classify(error, provider);
  }

  const { mapping } = provider;
  const userIdClaim = mapping.userIdClaim || "sub";
  const userId = claims[userIdClaim];
  if (typeof userId !== "string" || userId.length === 0 || userId.length > OIDC_MAX_USER_ID_LENGTH) {
    throw rejected(
      provider,
      "missing_user_claim",
      `token claim ${userIdClaim} must be a string of 1 to ${OIDC_MAX_USER_ID_LENGTH} characters`,
    );
  }
  // fromEntries defines properties, so a claim named __proto__ cannot change the object's prototype.
  const userInfo: Record<string, unknown> = Object.fromEntries(
    mapping.userInfoClaims.filter((name) => Object.hasOwn(claims, name)).map((name) => [name, claims[name]]),
  );
  // requiredClaims made sure exp is there and jose checked it is a number.
  const expiresAt = (claims.exp ?? 0) * 1000;
  if (mapping.permissionsWebhook !== undefined) {
    return { userId, userInfo, expiresAt, permissionsFromWebhook: true, permissions: null };
  }
  return {
    userId,
    userInfo,
    expiresAt,
    permissionsFromWebhook: false,
    permissions: staticPermissions(provider, claims),
  };
}
