import type { JWK } from "jose";

/**
 * Every JWS algorithm meshauth can sign or check a DPoP proof with. All asymmetric:
 * a proof must prove possession of a private key whose public half travels in the
 * proof, so `none` and the HMAC family can never be in this list.
 */
export const DPOP_ALGORITHMS = [
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "RS384",
  "RS512",
] as const;

export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** What `verifyDpopProof` accepts unless told otherwise (and what the hub advertises). */
export const DEFAULT_DPOP_ALGORITHMS: readonly DpopAlgorithm[] = [
  "ES256",
  "EdDSA",
  "Ed25519",
  "ES384",
  "PS256",
  "RS256",
];

export function isDpopAlgorithm(value: unknown): value is DpopAlgorithm {
  return typeof value === "string" && (DPOP_ALGORITHMS as readonly string[]).includes(value);
}

/** The key type (and curve) each algorithm needs; a proof whose `jwk` disagrees is rejected. */
export function keyMatchesAlgorithm(jwk: JWK, alg: DpopAlgorithm): boolean {
  switch (alg) {
    case "ES256":
      return jwk.kty === "EC" && jwk.crv === "P-256";
    case "ES384":
      return jwk.kty === "EC" && jwk.crv === "P-384";
    case "ES512":
      return jwk.kty === "EC" && jwk.crv === "P-521";
    // Ed448 is not in WebCrypto everywhere, so EdDSA here means Ed25519 only.
    case "EdDSA":
    case "Ed25519":
      return jwk.kty === "OKP" && jwk.crv === "Ed25519";
    default:
      return jwk.kty === "RSA";
  }
}

/** The JWS algorithm for a WebCrypto signing key, so callers rarely have to name it. */
export function algorithmForKey(key: CryptoKey): DpopAlgorithm {
  const algorithm = key.algorithm as KeyAlgorithm & { namedCurve?: string; hash?: { name?: string } };
  const bits = algorithm.hash?.name?.replace("SHA-", "");
  switch (algorithm.name) {
    case "ECDSA":
      if (algorithm.namedCurve === "P-256") return "ES256";
      if (algorithm.namedCurve === "P-384") return "ES384";
      if (algorithm.namedCurve === "P-521") return "ES512";
      break;
    case "Ed25519":
      return "EdDSA";
    case "RSA-PSS":
      if (isDpopAlgorithm(`PS${bits}`)) return `PS${bits}` as DpopAlgorithm;
      break;
    case "RSASSA-PKCS1-v1_5":
      if (isDpopAlgorithm(`RS${bits}`)) return `RS${bits}` as DpopAlgorithm;
      break;
  }
  throw new TypeError(`no DPoP algorithm for a ${algorithm.name} key; pass alg explicitly`);
}
