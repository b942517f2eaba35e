import { fromBase64, toBase64, toBytes } from "./bytes.js";
import { CertificateError } from "./errors.js";
import { x509 } from "./peculiar.js";

/** A certificate as PEM text or DER bytes (Node's `X509Certificate.raw` is a Uint8Array). */
export type CertificateInput = string | Uint8Array | ArrayBuffer;

export interface PemBlock {
  /** The label between `-----BEGIN ` and `-----`, e.g. `CERTIFICATE`. */
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in a text, in order (a CA bundle, a chain, a key file). */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const der = fromBase64(match[2] ?? "");
    if (!der) throw new CertificateError("malformed", `PEM block ${match[1]} is not valid base64`);
    blocks.push({ label: match[1] ?? "", der });
  }
  return blocks;
}

/** The DER of the first PEM block, optionally requiring its label. */
export function pemToDer(pem: string, label?: string): Uint8Array<ArrayBuffer> {
  const block = decodePem(pem).find((b) => label === undefined || b.label === label);
  if (!block)
    throw new CertificateError("malformed", `no PEM block${label ? ` labelled ${label}` : ""} found`);
  return block.der;
}

/** PEM text (64-column base64, trailing newline) of DER bytes. */
export function derToPem(der: ArrayBuffer | ArrayBufferView, label: string): string {
  const lines = toBase64(toBytes(der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** DER bytes of a certificate given as PEM or DER. */
export function certificateToDer(input: CertificateInput): Uint8Array<ArrayBuffer> {
  if (typeof input === "string") return pemToDer(input, "CERTIFICATE");
  return toBytes(input);
}

/**
 * Parses one X.509 certificate from PEM or DER. Throws `CertificateError` with reason
 * `malformed` when it is not a certificate.
 */
export function parseCertificatePem(input: CertificateInput): x509.X509Certificate {
  const der = certificateToDer(input);
  try {
    const certificate = new x509.X509Certificate(der);
    // Touch the lazily decoded fields so a broken certificate fails here, not later.
    void certificate.serialNumber;
    void certificate.notAfter;
    void certificate.extensions;
    void certificate.publicKey.algorithm;
    return certificate;
  } catch (error) {
    throw new CertificateError("malformed", `not an X.509 certificate: ${(error as Error).message}`);
  }
}

/** PKCS#8 PEM (`PRIVATE KEY`) of an extractable private key. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return derToPem(await globalThis.crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** SubjectPublicKeyInfo PEM (`PUBLIC KEY`) of a public key. */
export async function exportPublicKeyPem(key: CryptoKey): Promise<string> {
  return derToPem(await globalThis.crypto.subtle.exportKey("spki", key), "PUBLIC KEY");
}
