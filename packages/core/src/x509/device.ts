import type { Identity } from "../identity.js";
import { buildCertificate, type RawExtension } from "./builder.js";
import { normalizeSerial, randomSerialNumber, toBytes } from "./bytes.js";
import type { CertificateAuthority } from "./ca.js";
import { verifyCertificateSigningRequest } from "./csr.js";
import { CertificateError } from "./errors.js";
import { encodeIdentityExtension } from "./identity-extension.js";
import {
  generateP256KeyPair,
  importP256PublicKey,
  keyIdentifier,
  keyThumbprint,
  publicKeyJwk,
} from "./keys.js";
import { deviceCommonName, deviceUri } from "./names.js";
import { x509 } from "./peculiar.js";

/** Backdating absorbs small clock differences between the issuer and peers. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60 * 1000;

interface IssueCommon {
  ca: CertificateAuthority;
  /** Who the device is; `identity.appId` must be the CA's app. Its `exp` ends the certificate. */
  identity: Identity;
  /** The hub session the certificate belongs to, embedded so a revoked session revokes it. */
  sessionId?: string;
  /** Default: five minutes before `now`. */
  notBefore?: Date;
  /** Default and upper bound: `identity.exp` (and never after the CA's own end). */
  notAfter?: Date;
  /** Hex; default 16 random bytes (126 random bits, positive). */
  serialNumber?: string;
  /** Clock for tests. */
  now?: Date;
}

/** Certify a key the device generated and keeps: it sends a PKCS#10 CSR. */
export interface IssueFromCsrOptions extends IssueCommon {
  csrPem: string;
  publicKey?: never;
}

/** Certify a public key the issuer already holds (e.g. from `generateDeviceKey`). */
export interface IssueForKeyOptions extends IssueCommon {
  publicKey: CryptoKey;
  csrPem?: never;
}

export type IssueDeviceCertificateOptions = IssueFromCsrOptions | IssueForKeyOptions;

export interface IssuedDeviceCertificate {
  certificatePem: string;
  certificateDer: Uint8Array;
  /** Lower-case hex, as revocation lists name it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /**
   * RFC 7638 thumbprint of the certified key. In CSR mode the hub must check that it equals
   * the access token's `cnf.jkt` before handing the certificate out.
   */
  keyThumbprint: string;
  publicKeyJwk: JsonWebKey;
  /** The identity as embedded; `exp` is the certificate's end. */
  identity: Identity;
  /** The CA certificate peers should trust (the `ca_certificates` of `/certificate`). */
  caCertificatePem: string;
}

/** A new P-256 device key pair. Extractable by default, because the issuer hands the private key out. */
export async function generateDeviceKey(options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  return generateP256KeyPair(options.extractable ?? true);
}

/**
 * Issues a device certificate signed by an app's CA: subject CN = userId (shortened to 64
 * characters), SAN URI `meshauth:device:<appId>:<userId>:<peerKey>`, the identity extension, keyUsage
 * digitalSignature, extKeyUsage serverAuth + clientAuth (a peer is both ends of mutual
 * TLS), basicConstraints CA:false, SKI and AKI. Validity ends at the identity's `exp`.
 */
export async function issueDeviceCertificate(
  options: IssueDeviceCertificateOptions,
): Promise<IssuedDeviceCertificate> {
  const { ca, identity } = options;
  if (identity.appId !== ca.appId) {
    throw new CertificateError(
      "invalid_identity",
      `the identity is for app ${JSON.stringify(identity.appId)} but the CA is app ${JSON.stringify(ca.appId)}`,
    );
  }
  if (identity.provider === "shared-key") {
    throw new CertificateError("invalid_identity", "a CA does not issue shared-key identities");
  }
  let publicKey: CryptoKey;
  if (typeof options.csrPem === "string") {
    publicKey = (await verifyCertificateSigningRequest(options.csrPem)).publicKey;
  } else if (options.publicKey) {
    publicKey = await importP256PublicKey(await publicKeyJwk(options.publicKey));
  } else {
    throw new CertificateError("malformed", "give either csrPem or publicKey");
  }
  const now = options.now ?? new Date();
  const { notBefore, notAfter } = validity(now, identity.exp, options, ca.notAfter);
  const embedded: Identity = { ...identity, exp: Math.floor(notAfter.getTime() / 1000) };
  const serialNumber = normalizeSerial(options.serialNumber ?? randomSerialNumber());

  const certificate = await buildCertificate({
    serialNumber,
    issuer: toBytes(ca.certificate.subjectName.toArrayBuffer()),
    subject: deviceSubject(identity.userId),
    notBefore,
    notAfter,
    publicKey,
    signingKey: ca.privateKey,
    extensions: await deviceExtensions(
      publicKey,
      ca.keyId,
      deviceUri(identity.appId, identity.userId, identity.peerKey),
      encodeIdentityExtension(
        options.sessionId === undefined
          ? { identity: embedded }
          : { identity: embedded, sessionId: options.sessionId },
      ),
    ),
  });
  const jwk = await publicKeyJwk(publicKey);
  return {
    certificatePem: certificate.toString("pem"),
    certificateDer: new Uint8Array(certificate.rawData),
    serialNumber,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    keyThumbprint: await keyThumbprint(jwk),
    publicKeyJwk: jwk,
    identity: embedded,
    caCertificatePem: ca.certificatePem,
  };
}

/**
 * The device certificate profile, one for CA-issued and shared-key certificates: an
 * end entity that may act as TLS client and server, named by its SAN URI, carrying
 * the identity extension.
 */
export async function deviceExtensions(
  publicKey: CryptoKey,
  authorityKeyId: string,
  uri: string,
  identityExtension: RawExtension,
): Promise<Array<x509.Extension | RawExtension>> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectKeyIdentifierExtension(await keyIdentifier(publicKey)),
    new x509.AuthorityKeyIdentifierExtension(authorityKeyId),
    new x509.SubjectAlternativeNameExtension([{ type: "url", value: uri }]),
    identityExtension,
  ];
}

/** Subject name of a device certificate (both kinds): the CN label only. */
export function deviceSubject(userId: string): x509.JsonName {
  return [{ CN: [deviceCommonName(userId)] }];
}

/** Validity window: whole seconds, ending no later than `exp` or the issuer's own end. */
export function validity(
  now: Date,
  exp: number,
  options: { notBefore?: Date; notAfter?: Date },
  issuerNotAfter?: Date,
): { notBefore: Date; notAfter: Date } {
  const ends = [exp * 1000];
  if (options.notAfter) ends.push(options.notAfter.getTime());
  if (issuerNotAfter) ends.push(issuerNotAfter.getTime());
  const notAfter = new Date(Math.floor(Math.min(...ends) / 1000) * 1000);
  const notBefore = new Date(
    Math.floor((options.notBefore?.getTime() ?? now.getTime() - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000,
  );
  if (notAfter.getTime() <= now.getTime()) {
    throw new CertificateError("invalid_identity", "the identity has already expired; nothing to certify");
  }
  if (notBefore.getTime() >= notAfter.getTime()) {
    throw new CertificateError("invalid_identity", "notBefore must be before the certificate's end");
  }
  return { notBefore, notAfter };
}
