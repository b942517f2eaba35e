// Plain-words summaries of certificates, for `meshauth cert inspect` and for debugging
// "why was this peer refused" without reaching for openssl.
import type { Identity } from "../identity.js";
import type { PermissionRules } from "../permissions/types.js";
import { normalizeSerial, toHex } from "./bytes.js";
import { certificateAuthorityAppId } from "./ca.js";
import { type CertificateIdentity, readIdentityExtension } from "./identity-extension.js";
import { isP256, keyThumbprint, P256, publicKeyJwk } from "./keys.js";
import { commonName, DEVICE_URI_PREFIX, parseSharedKeyCommonName, sanUris } from "./names.js";
import { x509 } from "./peculiar.js";
import { type CertificateInput, parseCertificatePem } from "./pem.js";

export type CertificateKind =
  | "app-ca"
  | "shared-key-root"
  | "device-from-ca"
  | "device-from-shared-key"
  | "other";

/** What `describeCertificate` prints, as data. */
export interface CertificateDescription {
  kind: CertificateKind;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** "valid", "expired" or "not yet valid", at `now`. */
  status: "valid" | "expired" | "not yet valid";
  isCa: boolean;
  /** The app of an app CA certificate. */
  caAppId?: string;
  /** Thumbprint of the shared key named as issuer (shared-key certificates and roots). */
  sharedKeyThumbprint?: string;
  keyAlgorithm: string;
  /** RFC 7638 thumbprint of the certified key (P-256 keys only). */
  keyThumbprint?: string;
  fingerprintSha256: string;
  uris: string[];
  identity?: Identity;
  sessionId?: string;
  /** Why the identity extension could not be read, when a device certificate's is broken. */
  identityError?: string;
}

/** The facts of a certificate, without judging whether to trust it. */
export async function inspectCertificate(
  input: CertificateInput,
  options: { now?: Date } = {},
): Promise<CertificateDescription> {
  const certificate = parseCertificatePem(input);
  const now = options.now ?? new Date();
  const isCa = certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
  const caAppId = certificateAuthorityAppId(certificate);
  const issuerShared = parseSharedKeyCommonName(commonName(certificate.issuerName) ?? "");
  let read: CertificateIdentity | undefined;
  let identityError: string | undefined;
  try {
    read = readIdentityExtension(certificate);
  } catch (error) {
    identityError = (error as Error).message;
  }
  let kind: CertificateKind = "other";
  if (isCa && caAppId !== null) kind = "app-ca";
  else if (isCa && issuerShared !== null) kind = "shared-key-root";
  else if (!isCa && issuerShared !== null) kind = "device-from-shared-key";
  else if (!isCa && (read || sanUris(certificate).some((u) => u.startsWith(DEVICE_URI_PREFIX))))
    kind = "device-from-ca";

  const fingerprint = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", certificate.rawData));
  const description: CertificateDescription = {
    kind,
    subject: certificate.subject,
    issuer: certificate.issuer,
    serialNumber: normalizeSerial(certificate.serialNumber),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    status: now < certificate.notBefore ? "not yet valid" : now > certificate.notAfter ? "expired" : "valid",
    isCa,
    keyAlgorithm: keyAlgorithmName(certificate.publicKey),
    fingerprintSha256: toHex(fingerprint),
    uris: sanUris(certificate),
  };
  if (caAppId !== null) description.caAppId = caAppId;
  if (issuerShared !== null) description.sharedKeyThumbprint = issuerShared;
  if (isP256(certificate.publicKey)) {
    const key = await certificate.publicKey.export(P256, ["verify"], globalThis.crypto);
    description.keyThumbprint = await keyThumbprint(await publicKeyJwk(key));
  }
  if (read) {
    description.identity = read.identity;
    if (read.sessionId !== undefined) description.sessionId = read.sessionId;
  } else if (kind === "device-from-ca" || kind === "device-from-shared-key") {
    description.identityError = identityError ?? "unreadable";
  }
  return description;
}

const KIND_WORDS: Record<CertificateKind, string> = {
  "app-ca": "meshauth app CA certificate (trust anchor for the app's device certificates)",
  "shared-key-root": "meshauth shared-key root certificate (self-signed by the shared key)",
  "device-from-ca": "meshauth device certificate issued by an app CA",
  "device-from-shared-key": "meshauth device certificate signed by a shared key (offline mode)",
  other: "not a meshauth certificate",
};

/**
 * A plain-words, multi-line summary of a certificate (PEM or DER): what it is, who issued
 * it to whom, when it is valid, and for device certificates the identity and permissions.
 */
export async function describeCertificate(
  input: CertificateInput,
  options: { now?: Date } = {},
): Promise<string> {
  const d = await inspectCertificate(input, options);
  const lines = [
    `Kind:        ${KIND_WORDS[d.kind]}`,
    `Subject:     ${d.subject}`,
    `Issuer:      ${d.issuer}`,
    `Serial:      ${d.serialNumber}`,
    `Valid:       ${d.notBefore.toISOString()} to ${d.notAfter.toISOString()} (${d.status})`,
    `Key:         ${d.keyAlgorithm}${d.keyThumbprint ? `, thumbprint ${d.keyThumbprint}` : ""}`,
    `SHA-256:     ${d.fingerprintSha256}`,
  ];
  if (d.caAppId !== undefined) lines.push(`CA for app:  ${d.caAppId}`);
  if (d.sharedKeyThumbprint !== undefined) lines.push(`Shared key:  ${d.sharedKeyThumbprint}`);
  for (const uri of d.uris) lines.push(`URI:         ${uri}`);
  if (d.identity) {
    const identity = d.identity;
    lines.push(
      "Identity:",
      `  app:       ${identity.appId}`,
      `  user:      ${identity.userId}`,
      `  peer key:  ${identity.peerKey}${d.keyThumbprint === identity.peerKey ? " (the certified key)" : ""}`,
      `  provider:  ${identity.provider}`,
      `  expires:   ${new Date(identity.exp * 1000).toISOString()}`,
    );
    if (d.sessionId !== undefined) lines.push(`  session:   ${d.sessionId}`);
    if (identity.userInfo !== undefined) lines.push(`  user info: ${JSON.stringify(identity.userInfo)}`);
    if (identity.metadata !== undefined) lines.push(`  metadata:  ${JSON.stringify(identity.metadata)}`);
    lines.push(
      "Permissions:",
      ...describeRules("read", identity.permissions.read),
      ...describeRules("write", identity.permissions.write),
    );
  } else if (d.identityError !== undefined) {
    lines.push(`Identity:    unreadable: ${d.identityError}`);
  }
  return `${lines.join("\n")}\n`;
}

function describeRules(direction: string, rules: PermissionRules): string[] {
  if (rules.everything) return [`  ${direction}: every collection`];
  const collections = Object.entries(rules.queriesByCollection);
  if (collections.length === 0) return [`  ${direction}: nothing`];
  return [
    `  ${direction}:`,
    ...collections.map(([collection, queries]) =>
      queries.length === 0
        ? `    ${collection}: no documents`
        : `    ${collection}: documents where ${queries.map((q) => `(${q})`).join(" or ")}`,
    ),
  ];
}

function keyAlgorithmName(publicKey: x509.PublicKey): string {
  try {
    const algorithm = publicKey.algorithm as EcKeyAlgorithm & RsaHashedKeyAlgorithm;
    if (algorithm.name === "ECDSA" || algorithm.name === "ECDH") return `EC ${algorithm.namedCurve}`;
    if (algorithm.modulusLength) return `RSA ${algorithm.modulusLength}`;
    return algorithm.name;
  } catch {
    return "unknown";
  }
}
