import type { Authorizer, Identity, PeerCertificateInfo, RevocationList } from "@meshauth/core";

/**
 * What this peer trusts. `ca`: the app's CA certificate (online modes). `shared-key`: the
 * public key of the app's shared key, plus optionally the self-signed root from
 * `createSharedKeyRootCertificate` so OpenSSL can check the chain in the handshake too.
 */
export type PeerTrust =
  | { type: "ca"; certificatePem: string }
  | { type: "shared-key"; publicKey: CryptoKey | JsonWebKey; rootCertificatePem?: string };

/** Everything both ends of a connection need. */
export interface PeerTlsOptions {
  /** This device's P-256 private key: a PKCS#8 PEM, or a CryptoKey (Node must be able to export it). */
  key: string | CryptoKey;
  /** This device's certificate, PEM. */
  certificate: string;
  trust: PeerTrust;
  /** The app both peers must belong to. */
  appId: string;
  /**
   * The current verified revocation list, read at every handshake so a newer list applies
   * to the next connection without restarting anything.
   */
  revocations?: () => RevocationList | undefined;
  /** Clock for tests and for devices that know better than their system clock. */
  now?: () => Date;
  /** Slack for clock differences between peers, in seconds. Default 60 (as in core). */
  clockToleranceSeconds?: number;
}

/** The other end of an authenticated connection. */
export interface AuthenticatedPeer {
  /** Who the peer is and what it may do, from its verified certificate. */
  identity: Identity;
  certificate: PeerCertificateInfo;
  /** `identity.permissions`, compiled: `authorizer.canRead(collection, doc)`. */
  authorizer: Authorizer;
}
