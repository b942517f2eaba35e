// Checks a peer's device certificate, as presented in mutual TLS or any other channel,
// against a trust anchor configured locally: an app's CA certificate or a shared key.
import type { Identity } from "../identity.js";
import { bytesEqual, normalizeSerial, toBytes, toHex } from "./bytes.js";
import { certificateAuthorityAppId } from "./ca.js";
import { CertificateError } from "./errors.js";
import { readIdentityExtension } from "./identity-extension.js";
import { importP256PublicKey, isP256, keyThumbprint, P256, publicKeyJwk } from "./keys.js";
import { commonName, DEVICE_URI_PREFIX, deviceCommonName, parseDeviceUri, sanUris } from "./names.js";
import { x509 } from "./peculiar.js";
import { type CertificateInput, parseCertificatePem } from "./pem.js";
import { readRawNames } from "./raw-certificate.js";
import { isRevoked, type RevocationList } from "./revocation.js";
import { sharedKeyIssuerName } from "./shared-key.js";

/** What a peer's certificate must chain to. */
export type TrustAnchor =
  /** An app's CA certificate (what `/certificate` returns as `ca_certificates`). */
  | { type: "ca"; certificatePem: CertificateInput }
  /** The public key of the app's shared key (offline mode). */
  | { type: "shared-key"; publicKey: CryptoKey | JsonWebKey };

export interface VerifyPeerCertificateOptions {
  /**
   * The peer's certificates, leaf first, PEM or DER (e.g. `[socket.getPeerX509Certificate().raw]`).
   * Only the leaf is checked: meshauth's profile has no intermediates, the anchor is local.
   */
  chain: readonly CertificateInput[];
  trust: TrustAnchor;
  /** The app this peer must belong to. */
  appId: string;
  /** A verified revocation list of the same app. */
  revocations?: RevocationList;
  /** Clock for tests and for devices that know better than their system clock. */
  now?: Date;
  /** Slack for clock differences between peers, in seconds. Default 60. */
  clockToleranceSeconds?: number;
}

/** The certificate a peer presented, in plain fields. */
export interface PeerCertificateInfo {
  /** Lower-case hex. */
  serialNumber: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 7638 thumbprint of the certified (TLS) key. */
  keyThumbprint: string;
  publicKeyJwk: JsonWebKey;
  /** SHA-256 of the certificate's DER, hex. */
  fingerprintSha256: string;
  trust: TrustAnchor["type"];
  /** The hub session it was issued under, when it says. */
  sessionId?: string;
}

export interface VerifiedPeer {
  /** Who the peer is and what it may do; `exp` is no later than the certificate's end. */
  identity: Identity;
  certificate: PeerCertificateInfo;
}

/**
 * Verifies a peer's device certificate and returns its identity, or throws
 * `CertificateError` whose `reason` is one of: `malformed`, `not_a_device_certificate`,
 * `untrusted_issuer`, `expired`, `not_yet_valid`, `bad_identity`, `wrong_app`, `revoked`
 * (and `invalid_trust_anchor` / `invalid_revocation_list` when the local configuration is
 * wrong). Checks run in that order: structure, signature, time, identity, app, revocation.
 */
export async function verifyPeerCertificate(options: VerifyPeerCertificateOptions): Promise<VerifiedPeer> {
  const { chain, trust, appId } = options;
  const leafInput = chain[0];
  if (leafInput === undefined) throw new CertificateError("malformed", "the peer presented no certificate");
  const leaf = parseCertificatePem(leafInput);
  const der = toBytes(leaf.rawData);
  checkDeviceProfile(leaf);

  await checkIssuer(leaf, der, trust, appId);

  const now = options.now ?? new Date();
  const tolerance = (options.clockToleranceSeconds ?? 60) * 1000;
  if (now.getTime() + tolerance < leaf.notBefore.getTime()) {
    throw new CertificateError(
      "not_yet_valid",
      `the certificate is valid from ${leaf.notBefore.toISOString()}`,
    );
  }
  if (now.getTime() - tolerance > leaf.notAfter.getTime()) {
    throw new CertificateError("expired", `the certificate expired at ${leaf.notAfter.toISOString()}`);
  }

  const { identity, sessionId } = readIdentityExtension(leaf);
  const certifiedKey = await leaf.publicKey.export(P256, ["verify"], globalThis.crypto);
  const jwk = await publicKeyJwk(certifiedKey);
  const thumbprint = await keyThumbprint(jwk);
  checkIdentityAgainstCertificate(leaf, identity, trust, thumbprint);
  if (identity.exp * 1000 < now.getTime() - tolerance) {
    throw new CertificateError("expired", "the identity in the certificate has expired");
  }
  if (identity.appId !== appId) {
    throw new CertificateError(
      "wrong_app",
      `the peer belongs to app ${JSON.stringify(identity.appId)}, not ${JSON.stringify(appId)}`,
    );
  }

  const serialNumber = normalizeSerial(leaf.serialNumber);
  if (options.revocations) {
    if (options.revocations.appId !== appId) {
      throw new CertificateError("invalid_revocation_list", "the revocation list is for another app");
    }
    if (isRevoked(options.revocations, identity, serialNumber, sessionId)) {
      throw new CertificateError("revoked", "the certificate, its device, user or session has been revoked");
    }
  }

  const fingerprint = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", der));
  const certificate: PeerCertificateInfo = {
    serialNumber,
    subject: leaf.subject,
    issuer: leaf.issuer,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    keyThumbprint: thumbprint,
    publicKeyJwk: jwk,
    fingerprintSha256: toHex(fingerprint),
    trust: trust.type,
  };
  if (sessionId !== undefined) certificate.sessionId = sessionId;
  const exp = Math.min(identity.exp, Math.floor(leaf.notAfter.getTime() / 1000));
  return { identity: { ...identity, exp }, certificate };
}

/** A device certificate: an end entity with a P-256 key, usable for both ends of TLS. */
function checkDeviceProfile(leaf: x509.X509Certificate): void {
  const refuse = (why: string) => new CertificateError("not_a_device_certificate", why);
  if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca)
    throw refuse("the certificate is a CA certificate");
  const keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
  if (keyUsage) {
    if (!(keyUsage.usages & x509.KeyUsageFlags.digitalSignature))
      throw refuse("keyUsage lacks digitalSignature");
    if (keyUsage.usages & x509.KeyUsageFlags.keyCertSign)
      throw refuse("keyUsage allows signing certificates");
  }
  const extendedKeyUsage = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  const usages = new Set(extendedKeyUsage?.usages.map(String) ?? []);
  if (!usages.has(x509.ExtendedKeyUsage.clientAuth) || !usages.has(x509.ExtendedKeyUsage.serverAuth)) {
    throw refuse("extKeyUsage must allow both TLS client and server authentication");
  }
  if (!isP256(leaf.publicKey)) throw refuse("the certified key is not a P-256 EC key");
}

/** The leaf names the anchor as its issuer (byte for byte) and the anchor's key signed it. */
async function checkIssuer(
  leaf: x509.X509Certificate,
  der: Uint8Array,
  trust: TrustAnchor,
  appId: string,
): Promise<void> {
  let anchorKey: CryptoKey;
  let anchorName: Uint8Array;
  if (trust.type === "ca") {
    let anchor: x509.X509Certificate;
    try {
      anchor = parseCertificatePem(trust.certificatePem);
    } catch {
      throw new CertificateError("invalid_trust_anchor", "the trusted CA certificate is not a certificate");
    }
    const anchorApp = certificateAuthorityAppId(anchor);
    if (anchorApp === null || !isP256(anchor.publicKey)) {
      throw new CertificateError("invalid_trust_anchor", "the trusted certificate is not a meshauth app CA");
    }
    if (anchorApp !== appId) {
      throw new CertificateError(
        "invalid_trust_anchor",
        `the trusted CA is app ${JSON.stringify(anchorApp)}, not ${JSON.stringify(appId)}`,
      );
    }
    anchorKey = await anchor.publicKey.export(P256, ["verify"], globalThis.crypto);
    anchorName = readRawNames(anchor.rawData).subject;
  } else {
    try {
      anchorKey = await importP256PublicKey(trust.publicKey);
    } catch {
      throw new CertificateError("invalid_trust_anchor", "the shared key's public key is not a P-256 key");
    }
    anchorName = sharedKeyIssuerName(await keyThumbprint(anchorKey));
  }
  let issuer: Uint8Array;
  try {
    issuer = readRawNames(der).issuer;
  } catch {
    throw new CertificateError("malformed", "the certificate's names are not valid DER");
  }
  if (!bytesEqual(toBytes(issuer), toBytes(anchorName))) {
    throw new CertificateError(
      "untrusted_issuer",
      `the certificate was issued by ${leaf.issuer}, which is not trusted here`,
    );
  }
  const algorithm = leaf.signatureAlgorithm;
  let signed = false;
  if (algorithm.name === "ECDSA" && algorithm.hash.name === "SHA-256") {
    try {
      signed = await leaf.verify({ publicKey: anchorKey, signatureOnly: true }, globalThis.crypto);
    } catch {
      signed = false;
    }
  }
  if (!signed)
    throw new CertificateError("untrusted_issuer", "the certificate's signature is not by the trusted key");
}

/** The identity extension agrees with the certificate's names and with the kind of anchor. */
function checkIdentityAgainstCertificate(
  leaf: x509.X509Certificate,
  identity: Identity,
  trust: TrustAnchor,
  thumbprint: string,
): void {
  const bad = (why: string) => new CertificateError("bad_identity", why);
  const uris = sanUris(leaf).filter((u) => u.startsWith(DEVICE_URI_PREFIX));
  if (uris.length !== 1) throw bad(`the certificate must name exactly one ${DEVICE_URI_PREFIX} SAN URI`);
  const named = parseDeviceUri(uris[0] ?? "");
  if (
    !named ||
    named.appId !== identity.appId ||
    named.userId !== identity.userId ||
    named.peerKey !== identity.peerKey
  ) {
    throw bad("the SAN URI does not match the identity extension");
  }
  if (commonName(leaf.subjectName) !== deviceCommonName(identity.userId))
    throw bad("the subject CN does not match the identity's userId");
  if (trust.type === "shared-key") {
    if (identity.provider !== "shared-key")
      throw bad("a shared-key certificate must carry a shared-key identity");
    // Self-issued certificates name the key they certify; nothing else vouches for peerKey.
    if (identity.peerKey !== thumbprint) throw bad("the identity's peerKey is not the certified key");
  } else if (identity.provider === "shared-key") {
    throw bad("a CA does not issue shared-key identities");
  }
}
