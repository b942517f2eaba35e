import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A random token of `bytes` bytes, base64url, optionally with a readable prefix. */
export function randomToken(bytes = 32, prefix = ""): string {
  return prefix + randomBytes(bytes).toString("base64url");
}

/**
 * Hash of a high-entropy secret (tokens, client secrets) for storage. These secrets
 * carry ≥ 128 bits of randomness, so a fast hash cannot be brute-forced; a slow KDF
 * would only add latency to every request.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), "base64url");
  const b = Buffer.from(storedHash, "base64url");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two strings (lengths may leak, contents do not). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

const VERSION = "v1";

/**
 * Encrypts private key material at rest with AES-256-GCM under the master key. The
 * `context` (for example a key ID) is bound as associated data so a ciphertext cannot
 * be swapped into another row.
 */
export class SecretBox {
  readonly #key: Buffer;
  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("master key must be 32 bytes");
    this.#key = masterKey;
  }

  seal(plaintext: Uint8Array, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [
      VERSION,
      iv.toString("base64url"),
      body.toString("base64url"),
      cipher.getAuthTag().toString("base64url"),
    ].join(".");
  }

  open(sealed: string, context: string): Buffer {
    const [version, iv, body, tag] = sealed.split(".");
    if (version !== VERSION || !iv || body === undefined || !tag)
      throw new Error("sealed value has an unknown format");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]);
    } catch {
      throw new Error(`cannot decrypt ${context}: wrong MESHAUTH_MASTER_KEY or tampered data`);
    }
  }
}
