import { exportJWK, generateKeyPair, type JWK } from "jose";
import type { DpopAlgorithm } from "./algorithms.js";

export interface GenerateDpopKeyPairOptions {
  /**
   * Whether the private key may be exported. Off by default: a browser then keeps it
   * in IndexedDB as a CryptoKey that no script, including an injected one, can read out.
   */
  extractable?: boolean;
}

/**
 * A new signing key pair for DPoP proofs: P-256 (ES256) unless told otherwise. The
 * public key is always extractable so it can be embedded in proofs.
 */
export async function generateDpopKeyPair(
  alg: DpopAlgorithm = "ES256",
  { extractable = false }: GenerateDpopKeyPairOptions = {},
): Promise<CryptoKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable });
  return { privateKey, publicKey };
}

// RFC 7518 §6: the members that make up a public key, per key type. Anything else
// (private parts, x5c, kid, ...) is dropped, so a proof never carries more than it must.
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ["kty", "crv", "x", "y"],
  OKP: ["kty", "crv", "x"],
  RSA: ["kty", "n", "e"],
};

/** Members that only a private (or symmetric) key has. */
export const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"] as const;

/**
 * The bare public JWK of an asymmetric key: only its public members, so that an
 * accidentally passed private JWK never leaks its private parts.
 */
export async function toPublicJwk(key: CryptoKey | JWK): Promise<JWK> {
  let jwk: JWK;
  if (isCryptoKey(key)) {
    if (key.type !== "public") throw new TypeError("expected the public key of the DPoP key pair");
    jwk = await exportJWK(key);
  } else {
    jwk = key;
  }
  const members = typeof jwk.kty === "string" ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new TypeError(`unsupported key type for DPoP: ${String(jwk.kty)}`);
  const out: Record<string, unknown> = {};
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== "string" || value === "") throw new TypeError(`public JWK lacks "${name}"`);
    out[name] = value;
  }
  return out as JWK;
}

// Duck-typed rather than `instanceof`, which fails for keys from another realm (an iframe).
function isCryptoKey(key: CryptoKey | JWK): key is CryptoKey {
  return "algorithm" in key && "usages" in key && "type" in key;
}
