/**
 * Signed revisions: every document state a device writes carries its author's signature
 * by the device key, so any peer can check, offline and however many relays it passed
 * through, who wrote it and whether they were allowed to.
 *
 * The signature travels inside the document, in the reserved field `meshauthSig`
 * (declare it with `signedSchema`). It signs a canonical form (RFC 8785 JSON) of:
 * app, collection, `_id`, the SHA-256 of the content (every field but `meshauthSig` and
 * RxDB's `_meta`/`_rev`/`_attachments`; `_deleted` included, so deletes are signed too),
 * the revision it replaces, its generation, the author's peer key and the time. With it
 * travels the author's device certificate, which chains to the app's CA or shared key.
 *
 * Isomorphic: WebCrypto only.
 */
import {
  CertificateError,
  canonicalJson,
  type Identity,
  isRevoked,
  keyThumbprint,
  type PeerCertificateInfo,
  pemToDer,
  type RevocationList,
  type TrustAnchor,
  verifyPeerCertificate,
} from "@meshauth/core";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import type { DocumentId, SyncDocument } from "./wire.js";

/** The document field that holds a revision's signature. */
export const SIGNATURE_FIELD = "meshauthSig";
/** Version of the signed form. */
export const SIGNATURE_VERSION = 1;
/** Most bytes of one signature field's JSON (a certificate is about 1 KiB). */
export const MAX_SIGNATURE_BYTES = 8 * 1024;
/** How far in the future a revision's time may be, against the verifier's clock. */
export const DEFAULT_FUTURE_TOLERANCE_MS = 5 * 60 * 1000;

const ES256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };

/** What a receiver needs to check the author offline. */
export interface AuthorCredential {
  /** The author's device certificate, DER, base64url (hub-issued or shared-key). */
  readonly cert: string;
}

/** The `meshauthSig` field of a signed document. */
export interface RevisionSignature {
  readonly v: 1;
  /** Generation: 1 for the first revision of an `_id`, the replaced revision's `n` + 1 after. */
  readonly n: number;
  /** The revision it replaces (its `revisionId`), `null` for the first. */
  readonly prev: string | null;
  /** When it was signed, milliseconds since the epoch (the author's clock). */
  readonly at: number;
  /** The author's peer key (RFC 7638 thumbprint of the signing key). */
  readonly by: string;
  /** SHA-256 of the canonical content, base64url. */
  readonly digest: string;
  readonly cred: AuthorCredential;
  /** ECDSA P-256 / SHA-256 signature (IEEE P1363, r || s) over the signed form, base64url. */
  readonly sig: string;
}

/** Why a revision was refused. Stable codes. */
export type RevisionRefusalCode =
  /** No `meshauthSig`, or one of the wrong shape or size. */
  | "unsigned"
  /** The content is not what was signed (altered by someone on the way). */
  | "altered"
  /** Signed for another app, collection or `_id`. */
  | "wrong_document"
  /** The signature does not verify with the author's certified key. */
  | "bad_signature"
  /** The author's certificate does not chain to this app's trust anchor, or was not valid then. */
  | "untrusted_author"
  /** The author may not write this `_id` (the same rules as everywhere: enforce). */
  | "author_cannot_write"
  /** The author was revoked when it signed. */
  | "author_revoked"
  /** Signed further in the future than clocks can differ. */
  | "from_the_future"
  /** Older than (or the same generation and lower than) the revision it would replace: a replay. */
  | "stale_revision";

export class RevisionError extends Error {
  override readonly name = "RevisionError";
  constructor(
    readonly code: RevisionRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** A revision that verified, with who wrote it. */
export interface VerifiedRevision {
  readonly signature: RevisionSignature;
  /** `revisionId(signature)`. */
  readonly id: string;
  readonly author: Identity;
  readonly certificate: PeerCertificateInfo;
}

// ---------------------------------------------------------------------------------------
// Bytes

const encoder = new TextEncoder();

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  try {
    const binary = atob(padded);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

// Synchronous SHA-256: WebCrypto's digest is asynchronous and, for inputs this small, costs
// more in scheduling than in hashing (every revision hashes twice).
async function sha256(text: string): Promise<string> {
  return toBase64Url(nobleSha256(encoder.encode(text)));
}

// ---------------------------------------------------------------------------------------
// Canonical forms

/** The fields a signature covers: all but the signature and RxDB's local bookkeeping. */
export function signedContent(document: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document)) {
    if (key === SIGNATURE_FIELD || key === "_meta" || key === "_rev" || key === "_attachments") continue;
    content[key] = value;
  }
  content["_deleted"] = document["_deleted"] === true;
  return content;
}

/** SHA-256 of a document's canonical content, base64url. */
export function contentDigest(document: Readonly<Record<string, unknown>>): Promise<string> {
  return sha256(canonicalJson(signedContent(document)));
}

interface SignedFormInput {
  app: string;
  collection: string;
  id: DocumentId;
  signature: Omit<RevisionSignature, "sig" | "cred">;
}

function signedForm({ app, collection, id, signature }: SignedFormInput): string {
  const { v, n, prev, at, by, digest } = signature;
  return canonicalJson({ typ: "meshauth-revision", v, app, collection, id, digest, prev, n, by, at });
}

/** A revision's identifier: SHA-256 of its signature (which covers its signed form). */
export function revisionId(signature: Pick<RevisionSignature, "sig">): Promise<string> {
  return sha256(signature.sig);
}

/**
 * The order every peer agrees on between two revisions of one `_id`: higher generation
 * first, then later time, then the larger signature. Positive when `a` wins. Conflict
 * handlers and replay checks both use it, so peers converge on the same winner.
 */
export function compareRevisions(a: RevisionSignature | null, b: RevisionSignature | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a.n !== b.n) return a.n - b.n;
  if (a.at !== b.at) return a.at - b.at;
  return a.sig < b.sig ? -1 : a.sig > b.sig ? 1 : 0;
}

/** The signature of a document, if it has one of the right shape (not verified). */
export function readSignature(
  document: Readonly<Record<string, unknown>> | null | undefined,
): RevisionSignature | null {
  const value = document?.[SIGNATURE_FIELD];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const s = value as Record<string, unknown>;
  const cred = s["cred"] as Record<string, unknown> | undefined;
  const ok =
    s["v"] === SIGNATURE_VERSION &&
    Number.isSafeInteger(s["n"]) &&
    (s["n"] as number) >= 1 &&
    (s["prev"] === null || typeof s["prev"] === "string") &&
    Number.isSafeInteger(s["at"]) &&
    (s["at"] as number) >= 0 &&
    typeof s["by"] === "string" &&
    typeof s["digest"] === "string" &&
    typeof s["sig"] === "string" &&
    typeof cred === "object" &&
    cred !== null &&
    typeof cred["cert"] === "string";
  if (!ok) return null;
  if (canonicalJson(value).length > MAX_SIGNATURE_BYTES) return null;
  return value as unknown as RevisionSignature;
}

// ---------------------------------------------------------------------------------------
// Signing

export interface RevisionSignerOptions {
  appId: string;
  /** This device's P-256 key pair (a non-extractable private key is fine). */
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** This device's certificate (PEM or DER), issued by the hub or under the shared key. */
  certificate: string | Uint8Array;
  /** Clock, milliseconds since the epoch. */
  now?: () => number;
}

export interface SignRevisionInput {
  collection: string;
  /** The document's `_id` as permission rules see it. */
  id: DocumentId;
  /** The new state (its own `meshauthSig`, if any, is ignored and replaced). */
  document: Readonly<Record<string, unknown>>;
  /** The state it replaces (whose signature gives `prev` and `n`), or null for a new document. */
  previous?: Readonly<Record<string, unknown>> | null;
}

export interface RevisionSigner {
  readonly appId: string;
  /** This device's peer key. */
  readonly peerKey: string;
  /** The document with a fresh `meshauthSig`. */
  sign<D extends Readonly<Record<string, unknown>>>(input: SignRevisionInput & { document: D }): Promise<D>;
}

export async function createRevisionSigner(options: RevisionSignerOptions): Promise<RevisionSigner> {
  const der = typeof options.certificate === "string" ? pemToDer(options.certificate) : options.certificate;
  const cred: AuthorCredential = { cert: toBase64Url(der) };
  const peerKey = await keyThumbprint(options.publicKey);
  const now = options.now ?? Date.now;
  return {
    appId: options.appId,
    peerKey,
    async sign(input) {
      const previous = readSignature(input.previous ?? null);
      let at = now();
      // Never earlier than the revision it replaces, so the order follows causality.
      if (previous && previous.at > at) at = previous.at;
      const base = {
        v: SIGNATURE_VERSION as 1,
        n: previous ? previous.n + 1 : 1,
        prev: previous ? await revisionId(previous) : null,
        at,
        by: peerKey,
        digest: await contentDigest(input.document),
      };
      const form = signedForm({
        app: options.appId,
        collection: input.collection,
        id: input.id,
        signature: base,
      });
      const sig = new Uint8Array(
        await globalThis.crypto.subtle.sign(ES256, options.privateKey, encoder.encode(form)),
      );
      const signature: RevisionSignature = { ...base, cred, sig: toBase64Url(sig) };
      return { ...input.document, [SIGNATURE_FIELD]: signature };
    },
  };
}

// ---------------------------------------------------------------------------------------
// Verifying

export interface RevisionVerifierOptions {
  appId: string;
  /** What authors' certificates must chain to: the app's CA certificate or its shared key. */
  trust: TrustAnchor;
  /** The newest verified revocation list this peer holds, read at every verification. */
  revocations?: () => RevocationList | undefined;
  /**
   * May this author write this document? Pass the enforcement module's answer
   * (`@meshauth/sync` enforce), so peers decide exactly as the hub does.
   */
  canWrite(author: Identity, collection: string, document: SyncDocument): boolean;
  /** Clock, milliseconds since the epoch. */
  now?: () => number;
  futureToleranceMs?: number;
  /** Slack for certificate validity, seconds. Default 60. */
  clockToleranceSeconds?: number;
}

export interface VerifyRevisionInput {
  collection: string;
  id: DocumentId;
  document: SyncDocument;
  /**
   * The state it replaces at the receiver (the assumed master state, or the local copy),
   * if any: a revision that does not win against it is a replay or stale.
   */
  replaces?: Readonly<Record<string, unknown>> | null;
}

export interface RevisionVerifier {
  /** Resolves with the verified revision or rejects with a `RevisionError`. */
  verify(input: VerifyRevisionInput): Promise<VerifiedRevision>;
}

interface CachedAuthor {
  identity: Identity;
  certificate: PeerCertificateInfo;
  key: CryptoKey;
}

const AUTHOR_CACHE_SIZE = 1024;

export function createRevisionVerifier(options: RevisionVerifierOptions): RevisionVerifier {
  const now = options.now ?? Date.now;
  const futureTolerance = options.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS;
  // Certificates verified once (chain, profile, identity); validity at each revision's time is
  // checked against the cached bounds. Keyed by the DER, so a different certificate is new work.
  const authors = new Map<string, Promise<CachedAuthor>>();

  async function author(cert: string, at: number): Promise<CachedAuthor> {
    let entry = authors.get(cert);
    if (!entry) {
      entry = loadAuthor(cert);
      if (authors.size >= AUTHOR_CACHE_SIZE) authors.delete(authors.keys().next().value as string);
      authors.set(cert, entry);
      entry.catch(() => authors.delete(cert));
    }
    const loaded = await entry;
    const tolerance = (options.clockToleranceSeconds ?? 60) * 1000;
    const { notBefore, notAfter } = loaded.certificate;
    const end = Math.min(notAfter.getTime(), loaded.identity.exp * 1000);
    if (at + tolerance < notBefore.getTime() || at - tolerance > end) {
      throw new RevisionError("untrusted_author", "the author's certificate was not valid when it signed");
    }
    return loaded;
  }

  async function loadAuthor(cert: string): Promise<CachedAuthor> {
    const der = fromBase64Url(cert);
    if (!der) throw new RevisionError("untrusted_author", "the author's certificate is not base64url");
    let verified: Awaited<ReturnType<typeof verifyPeerCertificate>>;
    try {
      // Validity is checked per revision, at its signing time (above); here only the chain.
      verified = await verifyPeerCertificate({
        chain: [der],
        trust: options.trust,
        appId: options.appId,
        now: new Date(0),
        clockToleranceSeconds: Number.MAX_SAFE_INTEGER / 1000,
      });
    } catch (error) {
      const reason = error instanceof CertificateError ? error.reason : "malformed";
      throw new RevisionError("untrusted_author", `the author's certificate is refused (${reason})`);
    }
    const key = await globalThis.crypto.subtle.importKey(
      "jwk",
      verified.certificate.publicKeyJwk,
      P256,
      false,
      ["verify"],
    );
    return { identity: verified.identity, certificate: verified.certificate, key };
  }

  return {
    async verify(input) {
      const signature = readSignature(input.document);
      if (!signature) throw new RevisionError("unsigned", `the document carries no valid ${SIGNATURE_FIELD}`);
      if ((await contentDigest(input.document)) !== signature.digest) {
        throw new RevisionError("altered", "the document's content is not what its author signed");
      }
      if (signature.at > now() + futureTolerance) {
        throw new RevisionError("from_the_future", "the revision is signed in the future");
      }
      const { identity, certificate, key } = await author(signature.cred.cert, signature.at);
      if (certificate.keyThumbprint !== signature.by) {
        throw new RevisionError("bad_signature", "the revision names another author than its certificate");
      }
      const sig = fromBase64Url(signature.sig);
      const form = signedForm({ app: options.appId, collection: input.collection, id: input.id, signature });
      const valid =
        sig !== null &&
        sig.length === 64 &&
        (await globalThis.crypto.subtle.verify(ES256, key, sig, encoder.encode(form)));
      if (!valid) {
        throw new RevisionError(
          "bad_signature",
          "the signature does not verify for this app, collection and _id with the author's key",
        );
      }
      const list = options.revocations?.();
      // Lists carry no per-entry time: a revision signed before the list was issued may
      // predate the revocation and is kept; later ones are refused (see docs/mesh.md).
      if (
        list &&
        signature.at >= list.issuedAt * 1000 &&
        isRevoked(list, identity, certificate.serialNumber, certificate.sessionId)
      ) {
        throw new RevisionError("author_revoked", "the author was revoked when it signed this revision");
      }
      if (!options.canWrite(identity, input.collection, input.document)) {
        throw new RevisionError("author_cannot_write", "the author may not write this _id");
      }
      const replaced = readSignature(input.replaces ?? null);
      // The same revision again (an echo through another peer) is authentic and changes nothing.
      if (replaced && replaced.sig !== signature.sig && compareRevisions(signature, replaced) <= 0) {
        throw new RevisionError("stale_revision", "the revision is older than the one it would replace");
      }
      return { signature, id: await revisionId(signature), author: identity, certificate };
    },
  };
}

/** Verifies one revision and returns an error code instead of throwing (for filters). */
export async function checkRevision(
  verifier: RevisionVerifier,
  input: VerifyRevisionInput,
): Promise<
  { ok: true; revision: VerifiedRevision } | { ok: false; code: RevisionRefusalCode; message: string }
> {
  try {
    return { ok: true, revision: await verifier.verify(input) };
  } catch (error) {
    if (error instanceof RevisionError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

/**
 * The JSON schema property RxDB collections declare for the signature: add it under
 * `properties` (`signedSchema` does), so RxDB stores and replicates it like any field.
 */
export const SIGNATURE_SCHEMA_PROPERTY = Object.freeze({ type: "object", additionalProperties: true });

/** A copy of an RxDB schema whose documents carry `meshauthSig`. */
export function signedSchema<S extends { properties: Record<string, unknown> }>(schema: S): S {
  return { ...schema, properties: { ...schema.properties, [SIGNATURE_FIELD]: SIGNATURE_SCHEMA_PROPERTY } };
}
