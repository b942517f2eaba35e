import {
  createNonceService,
  DEFAULT_DPOP_ALGORITHMS,
  DpopError,
  type Identity,
  isRevoked,
  MemoryReplayCache,
  type Permissions,
  type ProviderId,
  type ReplayCache,
  verifyDpopProof,
} from "@meshauth/core";
import { type JWTPayload, jwtVerify } from "jose";
import { challenge, EXPOSED_HEADERS, VerifyError } from "./errors.js";
import { HubKeys } from "./hub-keys.js";
import { Introspection, type IntrospectionOptions } from "./introspection.js";
import { header, pathOf, type RequestLike } from "./request.js";
import { RevocationListCache, type RevocationListOptions } from "./revocation-list.js";

/** Longest access token read (characters); the hub's are well under 4 KiB. */
const MAX_TOKEN_LENGTH = 8192;
// RFC 6750 §2.1 token68.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export interface VerifierOptions {
  /** The hub's URL, exactly its issuer (`iss`). */
  hub: string;
  /** The app's ID: the access tokens' audience. */
  appId: string;
  /**
   * The origin clients address this API at (scheme, host, port), e.g. `https://api.example.com`;
   * proofs must be for it plus the request's path (`htu`). Behind a proxy this is the
   * public URL, not the one the process listens on. A function is asked per request.
   */
  publicUrl: string | ((req: RequestLike) => string);
  /** Accepted signature algorithms for access tokens; default ES256 and EdDSA (what hubs sign with). */
  tokenAlgorithms?: string[];
  /** Accepted DPoP proof algorithms; default core's DEFAULT_DPOP_ALGORITHMS. */
  proofAlgorithms?: string[];
  /** Clock tolerance for `exp`/`nbf`/`iat` and proofs' `iat`, in seconds; default 30. */
  clockSkewSeconds?: number;
  /** How old a proof may be, in seconds (and how long its `jti` is remembered); default 300. */
  proofMaxAgeSeconds?: number;
  /**
   * Where used proof `jti`s are recorded; default one MemoryReplayCache per verifier.
   * Several API processes behind one name need a shared one (see ReplayCache).
   */
  replay?: ReplayCache;
  /**
   * Server nonces (RFC 9449 §9): `true` for a per-process secret, or `{secret}` (32+
   * bytes, the same in every process) so any instance accepts another's nonce.
   */
  nonces?: boolean | { secret: Uint8Array; lifetimeSeconds?: number };
  /**
   * Check the app's signed revocation list (sessions, users and devices the hub ended):
   * `true` for the defaults or options. Without it a token stays good until it expires.
   */
  revocations?: boolean | RevocationListOptions;
  /**
   * Ask the hub (RFC 7662, with one of the app's client secrets) whether each token's
   * session is still live: a logout stops working here within `cacheSeconds` (10).
   */
  introspection?: IntrospectionOptions;
  /** Browser origins allowed to call this API; adapters then answer CORS preflights too. */
  corsOrigins?: string[] | "*";
  /** JWKS cache: least seconds between refetches for an unknown `kid` (default 30), and max age (default 600). */
  jwks?: { cooldownSeconds?: number; maxAgeSeconds?: number };
  fetch?: typeof fetch;
  /** Clock in Unix seconds, for tests. */
  now?: () => number;
}

/** Who made an accepted request. */
export interface MeshauthUser extends Identity {
  /** The hub session (`sid`); absent for an app backend's own client_credentials token. */
  sessionId?: string;
  /** When the access token expires (seconds since the epoch). */
  accessTokenExpiresAt: number;
  /** Every claim of the access token. */
  claims: JWTPayload;
}

export interface VerifiedRequest {
  user: MeshauthUser;
  /** Headers to add to the response (a fresh `DPoP-Nonce`, CORS). */
  headers: Record<string, string>;
}

export interface Verifier {
  /** Checks the request's access token and DPoP proof. @throws VerifyError */
  verifyRequest(req: RequestLike): Promise<VerifiedRequest>;
  /** CORS headers for a response to `origin` (empty when it is not allowed or CORS is off). */
  corsHeaders(origin: string | undefined): Record<string, string>;
  /** The answer to a CORS preflight, or undefined when the request is not one this verifier answers. */
  preflight(req: RequestLike): { status: number; headers: Record<string, string> } | undefined;
  readonly options: Readonly<VerifierOptions>;
}

/** A verifier for one app's access tokens at one API. */
export function createVerifier(options: VerifierOptions): Verifier {
  const { hub, appId } = options;
  if (typeof hub !== "string" || !/^https?:\/\//.test(hub))
    throw new TypeError("hub: expected the hub's URL");
  if (typeof appId !== "string" || appId === "") throw new TypeError("appId: expected the app's ID");
  if (options.publicUrl === undefined) throw new TypeError("publicUrl: expected this API's public origin");
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => Date.now() / 1000);
  const skew = options.clockSkewSeconds ?? 30;
  const tokenAlgorithms = options.tokenAlgorithms ?? ["ES256", "EdDSA"];
  const proofAlgorithms = options.proofAlgorithms ?? [...DEFAULT_DPOP_ALGORITHMS];
  const replay = options.replay ?? new MemoryReplayCache({ now });
  const keys = new HubKeys({
    hub,
    appId,
    fetch: fetchFn,
    cooldownSeconds: options.jwks?.cooldownSeconds ?? 30,
    maxAgeSeconds: options.jwks?.maxAgeSeconds ?? 600,
  });
  const nonces = options.nonces
    ? createNonceService({
        secret: options.nonces === true ? crypto.getRandomValues(new Uint8Array(32)) : options.nonces.secret,
        now,
        ...(options.nonces !== true && options.nonces.lifetimeSeconds
          ? { lifetimeSeconds: options.nonces.lifetimeSeconds }
          : {}),
      })
    : undefined;
  const revocations = options.revocations
    ? new RevocationListCache(
        keys,
        appId,
        fetchFn,
        options.revocations === true ? {} : options.revocations,
        now,
      )
    : undefined;

  const introspection = options.introspection
    ? new Introspection(keys, appId, options.introspection, fetchFn, now)
    : undefined;

  const refuse = (
    code: ConstructorParameters<typeof VerifyError>[0],
    description: string,
    reason: string,
    extra: Record<string, string> = {},
  ) =>
    new VerifyError(code, description, {
      reason,
      headers: {
        "www-authenticate": challenge(code, description, proofAlgorithms),
        "access-control-expose-headers": EXPOSED_HEADERS,
        ...extra,
      },
    });

  function htuFor(req: RequestLike): URL {
    const base = typeof options.publicUrl === "function" ? options.publicUrl(req) : options.publicUrl;
    return new URL(pathOf(req), base);
  }

  async function verifyToken(token: string): Promise<JWTPayload> {
    const getKey = await keys.keys();
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: hub,
        audience: appId,
        typ: "at+jwt",
        algorithms: tokenAlgorithms,
        clockTolerance: skew,
        currentDate: new Date(now() * 1000),
        requiredClaims: ["exp", "iat", "sub", "cnf"],
      });
      return payload;
    } catch (error) {
      if (error instanceof VerifyError) throw error;
      const code = (error as { code?: string }).code ?? "invalid";
      // The JWKS could not be fetched: the token may be fine; say so instead of blaming it.
      if (code === "ERR_JWKS_TIMEOUT" || (error as Error).name === "TypeError") {
        throw new VerifyError("temporarily_unavailable", "the hub's keys cannot be fetched", {
          reason: (error as Error).message,
        });
      }
      throw refuse("invalid_token", "The access token is invalid or expired", `token: ${code}`);
    }
  }

  async function verifyRequest(req: RequestLike): Promise<VerifiedRequest> {
    const authorization = header(req, "authorization");
    const proof = header(req, "dpop");
    if (authorization === undefined || authorization === "") {
      throw refuse("missing_token", "No access token", "no Authorization header");
    }
    const [scheme = "", token = "", ...rest] = authorization.trim().split(/ +/);
    // RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is refused, never downgraded.
    if (scheme.toLowerCase() !== "dpop" || rest.length > 0) {
      throw refuse("invalid_token", "Send the access token with the DPoP scheme", "scheme");
    }
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !TOKEN68.test(token)) {
      throw refuse("invalid_token", "The access token is malformed", "token: malformed");
    }
    if (proof === undefined || proof === "") {
      throw refuse("invalid_dpop_proof", "A DPoP proof is required", "no DPoP header");
    }

    const claims = await verifyToken(token);
    const cnf = claims["cnf"] as { jkt?: unknown } | undefined;
    if (typeof cnf?.jkt !== "string") {
      throw refuse("invalid_token", "The access token is not DPoP-bound", "token: no cnf.jkt");
    }
    if (claims["client_id"] !== undefined && claims["client_id"] !== appId) {
      throw refuse("invalid_token", "The access token is for another app", "token: client_id");
    }

    try {
      await verifyDpopProof(proof, {
        htm: req.method ?? "GET",
        htu: htuFor(req),
        accessToken: token,
        expectedJkt: cnf.jkt,
        algorithms: proofAlgorithms,
        clockSkewSeconds: skew,
        ...(options.proofMaxAgeSeconds !== undefined ? { maxAgeSeconds: options.proofMaxAgeSeconds } : {}),
        now,
        replay,
        ...(nonces
          ? { nonce: { required: true, check: (n) => nonces.check(n), issue: () => nonces.issue() } }
          : {}),
      });
    } catch (error) {
      if (!(error instanceof DpopError)) throw error;
      if (error.code === "use_dpop_nonce") {
        throw refuse("use_dpop_nonce", "Resource server requires nonce in DPoP proof", "nonce", {
          "dpop-nonce": String(error.details["nonce"]),
        });
      }
      throw refuse("invalid_dpop_proof", "The DPoP proof is invalid", `proof: ${error.reason}`);
    }

    const user = toUser(claims, cnf.jkt, appId);
    if (revocations) {
      const list = await revocations.current();
      if (isRevoked(list, user, undefined, user.sessionId)) {
        throw refuse("invalid_token", "The session has ended", "revoked");
      }
    }
    if (introspection && !(await introspection.active(token))) {
      throw refuse("invalid_token", "The session has ended", "introspection: inactive");
    }
    const headers: Record<string, string> = { "access-control-expose-headers": EXPOSED_HEADERS };
    // A nonce with every answer, so the client's next proof carries one that is fresh.
    if (nonces) headers["dpop-nonce"] = await nonces.issue();
    return { user, headers };
  }

  function corsHeaders(origin: string | undefined): Record<string, string> {
    const allowed = options.corsOrigins;
    if (!allowed || !origin) return {};
    if (allowed !== "*" && !allowed.includes(origin)) return {};
    return {
      "access-control-allow-origin": allowed === "*" ? "*" : origin,
      "access-control-expose-headers": EXPOSED_HEADERS,
      vary: "Origin",
    };
  }

  function preflight(req: RequestLike): { status: number; headers: Record<string, string> } | undefined {
    if (req.method !== "OPTIONS" || !options.corsOrigins) return undefined;
    const cors = corsHeaders(header(req, "origin"));
    if (!cors["access-control-allow-origin"]) return { status: 403, headers: { vary: "Origin" } };
    return {
      status: 204,
      headers: {
        ...cors,
        "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": "Authorization, DPoP, Content-Type",
        "access-control-max-age": "600",
      },
    };
  }

  return { verifyRequest, corsHeaders, preflight, options };
}

function toUser(claims: JWTPayload, jkt: string, appId: string): MeshauthUser {
  const user: MeshauthUser = {
    appId,
    userId: claims.sub as string,
    peerKey: jkt,
    provider: claims["provider"] as ProviderId,
    permissions: claims["permissions"] as Permissions,
    exp: typeof claims["identity_exp"] === "number" ? claims["identity_exp"] : (claims.exp as number),
    accessTokenExpiresAt: claims.exp as number,
    claims,
  };
  if (typeof claims["sid"] === "string") user.sessionId = claims["sid"];
  const info = claims["user_info"];
  if (typeof info === "object" && info !== null) user.userInfo = info as Record<string, unknown>;
  return user;
}
