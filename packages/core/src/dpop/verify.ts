import { base64url, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import {
  DEFAULT_DPOP_ALGORITHMS,
  type DpopAlgorithm,
  isDpopAlgorithm,
  keyMatchesAlgorithm,
} from "./algorithms.js";
import { accessTokenHash } from "./ath.js";
import { DpopError, invalidProof } from "./errors.js";
import { normalizeHtu } from "./htu.js";
import { PRIVATE_MEMBERS, toPublicJwk } from "./keys.js";
import { MAX_JTI_LENGTH } from "./proof.js";
import type { ReplayCache } from "./replay.js";
import { jwkThumbprint } from "./thumbprint.js";

/** Longest proof accepted (characters): a proof with a 4096-bit RSA key is about 1.5 KiB. */
export const MAX_DPOP_PROOF_LENGTH = 8192;
/** Default: how old (seconds) a proof's `iat` may be. */
export const DEFAULT_DPOP_MAX_AGE_SECONDS = 300;
/** Default: how far (seconds) ahead of the server's clock a proof's `iat` may be. */
export const DEFAULT_DPOP_CLOCK_SKEW_SECONDS = 60;
/** Longest `nonce` claim accepted. */
const MAX_NONCE_LENGTH = 1024;

/**
 * The signature check and thumbprint behind `verifyDpopProof`. The default is jose on
 * WebCrypto, which runs everywhere; a server may pass one built on its platform's
 * crypto (node:crypto) that gives the same answers faster. Every other check stays here.
 */
export interface DpopSignatureVerifier {
  /** Whether `signature` is `alg`'s signature of `signingInput` by `jwk` (a bare public key). Never throws. */
  verify(
    alg: DpopAlgorithm,
    jwk: JWK,
    signingInput: Uint8Array,
    signature: Uint8Array,
  ): boolean | Promise<boolean>;
  /** RFC 7638 SHA-256 thumbprint of `jwk`, base64url. */
  thumbprint(jwk: JWK): string | Promise<string>;
}

/** How the verifier asks for and checks server nonces; a NonceService fits `check` and `issue`. */
export interface DpopNonceOptions {
  /** Whether a proof without a nonce is refused (with `use_dpop_nonce`). */
  required: boolean;
  check(nonce: string): boolean | Promise<boolean>;
  issue(): string | Promise<string>;
}

export interface VerifyDpopProofOptions {
  /** Method of the request being served. */
  htm: string;
  /** URL of the request being served, as the client addressed it (behind a proxy, the public URL). */
  htu: string | URL;
  /** The access token that came with the request; makes `ath` required and checked. */
  accessToken?: string;
  /** Thumbprint of the key a token is bound to (`cnf.jkt`, or a refresh token's key). */
  expectedJkt?: string;
  /** Accepted algorithms; only asymmetric ones ever take effect. */
  algorithms?: readonly string[];
  /** How old `iat` may be, in seconds; default 300. Also how long `jti`s are remembered. */
  maxAgeSeconds?: number;
  /** How far in the future `iat` may be, in seconds; default 60. */
  clockSkewSeconds?: number;
  /** Clock in Unix seconds; defaults to the system clock. */
  now?: () => number;
  nonce?: DpopNonceOptions;
  /** Where used `jti`s are recorded. Without one, replays are not detected. */
  replay?: ReplayCache;
  /** Signature check and thumbprint; default jose on WebCrypto. */
  verifier?: DpopSignatureVerifier;
}

export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's key: compare with or bind as `cnf.jkt`. */
  jkt: string;
  /** The proof's public key (public members only). */
  jwk: JWK;
  alg: DpopAlgorithm;
  jti: string;
  iat: number;
  htm: string;
  /** Normalised. */
  htu: string;
  nonce?: string;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// Key-by-reference header members: a proof's key is its embedded `jwk` and nothing else.
const FORBIDDEN_HEADERS = ["jku", "x5u", "x5c", "b64", "crit"] as const;

/**
 * Checks a DPoP proof (RFC 9449 §4.3) for the request described by `options`. The
 * checks run from the cheapest and least trusting to the ones that need a valid
 * signature; `clock_skew` is reported only for a proof whose one fault is its time,
 * a nonce is asked for only once everything else holds, and a `jti` is spent only by
 * a proof that passed every other check.
 * @throws DpopError `invalid_dpop_proof`, `clock_skew` (`details.server_time`) or
 *   `use_dpop_nonce` (`details.nonce`)
 */
export async function verifyDpopProof(
  proof: string,
  options: VerifyDpopProofOptions,
): Promise<VerifiedDpopProof> {
  const now = options.now ?? (() => Date.now() / 1000);
  const maxAge = options.maxAgeSeconds ?? DEFAULT_DPOP_MAX_AGE_SECONDS;
  const skew = options.clockSkewSeconds ?? DEFAULT_DPOP_CLOCK_SKEW_SECONDS;
  if (!(maxAge >= 0 && skew >= 0)) throw new RangeError("maxAgeSeconds and clockSkewSeconds must be >= 0");
  const expectedHtu = normalizeHtu(options.htu);
  // Filtered through the asymmetric list, so `none` or HS256 in the options do nothing.
  const allowed = (options.algorithms ?? DEFAULT_DPOP_ALGORITHMS).filter(isDpopAlgorithm);

  // Size and shape before any parsing.
  if (typeof proof !== "string") throw invalidProof("malformed", "DPoP proof must be a string");
  if (proof.length > MAX_DPOP_PROOF_LENGTH) throw invalidProof("too_large", "DPoP proof is too large");
  if (!COMPACT_JWS.test(proof)) throw invalidProof("malformed", "DPoP proof is not a compact JWS");

  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch {
    throw invalidProof("malformed", "DPoP proof header is not valid JSON");
  }
  if (header["typ"] !== "dpop+jwt") throw invalidProof("typ", 'DPoP proof typ must be "dpop+jwt"');
  const headerAlg = header["alg"];
  if (typeof headerAlg !== "string" || !allowed.includes(headerAlg as DpopAlgorithm)) {
    throw invalidProof("alg", `DPoP proof algorithm ${JSON.stringify(headerAlg)} is not allowed`);
  }
  const alg = headerAlg as DpopAlgorithm;
  for (const name of FORBIDDEN_HEADERS) {
    if (name in header) throw invalidProof("header", `DPoP proof must not have a "${name}" header`);
  }

  const jwk = await embeddedPublicJwk(header["jwk"], alg);
  const payload = await verifiedPayload(proof, jwk, alg, options.verifier);

  const claims = parseClaims(payload);
  if (claims.htm !== options.htm) throw invalidProof("htm", "DPoP proof is for another HTTP method");
  let htu: string;
  try {
    htu = normalizeHtu(claims.htu);
  } catch {
    throw invalidProof("htu", "DPoP proof htu is not an http(s) URL");
  }
  if (htu !== expectedHtu) throw invalidProof("htu", "DPoP proof is for another URL");

  if (options.accessToken !== undefined) {
    if (claims.ath !== (await accessTokenHash(options.accessToken))) {
      const message =
        claims.ath === undefined ? "DPoP proof lacks ath" : "DPoP proof is for another access token";
      throw invalidProof("ath", message);
    }
  } else if (claims.ath !== undefined) {
    // A proof made to go with a token is not one for a request without it.
    throw invalidProof("ath", "DPoP proof has ath but no access token was sent");
  }

  const jkt = options.verifier ? await options.verifier.thumbprint(jwk) : await jwkThumbprint(jwk);
  if (options.expectedJkt !== undefined && jkt !== options.expectedJkt) {
    throw invalidProof("jkt", "DPoP proof key is not the key the token is bound to");
  }

  const serverTime = now();
  if (claims.iat < serverTime - maxAge || claims.iat > serverTime + skew) {
    throw new DpopError("clock_skew", "iat", "DPoP proof iat is outside the accepted window", {
      server_time: Math.floor(serverTime),
    });
  }

  if (options.nonce) await checkNonce(claims.nonce, options.nonce);

  if (options.replay) {
    const fresh = await options.replay.use(`${jkt}:${claims.jti}`, Math.ceil(claims.iat + maxAge));
    if (!fresh) throw invalidProof("replayed", "DPoP proof was already used");
  }

  const result: VerifiedDpopProof = { jkt, jwk, alg, jti: claims.jti, iat: claims.iat, htm: claims.htm, htu };
  if (claims.nonce !== undefined) result.nonce = claims.nonce;
  return result;
}

/** The payload of a proof whose signature verifies with its own `jwk`. */
async function verifiedPayload(
  proof: string,
  jwk: JWK,
  alg: DpopAlgorithm,
  verifier: DpopSignatureVerifier | undefined,
): Promise<Uint8Array> {
  const failed = () => invalidProof("signature", "DPoP proof signature does not verify with its jwk");
  if (!verifier) {
    try {
      const key = await importJWK(jwk, alg);
      return (await compactVerify(proof, key, { algorithms: [alg] })).payload;
    } catch {
      throw failed();
    }
  }
  // The header was checked above (alg allowed, no crit or b64), as compactVerify would.
  const [header = "", body = "", signature = ""] = proof.split(".");
  let ok = false;
  let payload: Uint8Array;
  try {
    payload = base64url.decode(body);
    const input = new TextEncoder().encode(`${header}.${body}`);
    ok = await verifier.verify(alg, jwk, input, base64url.decode(signature));
  } catch {
    throw failed();
  }
  if (!ok) throw failed();
  return payload;
}

/** The header's `jwk`, if it is a bare public key of the type `alg` needs. */
async function embeddedPublicJwk(value: unknown, alg: DpopAlgorithm): Promise<JWK> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidProof("jwk", "DPoP proof header lacks a jwk");
  }
  const raw = value as Record<string, unknown>;
  // A private key in a header is a leaked key; never accept it as proof of anything.
  if (PRIVATE_MEMBERS.some((name) => name in raw))
    throw invalidProof("jwk", "DPoP proof jwk is not a public key");
  if (raw["use"] !== undefined && raw["use"] !== "sig")
    throw invalidProof("jwk", 'DPoP proof jwk "use" is not "sig"');
  if (raw["alg"] !== undefined && raw["alg"] !== alg)
    throw invalidProof("jwk", "DPoP proof jwk is for another alg");
  let jwk: JWK;
  try {
    jwk = await toPublicJwk(raw as JWK);
  } catch {
    throw invalidProof("jwk", "DPoP proof jwk is not a supported public key");
  }
  if (!keyMatchesAlgorithm(jwk, alg)) throw invalidProof("jwk", "DPoP proof jwk does not fit its alg");
  return jwk;
}

interface DpopClaims {
  jti: string;
  htm: string;
  htu: string;
  iat: number;
  ath?: string;
  nonce?: string;
}

function parseClaims(payload: Uint8Array): DpopClaims {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw invalidProof("claims", "DPoP proof payload is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidProof("claims", "DPoP proof payload is not a JSON object");
  }
  const c = parsed as Record<string, unknown>;
  const { jti, htm, htu, iat, ath, nonce } = c;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalidProof("jti", `DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (typeof htm !== "string") throw invalidProof("htm", "DPoP proof lacks htm");
  if (typeof htu !== "string") throw invalidProof("htu", "DPoP proof lacks htu");
  if (typeof iat !== "number" || !Number.isFinite(iat))
    throw invalidProof("iat", "DPoP proof lacks a numeric iat");
  if (ath !== undefined && typeof ath !== "string")
    throw invalidProof("ath", "DPoP proof ath is not a string");
  if (nonce !== undefined && (typeof nonce !== "string" || nonce.length > MAX_NONCE_LENGTH)) {
    throw invalidProof("nonce", "DPoP proof nonce is not a string");
  }
  const claims: DpopClaims = { jti, htm, htu, iat };
  if (ath !== undefined) claims.ath = ath;
  if (nonce !== undefined) claims.nonce = nonce;
  return claims;
}

async function checkNonce(nonce: string | undefined, service: DpopNonceOptions): Promise<void> {
  if (nonce === undefined && !service.required) return;
  if (nonce !== undefined && (await service.check(nonce))) return;
  const fresh = await service.issue();
  throw new DpopError(
    "use_dpop_nonce",
    "nonce",
    nonce === undefined ? "DPoP proof lacks a server nonce" : "DPoP proof nonce is invalid or expired",
    { nonce: fresh },
  );
}
