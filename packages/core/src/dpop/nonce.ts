import { base64url } from "jose";

/** Issues and checks server nonces (RFC 9449 §8). */
export interface NonceService {
  /** A fresh nonce, to send in the `DPoP-Nonce` header. */
  issue(): Promise<string>;
  /** Whether `nonce` was issued with this secret and is still fresh. Never throws. */
  check(nonce: string): Promise<boolean>;
}

export interface NonceServiceOptions {
  /** Shared by every hub instance; at least 32 random bytes. */
  secret: Uint8Array;
  /** How long a nonce stays valid after it is issued; default 300 seconds. */
  lifetimeSeconds?: number;
  /** Clock in Unix seconds; defaults to the system clock. */
  now?: () => number;
}

const VERSION = 1;
const TIME_BYTES = 8;
const RANDOM_BYTES = 16;
const MAC_BYTES = 32;
const PAYLOAD_BYTES = 1 + TIME_BYTES + RANDOM_BYTES;
/** Length of every nonce: base64url of 57 bytes, no padding. */
export const NONCE_LENGTH = Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 4) / 3);
/** How far ahead of this instance's clock another instance's nonce may be dated. */
const FUTURE_TOLERANCE_SECONDS = 30;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// Domain separation: the MAC key is derived for this one purpose, so a secret that is
// (wrongly) reused elsewhere still cannot produce or accept nonces for anything else.
const HKDF_INFO = new TextEncoder().encode("meshauth dpop-nonce v1");

/**
 * Stateless DPoP nonces: `base64url(version(1) || issued-at seconds(8, big-endian) ||
 * random(16) || HMAC-SHA-256(payload)(32))`. Any hub instance with the same secret
 * checks one without a lookup. A nonce is valid from its issue time for
 * `lifetimeSeconds` (and up to 30 seconds before it, for instances whose clocks
 * differ slightly), so a client is asked for a new one at least that often.
 */
export function createNonceService({
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
  // Copied so a caller zeroing or reusing its buffer cannot change the key later.
  const ikm = new Uint8Array(secret);
  let key: Promise<CryptoKey> | undefined;
  const macKey = (): Promise<CryptoKey> => {
    key ??= deriveMacKey(ikm);
    return key;
  };

  return {
    async issue() {
      const payload = new Uint8Array(PAYLOAD_BYTES);
      const view = new DataView(payload.buffer);
      view.setUint8(0, VERSION);
      view.setBigUint64(1, BigInt(Math.floor(now())));
      payload.set(crypto.getRandomValues(new Uint8Array(RANDOM_BYTES)), 1 + TIME_BYTES);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await macKey(), payload));
      const out = new Uint8Array(PAYLOAD_BYTES + MAC_BYTES);
      out.set(payload);
      out.set(mac, PAYLOAD_BYTES);
      return base64url.encode(out);
    },

    async check(nonce) {
      // Shape first: anything of the wrong size or alphabet is refused before decoding.
      if (typeof nonce !== "string" || nonce.length !== NONCE_LENGTH || !BASE64URL.test(nonce)) return false;
      let bytes: Uint8Array;
      try {
        bytes = base64url.decode(nonce);
      } catch {
        return false;
      }
      if (bytes.byteLength !== PAYLOAD_BYTES + MAC_BYTES) return false;
      const payload = bytes.slice(0, PAYLOAD_BYTES);
      const mac = bytes.slice(PAYLOAD_BYTES);
      // WebCrypto's HMAC verify compares in constant time.
      if (!(await crypto.subtle.verify("HMAC", await macKey(), mac, payload))) return false;
      const view = new DataView(payload.buffer);
      if (view.getUint8(0) !== VERSION) return false;
      const age = now() - Number(view.getBigUint64(1));
      return age <= lifetimeSeconds && age >= -FUTURE_TOLERANCE_SECONDS;
    },
  };
}

async function deriveMacKey(ikm: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}
