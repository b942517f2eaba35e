import { calculateJwkThumbprint, type JWK } from "jose";
import { CertificateError } from "./errors.js";
import { x509 } from "./peculiar.js";

/** meshauth's one key type for CAs, device keys and shared keys: ECDSA on P-256. */
export const P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
/** Signatures over certificates and CSRs: ECDSA with SHA-256 (ecdsa-with-SHA256). */
export const ES256_SIGNING: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** A new P-256 key pair. Extractable only when the caller must store or hand out the private key. */
export async function generateP256KeyPair(extractable: boolean): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(P256, extractable, ["sign", "verify"]);
}

/** The public members of a P-256 key as a JWK (`kty`, `crv`, `x`, `y`): what thumbprints hash. */
export async function publicKeyJwk(key: CryptoKey): Promise<JsonWebKey> {
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", key);
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) {
    throw new CertificateError("unsupported_key", "expected a P-256 elliptic-curve key");
  }
  return { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
}

/** RFC 7638 SHA-256 thumbprint of a public key: a peer key, the `cnf.jkt` of its tokens. */
export async function keyThumbprint(key: CryptoKey | JsonWebKey): Promise<string> {
  const jwk = "type" in key && "algorithm" in key ? await publicKeyJwk(key) : key;
  return calculateJwkThumbprint(jwk as JWK, "sha256");
}

/** Imports a P-256 public key from a JWK, or checks that a CryptoKey is one, for verifying. */
export async function importP256PublicKey(key: CryptoKey | JsonWebKey): Promise<CryptoKey> {
  if ("type" in key && "algorithm" in key) {
    const algorithm = key.algorithm as EcKeyAlgorithm;
    if (key.type !== "public" || algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") {
      throw new CertificateError("unsupported_key", "expected a P-256 ECDSA public key");
    }
    return key;
  }
  const jwk = key as JsonWebKey;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) {
    throw new CertificateError("unsupported_key", "expected a P-256 public JWK");
  }
  try {
    return await globalThis.crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
      P256,
      true,
      ["verify"],
    );
  } catch (error) {
    throw new CertificateError(
      "unsupported_key",
      `not a valid P-256 public key: ${(error as Error).message}`,
    );
  }
}

/** True when a certificate's or CSR's SubjectPublicKeyInfo is an EC key on the named curve P-256. */
export function isP256(publicKey: x509.PublicKey): boolean {
  try {
    const algorithm = publicKey.algorithm as EcKeyAlgorithm;
    return algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256";
  } catch {
    return false;
  }
}

/** Imports a certificate's or CSR's public key as a P-256 verify key, or refuses it. */
export async function exportP256(publicKey: x509.PublicKey): Promise<CryptoKey> {
  if (!isP256(publicKey)) throw new CertificateError("unsupported_key", "the key is not a P-256 EC key");
  return publicKey.export(P256, ["verify"], globalThis.crypto);
}

/** RFC 5280 §4.2.1.2 method 1 key identifier (SHA-1 of the public key bits), hex. */
export async function keyIdentifier(key: CryptoKey): Promise<string> {
  const extension = await x509.SubjectKeyIdentifierExtension.create(key, false, globalThis.crypto);
  return extension.keyId;
}
