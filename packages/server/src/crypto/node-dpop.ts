/**
 * node:crypto behind core's interfaces, for the hub's hot path: the DPoP signature check
 * and thumbprint (`DpopSignatureVerifier`) and the stateless nonce service
 * (`NonceService`). Same answers and the same nonce bytes as core's WebCrypto versions,
 * synchronously, so a request does not wait for WebCrypto's thread-pool jobs.
 */
import {
  constants,
  createHash,
  createHmac,
  createPublicKey,
  hkdfSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
  verify,
} from "node:crypto";
import type { DpopAlgorithm, DpopSignatureVerifier, NonceService, NonceServiceOptions } from "@meshauth/core";
import type { JWK } from "jose";

// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
};

/** The RFC 7638 input for a public JWK (also the key's cache key). */
function canonicalJwk(jwk: JWK): string {
  const members = typeof jwk.kty === "string" ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new TypeError(`unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, string> = {};
  for (const m of members) {
    const v = (jwk as Record<string, unknown>)[m];
    if (typeof v !== "string") throw new TypeError(`JWK lacks "${m}"`);
    out[m] = v;
  }
  return JSON.stringify(out);
}

/** Devices sign every proof with the same key: its parsed form is kept (bounded, oldest out). */
const KEY_CACHE_SIZE = 4096;

export function createNodeDpopVerifier(): DpopSignatureVerifier {
  const keys = new Map<string, KeyObject>();
  const keyFor = (jwk: JWK): KeyObject => {
    const id = canonicalJwk(jwk);
    let key = keys.get(id);
    if (!key) {
      key = createPublicKey({ key: JSON.parse(id) as JsonWebKey, format: "jwk" });
      if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string);
      keys.set(id, key);
    }
    return key;
  };
  return {
    verify(alg: DpopAlgorithm, jwk: JWK, input: Uint8Array, signature: Uint8Array): boolean {
      try {
        const key = keyFor(jwk);
        const bits = alg.slice(2);
        switch (alg) {
          case "EdDSA":
          case "Ed25519":
            return verify(null, input, key, signature);
          case "ES256":
          case "ES384":
          case "ES512":
            return verify(`sha${bits}`, input, { key, dsaEncoding: "ieee-p1363" }, signature);
          case "PS256":
          case "PS384":
          case "PS512":
            return verify(
              `sha${bits}`,
              input,
              { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
              signature,
            );
          default:
            return verify(`sha${bits}`, input, key, signature);
        }
      } catch {
        return false;
      }
    },
    thumbprint(jwk: JWK): string {
      return createHash("sha256").update(canonicalJwk(jwk)).digest("base64url");
    },
  };
}

// The layout of core's nonces (dpop/nonce.ts), which these must match byte for byte.
const VERSION = 1;
const TIME_BYTES = 8;
const RANDOM_BYTES = 16;
const MAC_BYTES = 32;
const PAYLOAD_BYTES = 1 + TIME_BYTES + RANDOM_BYTES;
const NONCE_LENGTH = Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 4) / 3);
const FUTURE_TOLERANCE_SECONDS = 30;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HKDF_INFO = "meshauth dpop-nonce v1";

/** core's `createNonceService` on node:crypto: the nonces either one issues, the other accepts. */
export function createNodeNonceService({
  secret,
  lifetimeSeconds = 300,
  now = () => Date.now() / 1000,
}: NonceServiceOptions): NonceService {
  if (!(secret instanceof Uint8Array) || secret.byteLength < 32) {
    throw new TypeError("nonce secret must be at least 32 bytes");
  }
  if (!Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new RangeError("lifetimeSeconds must be positive");
  }
  const key = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), HKDF_INFO, 32));
  const mac = (payload: Buffer) => createHmac("sha256", key).update(payload).digest();
  return {
    async issue() {
      const payload = Buffer.alloc(PAYLOAD_BYTES);
      payload.writeUInt8(VERSION, 0);
      payload.writeBigUInt64BE(BigInt(Math.floor(now())), 1);
      randomBytes(RANDOM_BYTES).copy(payload, 1 + TIME_BYTES);
      return Buffer.concat([payload, mac(payload)]).toString("base64url");
    },
    async check(nonce) {
      if (typeof nonce !== "string" || nonce.length !== NONCE_LENGTH || !BASE64URL.test(nonce)) return false;
      const bytes = Buffer.from(nonce, "base64url");
      if (bytes.byteLength !== PAYLOAD_BYTES + MAC_BYTES) return false;
      const payload = bytes.subarray(0, PAYLOAD_BYTES);
      if (!timingSafeEqual(mac(payload), bytes.subarray(PAYLOAD_BYTES))) return false;
      if (payload.readUInt8(0) !== VERSION) return false;
      const age = now() - Number(payload.readBigUInt64BE(1));
      return age <= lifetimeSeconds && age >= -FUTURE_TOLERANCE_SECONDS;
    },
  };
}
