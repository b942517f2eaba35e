// What a certificate's bytes alone decide (its signature by the trust anchor, the device
// profile, the identity extension, its key) is decided once per certificate and kept
// under its SHA-256 fingerprint; what can change between two handshakes (the clock and
// the revocation list) is checked at every one, full or resumed.
import {
  CertificateError,
  isRevoked,
  type RevocationList,
  type VerifiedPeer,
  verifyPeerCertificate,
} from "@meshauth/core";
import type { PeerTrust } from "./types.js";

/** Certificates remembered per process (oldest out): a peer meets a few hundred devices at most. */
const CAPACITY = 1024;

interface Entry {
  verified: VerifiedPeer;
  /** The identity as certified (before `exp` is capped by notAfter), for revocation checks. */
  serialNumber: string;
  sessionId: string | undefined;
}

const entries = new Map<string, Entry>();
const keyIds = new WeakMap<object, number>();
let nextKeyId = 0;

/** What the same DER is verified against: the app and the trust anchor. */
function scope(trust: PeerTrust, appId: string): string {
  if (trust.type === "ca") return `${appId}\nca\n${trust.certificatePem}`;
  const key = trust.publicKey as object;
  if ("kty" in key) return `${appId}\nkey\n${JSON.stringify(key)}`;
  let id = keyIds.get(key);
  if (id === undefined) {
    id = nextKeyId++;
    keyIds.set(key, id);
  }
  return `${appId}\ncryptokey\n${id}`;
}

export interface CheckOptions {
  der: Uint8Array;
  /** The certificate's SHA-256 fingerprint as Node reports it (hex pairs with colons). */
  fingerprint: string;
  trust: Parameters<typeof verifyPeerCertificate>[0]["trust"];
  peerTrust: PeerTrust;
  appId: string;
  revocations?: RevocationList;
  now?: Date;
  clockToleranceSeconds?: number;
}

/** `verifyPeerCertificate`'s answer for these bytes, with the clock and revocations checked now. */
export async function checkPeerCertificate(o: CheckOptions): Promise<VerifiedPeer> {
  const key = `${scope(o.peerTrust, o.appId)}\n${o.fingerprint}`;
  const known = entries.get(key);
  if (!known) {
    const verified = await verifyPeerCertificate({
      chain: [o.der],
      trust: o.trust,
      appId: o.appId,
      ...(o.revocations ? { revocations: o.revocations } : {}),
      ...(o.now ? { now: o.now } : {}),
      ...(o.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: o.clockToleranceSeconds } : {}),
    });
    // Only certificates that passed every check are remembered.
    if (entries.size >= CAPACITY) entries.delete(entries.keys().next().value as string);
    entries.set(key, {
      verified,
      serialNumber: verified.certificate.serialNumber,
      sessionId: verified.certificate.sessionId,
    });
    return verified;
  }
  recheck(known, o);
  return known.verified;
}

/** The checks of verifyPeerCertificate whose answer depends on more than the certificate. */
function recheck(e: Entry, o: CheckOptions): void {
  const { identity, certificate } = e.verified;
  const now = (o.now ?? new Date()).getTime();
  const tolerance = (o.clockToleranceSeconds ?? 60) * 1000;
  if (now + tolerance < certificate.notBefore.getTime()) {
    throw new CertificateError(
      "not_yet_valid",
      `the certificate is valid from ${certificate.notBefore.toISOString()}`,
    );
  }
  if (now - tolerance > certificate.notAfter.getTime()) {
    throw new CertificateError("expired", `the certificate expired at ${certificate.notAfter.toISOString()}`);
  }
  // `identity.exp` is the identity's end capped by notAfter.
  if (identity.exp * 1000 < now - tolerance) {
    throw new CertificateError("expired", "the identity in the certificate has expired");
  }
  if (o.revocations) {
    if (o.revocations.appId !== o.appId) {
      throw new CertificateError("invalid_revocation_list", "the revocation list is for another app");
    }
    if (isRevoked(o.revocations, identity, e.serialNumber, e.sessionId)) {
      throw new CertificateError("revoked", "the certificate, its device, user or session has been revoked");
    }
  }
}
