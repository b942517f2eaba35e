import { randomSerialNumber, toBytes } from "./bytes.js";
import { CertificateError } from "./errors.js";
import { ES256_SIGNING, generateP256KeyPair, keyIdentifier, P256, publicKeyJwk } from "./keys.js";
import { assertAppId, caCommonName, caUri, sanUris } from "./names.js";
import { x509 } from "./peculiar.js";
import { type CertificateInput, parseCertificatePem, pemToDer } from "./pem.js";

export interface CreateCertificateAuthorityOptions {
  /** The app (tenant) this CA issues device certificates for. */
  appId: string;
  /** Human name of the app, written as the subject's organization (O). */
  name?: string;
  /** How long the CA certificate lasts. Default 10 years. */
  validityYears?: number;
  /** Clock for tests. */
  now?: Date;
}

/** What the hub stores for an app's CA (the private key encrypted, by the hub). */
export interface CertificateAuthorityMaterial {
  /** The self-signed root certificate, PEM. Peers trust it; it is public. */
  certificatePem: string;
  /** The CA's P-256 private key, PKCS#8 DER. Secret. */
  privateKeyPkcs8: Uint8Array;
  /** The CA's public key as a JWK (kty, crv, x, y). */
  publicKeyJwk: JsonWebKey;
  /** Subject key identifier (hex), also the authority key identifier of what it issues. */
  keyId: string;
  notAfter: Date;
}

/** A loaded CA: its certificate and a signing key. Pass it to `issueDeviceCertificate`. */
export interface CertificateAuthority {
  readonly appId: string;
  readonly certificatePem: string;
  readonly certificate: x509.X509Certificate;
  readonly keyId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: CryptoKey;
  /** Non-extractable: once loaded, the key only signs. */
  readonly privateKey: CryptoKey;
}

/** Backdating absorbs small clock differences between the hub and peers. */
const BACKDATE_MS = 5 * 60 * 1000;

/**
 * Creates a per-app root CA: a P-256 key and a self-signed certificate with subject
 * `CN=meshauth app <appId> CA` (plus `O=<name>`), SAN URI `meshauth:app:<appId>`,
 * basicConstraints CA:true pathLen 0 (it signs device certificates only), keyUsage
 * keyCertSign + cRLSign and a subject key identifier.
 */
export async function createCertificateAuthority(
  options: CreateCertificateAuthorityOptions,
): Promise<CertificateAuthorityMaterial> {
  const { appId, name, validityYears = 10, now = new Date() } = options;
  assertAppId(appId);
  if (!Number.isFinite(validityYears) || validityYears <= 0 || validityYears > 100) {
    throw new CertificateError("invalid_ca", "validityYears must be between 0 and 100");
  }
  // Extractable: the hub must export the key to store it encrypted.
  const keys = await generateP256KeyPair(true);
  const keyId = await keyIdentifier(keys.publicKey);
  const subject: x509.JsonName = [{ CN: [caCommonName(appId)] }];
  if (name) subject.push({ O: [name] });
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + Math.floor(validityYears));
  notAfter.setTime(notAfter.getTime() + (validityYears % 1) * 365.25 * 86400_000);

  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject,
      issuer: subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: ES256_SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(keyId),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: caUri(appId) }]),
      ],
    },
    globalThis.crypto,
  );
  return {
    certificatePem: certificate.toString("pem"),
    privateKeyPkcs8: new Uint8Array(await globalThis.crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    publicKeyJwk: await publicKeyJwk(keys.publicKey),
    keyId,
    notAfter: certificate.notAfter,
  };
}

export interface LoadCertificateAuthorityOptions {
  certificatePem: CertificateInput;
  /** PKCS#8 DER bytes, or a `PRIVATE KEY` PEM. */
  privateKeyPkcs8: Uint8Array | ArrayBuffer | string;
}

/**
 * Loads stored CA material for signing. Checks that the certificate is a meshauth app CA
 * and that the private key belongs to it, so a mix-up of two apps' material fails here
 * rather than producing certificates nobody trusts.
 */
export async function loadCertificateAuthority(
  options: LoadCertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const certificate = parseCertificatePem(options.certificatePem);
  const appId = certificateAuthorityAppId(certificate);
  if (appId === null) {
    throw new CertificateError("invalid_ca", "the certificate is not a meshauth app CA certificate");
  }
  const der =
    typeof options.privateKeyPkcs8 === "string"
      ? pemToDer(options.privateKeyPkcs8, "PRIVATE KEY")
      : toBytes(options.privateKeyPkcs8);
  let privateKey: CryptoKey;
  try {
    privateKey = await globalThis.crypto.subtle.importKey("pkcs8", der, P256, false, ["sign"]);
  } catch (error) {
    throw new CertificateError(
      "invalid_ca",
      `the CA private key is not a P-256 PKCS#8 key: ${(error as Error).message}`,
    );
  }
  const publicKey = await certificate.publicKey.export(P256, ["verify"], globalThis.crypto);
  const probe = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const signature = await globalThis.crypto.subtle.sign(ES256_SIGNING, privateKey, probe);
  if (!(await globalThis.crypto.subtle.verify(ES256_SIGNING, publicKey, signature, probe))) {
    throw new CertificateError("invalid_ca", "the CA private key does not match the CA certificate");
  }
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  return Object.freeze({
    appId,
    certificatePem: certificate.toString("pem"),
    certificate,
    keyId: ski?.keyId ?? (await keyIdentifier(publicKey)),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    publicKey,
    privateKey,
  });
}

/**
 * The app ID of a meshauth CA certificate (CA:true with a `meshauth:app:` SAN URI), or
 * null when the certificate is not one.
 */
export function certificateAuthorityAppId(certificate: x509.X509Certificate): string | null {
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) return null;
  for (const uri of sanUris(certificate)) {
    if (!uri.startsWith("meshauth:app:")) continue;
    try {
      return decodeURIComponent(uri.slice("meshauth:app:".length));
    } catch {
      return null;
    }
  }
  return null;
}
