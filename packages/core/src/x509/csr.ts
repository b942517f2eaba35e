import { toBytes } from "./bytes.js";
import { CertificateError } from "./errors.js";
import { ES256_SIGNING, exportP256, isP256, keyThumbprint, publicKeyJwk } from "./keys.js";
import { x509 } from "./peculiar.js";
import { pemToDer } from "./pem.js";

/** A PKCS#10 request whose self-signature checked out, reduced to what the CA uses. */
export interface VerifiedCertificateSigningRequest {
  /** The requested key, imported for verifying. */
  publicKey: CryptoKey;
  publicKeyJwk: JsonWebKey;
  /**
   * RFC 7638 thumbprint of the requested key. The hub compares it with the access token's
   * `cnf.jkt`, so a device can only certify the key its session is bound to.
   */
  keyThumbprint: string;
  /** The subject the device asked for; informational: the CA writes its own. */
  subject: string;
}

/**
 * Parses a PKCS#10 CSR (PEM or DER), requires a P-256 EC key and checks the request's
 * self-signature (proof that the requester holds the private key). Requested subject and
 * extensions are ignored: the CA decides what goes in a certificate.
 */
export async function verifyCertificateSigningRequest(
  csr: string | Uint8Array | ArrayBuffer,
): Promise<VerifiedCertificateSigningRequest> {
  let request: x509.Pkcs10CertificateRequest;
  try {
    const der = typeof csr === "string" ? pemToDer(csr, "CERTIFICATE REQUEST") : toBytes(csr);
    request = new x509.Pkcs10CertificateRequest(der);
    void request.publicKey.algorithm;
    void request.signatureAlgorithm;
  } catch (error) {
    if (error instanceof CertificateError) throw error;
    throw new CertificateError("malformed", `not a PKCS#10 certificate request: ${(error as Error).message}`);
  }
  if (!isP256(request.publicKey)) {
    throw new CertificateError(
      "unsupported_key",
      "the CSR's key is not a P-256 EC key; meshauth certifies P-256 only",
    );
  }
  let valid = false;
  try {
    valid = request.signatureAlgorithm.name === "ECDSA" && (await request.verify(globalThis.crypto));
  } catch {
    valid = false;
  }
  if (!valid)
    throw new CertificateError("bad_csr_signature", "the CSR's signature does not verify with its key");
  const publicKey = await exportP256(request.publicKey);
  const jwk = await publicKeyJwk(publicKey);
  return { publicKey, publicKeyJwk: jwk, keyThumbprint: await keyThumbprint(jwk), subject: request.subject };
}

export interface CreateCertificateSigningRequestOptions {
  /** The device's P-256 key pair; the private key may be non-extractable. */
  keys: CryptoKeyPair;
  /** Requested common name (the CA ignores it; useful for humans reading the CSR). */
  commonName?: string;
}

/** A PKCS#10 CSR (PEM) for a device key, signed with ECDSA P-256 / SHA-256. */
export async function createCertificateSigningRequest(
  options: CreateCertificateSigningRequestOptions,
): Promise<string> {
  const request = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      keys: options.keys,
      signingAlgorithm: ES256_SIGNING,
      ...(options.commonName ? { name: [{ CN: [options.commonName] }] } : {}),
    },
    globalThis.crypto,
  );
  return request.toString("pem");
}
