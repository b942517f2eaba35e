// The identity extension of device certificates: the whole identity, permissions
// included, so a peer can authorize another peer offline with nothing but a trust anchor.
import type { Identity, ProviderId } from "../identity.js";
import { type Permissions, validatePermissions } from "../permissions/index.js";
import type { RawExtension } from "./builder.js";
import { toBytes } from "./bytes.js";
import { canonicalJson } from "./canonical-json.js";
import { DerError, decodeUtf8String, encodeUtf8String } from "./der.js";
import { CertificateError, type CertificateErrorReason } from "./errors.js";
import { hasControlCharacters } from "./names.js";
import type { x509 } from "./peculiar.js";
import { readRawExtensions } from "./raw-certificate.js";

/**
 * Arc meshauth owns: the project's UUID 11d5a706-946e-42e8-8c96-ce63b1fb370c placed under
 * Microsoft's GUID-based arc 1.2.840.113556.1.8000.2554, whose allocations are implicit
 * (the UUID's hex split 4-4-4-4-4-6-6, each chunk one arc), so every arc fits in 32 bits.
 * The UUID arc 2.25 used before needs one 128-bit arc, which GnuTLS, Go and Python
 * cryptography cannot parse.
 */
export const MESHAUTH_OID_ARC = "1.2.840.113556.1.8000.2554.4565.42758.37998.17128.35990.13525937.16463628";

/** OID of the meshauth identity extension. Non-critical, so TLS stacks that do not know it still build and check chains. */
export const IDENTITY_EXTENSION_OID = `${MESHAUTH_OID_ARC}.1`;

/**
 * Largest identity JSON (UTF-8 bytes) a certificate may carry. Room for the largest
 * permission set the permission engine accepts (16 KiB) plus user info; certificates
 * travel in every TLS handshake, Bluetooth included, so not more.
 */
export const IDENTITY_EXTENSION_MAX_BYTES = 32 * 1024;

/** Version of the JSON inside the extension (`v`). */
export const IDENTITY_EXTENSION_VERSION = 1;

/** What a device certificate's identity extension holds. */
export interface CertificateIdentity {
  identity: Identity;
  /** The hub session the certificate was issued under, when there is one (for revocation). */
  sessionId?: string;
}

/**
 * The extension's value: a DER UTF8String whose text is the canonical JSON (RFC 8785) of
 * `{v, appId, userId, peerKey, provider, permissions, userInfo?, metadata?, exp, sid?}`.
 */
export function encodeIdentityExtension(value: CertificateIdentity): RawExtension {
  const identity = checkIdentity(value.identity, "invalid_identity");
  if (value.sessionId !== undefined) checkString(value.sessionId, "sessionId", 256, "invalid_identity");
  const json = canonicalJson({
    v: IDENTITY_EXTENSION_VERSION,
    appId: identity.appId,
    userId: identity.userId,
    peerKey: identity.peerKey,
    provider: identity.provider,
    permissions: identity.permissions,
    userInfo: identity.userInfo,
    metadata: identity.metadata,
    exp: identity.exp,
    sid: value.sessionId,
  });
  const bytes = new TextEncoder().encode(json);
  if (bytes.length > IDENTITY_EXTENSION_MAX_BYTES) {
    throw new CertificateError(
      "identity_too_large",
      `the identity is ${bytes.length} bytes of JSON; certificates carry at most ${IDENTITY_EXTENSION_MAX_BYTES}`,
    );
  }
  return { oid: IDENTITY_EXTENSION_OID, critical: false, value: encodeUtf8String(json) };
}

/** Reads the identity extension of a certificate; `bad_identity` when absent or invalid. */
export function readIdentityExtension(certificate: x509.X509Certificate): CertificateIdentity {
  let found: RawExtension[];
  try {
    found = readRawExtensions(certificate.rawData).filter((e) => e.oid === IDENTITY_EXTENSION_OID);
  } catch {
    throw new CertificateError("malformed", "the certificate's extensions are not valid DER");
  }
  if (found.length !== 1) {
    throw new CertificateError(
      "bad_identity",
      found.length === 0
        ? "the certificate has no meshauth identity extension"
        : "duplicate identity extensions",
    );
  }
  const value = toBytes(found[0]!.value);
  if (value.length > IDENTITY_EXTENSION_MAX_BYTES + 8) {
    throw new CertificateError("bad_identity", "the identity extension is larger than allowed");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8String(value));
  } catch (error) {
    const why = error instanceof DerError ? error.message : "not JSON";
    throw new CertificateError("bad_identity", `the identity extension is unreadable: ${why}`);
  }
  if (!isRecord(parsed) || parsed["v"] !== IDENTITY_EXTENSION_VERSION) {
    throw new CertificateError("bad_identity", "the identity extension has an unknown version");
  }
  const { v: _version, sid, ...identity } = parsed;
  const result: CertificateIdentity = { identity: checkIdentity(identity, "bad_identity") };
  if (sid !== undefined) result.sessionId = checkString(sid, "sid", 256, "bad_identity");
  return result;
}

const PROVIDER = /^(otp|playground|client|shared-key|webhook:.+|oidc:.+)$/;

/**
 * Checks an identity has the shape the certificate format promises, and its permissions
 * pass the permission engine's validation (every query parses, limits hold).
 */
export function checkIdentity(value: unknown, reason: CertificateErrorReason): Identity {
  if (!isRecord(value)) throw new CertificateError(reason, "the identity is not an object");
  const appId = checkString(value["appId"], "appId", 128, reason);
  const userId = checkString(value["userId"], "userId", 1024, reason);
  const peerKey = checkString(value["peerKey"], "peerKey", 256, reason);
  const provider = checkString(value["provider"], "provider", 256, reason);
  if (!PROVIDER.test(provider))
    throw new CertificateError(reason, `unknown provider ${JSON.stringify(provider)}`);
  const exp = value["exp"];
  if (typeof exp !== "number" || !Number.isSafeInteger(exp) || exp <= 0) {
    throw new CertificateError(reason, "identity exp must be a positive integer of seconds");
  }
  const permissions = checkPermissions(value["permissions"], reason);
  const identity: Identity = { appId, userId, peerKey, provider: provider as ProviderId, permissions, exp };
  const userInfo = value["userInfo"];
  if (userInfo !== undefined) {
    if (!isRecord(userInfo)) throw new CertificateError(reason, "identity userInfo must be an object");
    identity.userInfo = userInfo;
  }
  const metadata = value["metadata"];
  if (metadata !== undefined) {
    if (!isRecord(metadata)) throw new CertificateError(reason, "identity metadata must be an object");
    identity.metadata = metadata;
  }
  const known = new Set([
    "appId",
    "userId",
    "peerKey",
    "provider",
    "permissions",
    "userInfo",
    "metadata",
    "exp",
  ]);
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new CertificateError(reason, `unknown identity members: ${unknown.join(", ")}`);
  return identity;
}

/** The permission engine's own validation: shape, every query parsed, size limits. */
function checkPermissions(value: unknown, reason: CertificateErrorReason): Permissions {
  try {
    return validatePermissions(value);
  } catch (error) {
    throw new CertificateError(reason, `identity permissions are invalid: ${(error as Error).message}`);
  }
}

function checkString(value: unknown, name: string, max: number, reason: CertificateErrorReason): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max || hasControlCharacters(value)) {
    throw new CertificateError(
      reason,
      `identity ${name} must be 1 to ${max} characters without control characters`,
    );
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
