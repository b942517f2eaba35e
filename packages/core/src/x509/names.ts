// Names meshauth writes into certificates: the CA's subject and SAN, the device SAN URI,
// the issuer name of shared-key certificates. Kept together so issuing and verifying
// can never disagree on a format.
import { CertificateError } from "./errors.js";
import { x509 } from "./peculiar.js";

/** True when a string contains C0 control characters or DEL. */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** App IDs are short opaque strings (Ditto's are UUIDs); no control characters. */
export function assertAppId(appId: unknown): asserts appId is string {
  if (typeof appId !== "string" || appId.length === 0 || appId.length > 128 || hasControlCharacters(appId)) {
    throw new CertificateError(
      "invalid_identity",
      "appId must be 1 to 128 characters without control characters",
    );
  }
}

/** SAN URI of an app's CA certificate: `meshauth:app:<appId>` (appId percent-encoded). */
export function caUri(appId: string): string {
  return `meshauth:app:${encodeURIComponent(appId)}`;
}

/** Subject common name of an app's CA certificate. */
export function caCommonName(appId: string): string {
  return `meshauth app ${appId} CA`;
}

/**
 * SAN URI of a device certificate: `meshauth:device:<appId>:<userId>:<peerKey>`, each part
 * percent-encoded with encodeURIComponent (which also encodes `:`), so no part can shift
 * another. The URI has no authority: RFC 5280 §4.2.1.6 requires a URI's host to be a fully
 * qualified domain name or IP address, and an app ID is neither. The full user ID lives
 * here and in the identity extension; the subject CN is only a label (`deviceCommonName`).
 */
export function deviceUri(appId: string, userId: string, peerKey: string): string {
  return `${DEVICE_URI_PREFIX}${encodeURIComponent(appId)}:${encodeURIComponent(userId)}:${encodeURIComponent(peerKey)}`;
}

export const DEVICE_URI_PREFIX = "meshauth:device:";

/** The parts of a device SAN URI, or null if the text is not one. */
export function parseDeviceUri(uri: string): { appId: string; userId: string; peerKey: string } | null {
  const match = /^meshauth:device:([^:/?#]+):([^:/?#]+):([^:/?#]+)$/.exec(uri);
  if (!match) return null;
  try {
    return {
      appId: decodeURIComponent(match[1] ?? ""),
      userId: decodeURIComponent(match[2] ?? ""),
      peerKey: decodeURIComponent(match[3] ?? ""),
    };
  } catch {
    return null;
  }
}

/**
 * RFC 5280 ub-common-name is 64 characters; some stacks (Python cryptography) count the
 * UTF-8 bytes of a UTF8String, so meshauth keeps CNs within 64 bytes.
 */
export const COMMON_NAME_MAX_BYTES = 64;

/**
 * Subject common name of a device certificate: the user ID when it fits in 64 UTF-8 bytes,
 * else as many whole characters as fit in 61 bytes and "...". Only a label for people and
 * tools; meshauth reads who the device is from the SAN URI and the identity extension.
 */
export function deviceCommonName(userId: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(userId).length <= COMMON_NAME_MAX_BYTES) return userId;
  let kept = "";
  let bytes = 0;
  for (const char of userId) {
    const size = encoder.encode(char).length;
    if (bytes + size > COMMON_NAME_MAX_BYTES - 3) break;
    kept += char;
    bytes += size;
  }
  return `${kept}...`;
}

/**
 * Issuer (and self-signed subject) common name of shared-key certificates, derived from the
 * shared key's public key thumbprint so a verifier can tell which shared key to check.
 */
export function sharedKeyCommonName(thumbprint: string): string {
  return `meshauth shared key ${thumbprint}`;
}

/** The thumbprint named by a shared-key issuer common name, or null. */
export function parseSharedKeyCommonName(commonName: string): string | null {
  return /^meshauth shared key ([A-Za-z0-9_-]{43})$/.exec(commonName)?.[1] ?? null;
}

/** The URIs of a certificate's subjectAltName extension (empty when there is none). */
export function sanUris(certificate: x509.X509Certificate | x509.Pkcs10CertificateRequest): string[] {
  const san = certificate.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === "url").map((n) => n.value);
}

/** The first common name of a distinguished name, or null. */
export function commonName(name: x509.Name): string | null {
  return name.getField("CN")[0] ?? null;
}
