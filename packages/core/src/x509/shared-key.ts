// Offline "shared key" mode: every device holds the app's P-256 private key and signs its
// own certificate with it; peers trust whatever that key signed ("everybody is the CA").
// Full access for everyone, no revocation of single devices: a leaked key must be replaced.
import { FULL_ACCESS, type Identity } from "../identity.js";
import { buildCertificate } from "./builder.js";
import { fromBase64, normalizeSerial, randomSerialNumber, toBase64, toBytes } from "./bytes.js";
import {
  deviceExtensions,
  deviceSubject,
  type IssuedDeviceCertificate,
  NOT_BEFORE_BACKDATE_MS,
  validity,
} from "./device.js";
import { CertificateError } from "./errors.js";
import { encodeIdentityExtension } from "./identity-extension.js";
import {
  generateP256KeyPair,
  importP256PublicKey,
  keyIdentifier,
  keyThumbprint,
  P256,
  publicKeyJwk,
} from "./keys.js";
import { assertAppId, deviceUri, sharedKeyCommonName } from "./names.js";
import { x509 } from "./peculiar.js";
import { decodePem, derToPem } from "./pem.js";
import { normalizeP256Pkcs8, Pkcs8Error } from "./pkcs8.js";

/** A loaded shared key. */
export interface SharedKey {
  /** Non-extractable: it only signs certificates. */
  readonly privateKey: CryptoKey;
  /** The trust anchor peers verify with. */
  readonly publicKey: CryptoKey;
  readonly publicKeyJwk: JsonWebKey;
  /** RFC 7638 thumbprint of the public key; names the issuer of every certificate it signs. */
  readonly thumbprint: string;
  /** Subject key identifier (hex) of the public key; the AKI of its certificates. */
  readonly keyId: string;
  /** DER of the issuer name `CN=meshauth shared key <thumbprint>`. */
  readonly issuerName: Uint8Array;
}

/**
 * A new shared key in the format devices are configured with: base64 of a PKCS#8 DER P-256
 * private key (the same as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 |
 * openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0`).
 */
export async function generateSharedKey(): Promise<string> {
  const keys = await generateP256KeyPair(true);
  return toBase64(new Uint8Array(await globalThis.crypto.subtle.exportKey("pkcs8", keys.privateKey)));
}

/**
 * Loads a shared key from base64 PKCS#8 DER (a `PRIVATE KEY` PEM is accepted too). Named and
 * explicit P-256 curve parameters are both understood. Errors say what the text is instead.
 */
export async function loadSharedKey(base64Pkcs8Der: string): Promise<SharedKey> {
  if (typeof base64Pkcs8Der !== "string" || base64Pkcs8Der.trim() === "") {
    throw new CertificateError("invalid_shared_key", "the shared key is empty");
  }
  let der: Uint8Array<ArrayBuffer> | null;
  if (base64Pkcs8Der.includes("-----BEGIN")) {
    const blocks = decodePem(base64Pkcs8Der);
    const block = blocks.find((b) => b.label === "PRIVATE KEY");
    if (!block) {
      const label = blocks[0]?.label ?? "unknown";
      throw new CertificateError(
        "invalid_shared_key",
        `the shared key is a PEM ${label}; expected base64 PKCS#8 DER (openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0)`,
      );
    }
    der = block.der;
  } else {
    der = fromBase64(base64Pkcs8Der);
  }
  if (!der) {
    throw new CertificateError(
      "invalid_shared_key",
      "the shared key is not base64 (expected base64 of PKCS#8 DER)",
    );
  }
  let normalized: Uint8Array<ArrayBuffer>;
  try {
    normalized = normalizeP256Pkcs8(der);
  } catch (error) {
    if (error instanceof Pkcs8Error)
      throw new CertificateError("invalid_shared_key", error.message, { kind: error.kind });
    throw error;
  }
  let jwk: JsonWebKey;
  try {
    const extractable = await globalThis.crypto.subtle.importKey("pkcs8", normalized, P256, true, ["sign"]);
    jwk = await globalThis.crypto.subtle.exportKey("jwk", extractable);
  } catch (error) {
    throw new CertificateError(
      "invalid_shared_key",
      `the shared key does not import: ${(error as Error).message}`,
    );
  }
  const privateKey = await globalThis.crypto.subtle.importKey("jwk", jwk, P256, false, ["sign"]);
  const publicKey = await importP256PublicKey(jwk);
  return sharedKeyFromPublic(publicKey, privateKey);
}

async function sharedKeyFromPublic(publicKey: CryptoKey, privateKey: CryptoKey): Promise<SharedKey> {
  const publicJwk = await publicKeyJwk(publicKey);
  const thumbprint = await keyThumbprint(publicJwk);
  return Object.freeze({
    privateKey,
    publicKey,
    publicKeyJwk: publicJwk,
    thumbprint,
    keyId: await keyIdentifier(publicKey),
    issuerName: sharedKeyIssuerName(thumbprint),
  });
}

/** DER of the issuer name of certificates signed by the shared key with this thumbprint. */
export function sharedKeyIssuerName(thumbprint: string): Uint8Array<ArrayBuffer> {
  return toBytes(new x509.Name([{ CN: [sharedKeyCommonName(thumbprint)] }]).toArrayBuffer());
}

export interface IssueSharedKeyCertificateOptions {
  sharedKey: SharedKey;
  appId: string;
  /** The device's own P-256 public key (its TLS key); the shared key only signs. */
  devicePublicKey: CryptoKey;
  /** A name for the device (the identity's userId); default its peer key. */
  deviceId?: string;
  /** Default: five minutes before `now`. */
  notBefore?: Date;
  /** Default: `validityDays` after `now`. */
  notAfter?: Date;
  /** Default 30: a device can re-issue its certificate at any time, offline. */
  validityDays?: number;
  serialNumber?: string;
  now?: Date;
}

/**
 * A device certificate signed directly by the shared key: the same profile as a CA-issued
 * one, with identity provider `shared-key`, full access, userId = deviceId (or the peer key)
 * and issuer `CN=meshauth shared key <thumbprint>`.
 */
export async function issueSharedKeyCertificate(
  options: IssueSharedKeyCertificateOptions,
): Promise<IssuedDeviceCertificate> {
  const { sharedKey, appId } = options;
  assertAppId(appId);
  const now = options.now ?? new Date();
  const publicKey = await importP256PublicKey(await publicKeyJwk(options.devicePublicKey));
  const peerKey = await keyThumbprint(publicKey);
  const days = options.validityDays ?? 30;
  if (!(days > 0)) throw new CertificateError("invalid_identity", "validityDays must be positive");
  const requestedEnd = options.notAfter ?? new Date(now.getTime() + days * 86_400_000);
  const window = validity(now, Math.floor(requestedEnd.getTime() / 1000), {
    notBefore: options.notBefore ?? new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
  });
  const identity: Identity = {
    appId,
    userId: options.deviceId ?? peerKey,
    peerKey,
    provider: "shared-key",
    permissions: FULL_ACCESS,
    exp: Math.floor(window.notAfter.getTime() / 1000),
  };
  const serialNumber = normalizeSerial(options.serialNumber ?? randomSerialNumber());
  const certificate = await buildCertificate({
    serialNumber,
    issuer: sharedKey.issuerName,
    subject: deviceSubject(identity.userId),
    notBefore: window.notBefore,
    notAfter: window.notAfter,
    publicKey,
    signingKey: sharedKey.privateKey,
    extensions: await deviceExtensions(
      publicKey,
      sharedKey.keyId,
      deviceUri(appId, identity.userId, peerKey),
      encodeIdentityExtension({ identity }),
    ),
  });
  const jwk = await publicKeyJwk(publicKey);
  return {
    certificatePem: certificate.toString("pem"),
    certificateDer: new Uint8Array(certificate.rawData),
    serialNumber,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    keyThumbprint: peerKey,
    publicKeyJwk: jwk,
    identity,
    caCertificatePem: await createSharedKeyRootCertificate(sharedKey, { now }),
  };
}

/**
 * A self-signed CA certificate for the shared key, for TLS stacks that want a CA
 * certificate (Node's `tls` `ca` option). Any device can make one; all of them have the
 * same subject and key, so each verifies every certificate the shared key signed.
 * meshauth's own verification needs only the public key.
 */
export async function createSharedKeyRootCertificate(
  sharedKey: SharedKey,
  options: { now?: Date; validityYears?: number } = {},
): Promise<string> {
  const now = options.now ?? new Date();
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (options.validityYears ?? 10));
  const certificate = await buildCertificate({
    serialNumber: normalizeSerial(randomSerialNumber()),
    issuer: sharedKey.issuerName,
    subject: [{ CN: [sharedKeyCommonName(sharedKey.thumbprint)] }],
    notBefore: new Date(Math.floor((now.getTime() - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000),
    notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
    publicKey: sharedKey.publicKey,
    signingKey: sharedKey.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectKeyIdentifierExtension(sharedKey.keyId),
    ],
  });
  return derToPem(certificate.rawData, "CERTIFICATE");
}
