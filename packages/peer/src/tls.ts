// TLS options shared by the server and the client, and the step that turns a finished
// handshake into an authenticated peer (or a refusal).
import { KeyObject, type X509Certificate } from "node:crypto";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import {
  type Authorizer,
  CertificateError,
  type CertificateErrorReason,
  compilePermissions,
  type TrustAnchor,
  type VerifiedPeer,
} from "@meshauth/core";
import type { AuthenticatedPeer, PeerTlsOptions, PeerTrust } from "./types.js";
import { checkPeerCertificate } from "./verified-certificates.js";

/** The handshake settings both ends use; `ca` is undefined when OpenSSL cannot check the chain. */
export interface BaseTlsOptions {
  key: string;
  cert: string;
  ca: string | undefined;
  minVersion: "TLSv1.3";
  maxVersion: "TLSv1.3";
}

export function baseTlsOptions(options: PeerTlsOptions): BaseTlsOptions {
  return {
    key: privateKeyPem(options.key),
    cert: options.certificate,
    ca: trustRootPem(options.trust),
    // meshauth peers are all recent; TLS 1.3 encrypts the certificates and drops renegotiation.
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
  };
}

function privateKeyPem(key: string | CryptoKey): string {
  if (typeof key === "string") return key;
  // Node-only, and synchronous so servers start in one call: OpenSSL needs the key
  // material, even of a key WebCrypto marks non-extractable.
  return KeyObject.from(key).export({ format: "pem", type: "pkcs8" }).toString();
}

/** The certificate OpenSSL validates the peer's chain against, if there is one. */
function trustRootPem(trust: PeerTrust): string | undefined {
  return trust.type === "ca" ? trust.certificatePem : trust.rootCertificatePem;
}

function anchor(trust: PeerTrust): TrustAnchor {
  return trust.type === "ca"
    ? { type: "ca", certificatePem: trust.certificatePem }
    : { type: "shared-key", publicKey: trust.publicKey };
}

/**
 * Hostnames mean nothing between peers: they are identified by the identity in their
 * certificate, which `verifySocketPeer` checks. The chain is still validated by OpenSSL.
 */
export const skipHostnameCheck: NonNullable<ConnectionOptions["checkServerIdentity"]> = () => undefined;

const authorizers = new WeakMap<VerifiedPeer, Authorizer>();

/**
 * Verifies the certificate the other end presented with meshauth's rules (app, identity
 * extension, revocation, expiry, signature by the anchor) after OpenSSL accepted the chain.
 * A resumed TLS 1.3 session carries no certificate on the wire: the server gets the one
 * stored in the ticket from Node, the client passes the one it verified when it got the
 * session (`presented`); either is checked here exactly as after a full handshake.
 */
export async function verifySocketPeer(
  socket: TLSSocket,
  options: PeerTlsOptions,
  presented: X509Certificate | undefined = socket.getPeerX509Certificate(),
): Promise<AuthenticatedPeer> {
  if (!presented) throw new CertificateError("malformed", "the peer presented no certificate");
  const revocations = options.revocations?.();
  const verified = await checkPeerCertificate({
    der: new Uint8Array(presented.raw),
    fingerprint: presented.fingerprint256,
    trust: anchor(options.trust),
    peerTrust: options.trust,
    appId: options.appId,
    ...(revocations ? { revocations } : {}),
    ...(options.now ? { now: options.now() } : {}),
    ...(options.clockToleranceSeconds !== undefined
      ? { clockToleranceSeconds: options.clockToleranceSeconds }
      : {}),
  });
  let authorizer = authorizers.get(verified);
  if (!authorizer) {
    authorizer = compilePermissions(verified.identity.permissions);
    authorizers.set(verified, authorizer);
  }
  return { identity: verified.identity, certificate: verified.certificate, authorizer };
}

/** OpenSSL's verification codes (Node's `error.code`) for certificates it refused. */
const OPENSSL_REASONS: Readonly<Record<string, CertificateErrorReason>> = {
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not_yet_valid",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "expired",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "untrusted_issuer",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "untrusted_issuer",
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "malformed",
  UNABLE_TO_GET_ISSUER_CERT: "untrusted_issuer",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "untrusted_issuer",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "untrusted_issuer",
  CERT_SIGNATURE_FAILURE: "untrusted_issuer",
  DEPTH_ZERO_SELF_SIGNED_CERT: "untrusted_issuer",
  SELF_SIGNED_CERT_IN_CHAIN: "untrusted_issuer",
  CERT_UNTRUSTED: "untrusted_issuer",
  CERT_REJECTED: "untrusted_issuer",
  INVALID_PURPOSE: "not_a_device_certificate",
};

/**
 * A TLS error about a certificate as a `CertificateError`, so callers match one `reason`
 * whichever layer refused; other errors (sockets, protocol) are returned unchanged.
 */
export function toCertificateError(error: Error): Error {
  if (error instanceof CertificateError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason = code === undefined ? undefined : OPENSSL_REASONS[code];
  if (reason === undefined) return error;
  return new CertificateError(reason, `TLS refused the certificate: ${error.message}`, { tlsCode: code });
}

/**
 * Why a server-side handshake failed. Node destroys a socket whose client certificate
 * OpenSSL refused without an error of its own (the server sees "socket hang up"); the
 * verification code is left in `authorizationError`.
 */
export function handshakeError(error: Error, socket: TLSSocket): Error {
  // Typed as Error, but Node stores OpenSSL's code string (e.g. "CERT_HAS_EXPIRED").
  const code: unknown = socket.authorizationError;
  if (typeof code === "string" && code !== "") {
    const reason = OPENSSL_REASONS[code] ?? "untrusted_issuer";
    return new CertificateError(reason, `TLS refused the certificate: ${code}`, { tlsCode: code });
  }
  return toCertificateError(error);
}
