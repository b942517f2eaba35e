// Signed, versioned revocation lists. The hub signs one per app; peers cache it, check
// certificates against it offline and hand it on to each other, always keeping the newest.
import {
  createLocalJWKSet,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import type { Identity } from "../identity.js";
import { normalizeSerial } from "./bytes.js";
import { CertificateError } from "./errors.js";

/** JWS `typ` of a revocation list. */
export const REVOCATION_LIST_TYPE = "meshauth-revocations+jwt";

/** What is revoked. A certificate is revoked when any of its names appears. */
export interface RevocationEntries {
  /** Every certificate of these users. */
  userIds: string[];
  /** Every certificate naming these peer keys (RFC 7638 thumbprints). */
  peerKeys: string[];
  /** Certificates issued under these hub sessions (the `sid` of the identity extension). */
  sessionIds: string[];
  /** These certificates, by serial number (hex; compared without case or leading zeros). */
  serials: string[];
}

export interface RevocationList {
  appId: string;
  /** Grows by at least one with every change; a peer never replaces a list with an older one. */
  version: number;
  /** Seconds since the epoch. */
  issuedAt: number;
  entries: RevocationEntries;
}

/** Keys that may have signed a revocation list: the hub's JWKS, one key, or a jose key resolver. */
export type RevocationListKeys = CryptoKey | JWK | JSONWebKeySet | JWTVerifyGetKey;

export interface VerifyRevocationListOptions {
  /** The app the list must be for. */
  appId: string;
  /** Accepted signature algorithms. Default ES256, ES384, EdDSA. */
  algorithms?: string[];
}

/** A version 0 list with nothing revoked: where a peer starts before it has seen one. */
export function emptyRevocationList(appId: string): RevocationList {
  return {
    appId,
    version: 0,
    issuedAt: 0,
    entries: { userIds: [], peerKeys: [], sessionIds: [], serials: [] },
  };
}

/** Signs a revocation list as a compact JWS (`typ: meshauth-revocations+jwt`, `kid`). */
export async function signRevocationList(
  list: RevocationList,
  signingKey: CryptoKey,
  kid: string,
): Promise<string> {
  const checked = checkList(list, list.appId);
  return new SignJWT({ ...checked })
    .setProtectedHeader({ alg: algorithmOf(signingKey), typ: REVOCATION_LIST_TYPE, kid })
    .sign(signingKey);
}

/**
 * Verifies a signed revocation list and returns it. Throws `CertificateError` with reason
 * `invalid_revocation_list` when the signature, type, app or shape is wrong.
 */
export async function verifyRevocationList(
  jws: string,
  keys: RevocationListKeys,
  options: VerifyRevocationListOptions,
): Promise<RevocationList> {
  const algorithms = options.algorithms ?? ["ES256", "ES384", "EdDSA"];
  let payload: unknown;
  try {
    const verifyOptions = { typ: REVOCATION_LIST_TYPE, algorithms };
    if (typeof keys === "function") payload = (await jwtVerify(jws, keys, verifyOptions)).payload;
    else if (isCryptoKey(keys)) payload = (await jwtVerify(jws, keys, verifyOptions)).payload;
    else if (isKeySet(keys)) payload = (await jwtVerify(jws, createLocalJWKSet(keys), verifyOptions)).payload;
    else {
      const key = await importJWK(keys, keys.alg ?? algorithms[0]);
      payload = (await jwtVerify(jws, key, verifyOptions)).payload;
    }
  } catch (error) {
    throw new CertificateError(
      "invalid_revocation_list",
      `the revocation list does not verify: ${(error as Error).message}`,
    );
  }
  return checkList(payload, options.appId);
}

/** True when the list revokes a certificate with this identity, serial number and session. */
export function isRevoked(
  list: RevocationList,
  identity: Pick<Identity, "userId" | "peerKey">,
  serial?: string,
  sessionId?: string,
): boolean {
  const { entries } = list;
  if (entries.userIds.includes(identity.userId) || entries.peerKeys.includes(identity.peerKey)) return true;
  if (sessionId !== undefined && entries.sessionIds.includes(sessionId)) return true;
  if (serial !== undefined) {
    const wanted = normalizeSerial(serial);
    return entries.serials.some((s) => normalizeSerial(s) === wanted);
  }
  return false;
}

/**
 * Which list to keep when a peer receives one: the higher version wins, ties keep the one
 * already held, so lists passed around a mesh only ever move forward. Both must be for the
 * same app and already verified. Generic so callers can keep the JWS alongside the list.
 */
export function mergeRevocationLists<T extends RevocationList>(current: T | undefined, incoming: T): T {
  if (current === undefined) return incoming;
  if (current.appId !== incoming.appId) {
    throw new CertificateError("invalid_revocation_list", "cannot merge revocation lists of two apps");
  }
  return incoming.version > current.version ? incoming : current;
}

function checkList(value: unknown, appId: string): RevocationList {
  const fail = (why: string) =>
    new CertificateError("invalid_revocation_list", `invalid revocation list: ${why}`);
  if (typeof value !== "object" || value === null) throw fail("not an object");
  const list = value as Record<string, unknown>;
  if (list["appId"] !== appId)
    throw fail(`it is for app ${JSON.stringify(list["appId"])}, not ${JSON.stringify(appId)}`);
  const version = list["version"];
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) {
    throw fail("version must be a non-negative integer");
  }
  const issuedAt = list["issuedAt"];
  if (typeof issuedAt !== "number" || !Number.isSafeInteger(issuedAt) || issuedAt < 0) {
    throw fail("issuedAt must be seconds since the epoch");
  }
  const entries = list["entries"];
  if (typeof entries !== "object" || entries === null) throw fail("entries missing");
  const strings = (name: keyof RevocationEntries): string[] => {
    const items = (entries as Record<string, unknown>)[name];
    if (items === undefined) return [];
    if (!Array.isArray(items) || !items.every((i) => typeof i === "string"))
      throw fail(`entries.${name} must list strings`);
    return [...items];
  };
  return {
    appId,
    version,
    issuedAt,
    entries: {
      userIds: strings("userIds"),
      peerKeys: strings("peerKeys"),
      sessionIds: strings("sessionIds"),
      serials: strings("serials"),
    },
  };
}

function algorithmOf(key: CryptoKey): string {
  const algorithm = key.algorithm as EcKeyAlgorithm;
  if (algorithm.name === "ECDSA") {
    const byCurve: Record<string, string> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
    const alg = byCurve[algorithm.namedCurve];
    if (alg) return alg;
  }
  if (algorithm.name === "Ed25519") return "EdDSA";
  throw new CertificateError("unsupported_key", `cannot sign revocation lists with a ${algorithm.name} key`);
}

function isKeySet(value: JWK | JSONWebKeySet): value is JSONWebKeySet {
  return Array.isArray((value as JSONWebKeySet).keys);
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== "undefined" && value instanceof CryptoKey;
}
