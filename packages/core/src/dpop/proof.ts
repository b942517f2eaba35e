import { base64url, type JWK, SignJWT } from "jose";
import { algorithmForKey, type DpopAlgorithm, isDpopAlgorithm } from "./algorithms.js";
import { accessTokenHash } from "./ath.js";
import { normalizeHtu } from "./htu.js";
import { toPublicJwk } from "./keys.js";

/** Longest `jti` a proof may carry (checked on both sides, so the replay cache stays small). */
export const MAX_JTI_LENGTH = 256;

// RFC 9110 §5.6.2 token: what an HTTP method may look like.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface CreateDpopProofOptions {
  /** The DPoP private key; may be non-extractable. */
  privateKey: CryptoKey;
  /** Its public half, as a CryptoKey or JWK; only the public members are embedded. */
  publicKey: CryptoKey | JWK;
  /** JWS algorithm; by default derived from the private key (P-256 -> ES256, Ed25519 -> EdDSA). */
  alg?: DpopAlgorithm;
  /** HTTP method of the request, e.g. "POST". */
  htm: string;
  /** URL of the request; the query and fragment are dropped. */
  htu: string | URL;
  /** The latest `DPoP-Nonce` the server sent, if any. */
  nonce?: string;
  /** The access token sent with the request; adds `ath`. */
  accessToken?: string;
  /** Issue time in seconds; defaults to now. Clients correcting for `clock_skew` set it. */
  iat?: number;
  /** Proof identifier; defaults to 128 random bits. */
  jti?: string;
}

/**
 * A DPoP proof JWT (RFC 9449 §4) for one HTTP request, to send as the `DPoP` header.
 * Signing happens in WebCrypto, so a non-extractable key never leaves it.
 */
export async function createDpopProof(options: CreateDpopProofOptions): Promise<string> {
  const alg = options.alg ?? algorithmForKey(options.privateKey);
  if (!isDpopAlgorithm(alg)) throw new TypeError(`unsupported DPoP algorithm: ${String(alg)}`);
  if (!METHOD.test(options.htm)) throw new TypeError("htm must be an HTTP method");
  const jti = options.jti ?? randomJti();
  if (jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw new TypeError(`jti must be 1 to ${MAX_JTI_LENGTH} characters`);
  }
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  if (!Number.isFinite(iat)) throw new TypeError("iat must be a number of seconds");

  const claims: Record<string, string | number> = {
    jti,
    htm: options.htm,
    htu: normalizeHtu(options.htu),
    iat,
  };
  if (options.nonce !== undefined) claims["nonce"] = options.nonce;
  if (options.accessToken !== undefined) claims["ath"] = await accessTokenHash(options.accessToken);

  const jwk = await toPublicJwk(options.publicKey);
  return new SignJWT(claims).setProtectedHeader({ typ: "dpop+jwt", alg, jwk }).sign(options.privateKey);
}

/** 128 random bits, base64url: well above RFC 9449's suggested 96. */
function randomJti(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}
