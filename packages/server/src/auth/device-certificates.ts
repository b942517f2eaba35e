import {
  type CertificateAuthority,
  type DeviceCertificateIssuer,
  type Identity,
  loadCertificateAuthority,
  MeshauthError,
} from "@meshauth/core";
import { generateNodeDeviceKey, nodeCertificateIssuer } from "../crypto/node-issuer.js";
import type { SecretBox } from "../crypto/secrets.js";
import type { Store } from "../storage/store.js";

export interface CertificateAnswer {
  certificate: string;
  private_key?: string;
  ca_certificates: string[];
  /** Seconds since the epoch: the certificate's end (the app's certificateTtl, at most the session's end). */
  expires_at: number;
  serial_number: string;
}

/** Issues X.509 device certificates from an app's own CA. */
export class DeviceCertificates {
  // Loading a CA decrypts and imports its key; keep it per process.
  readonly #authorities = new Map<string, Promise<CertificateAuthority>>();
  // The device profile encoded once per CA, signed with node:crypto (see node-issuer.ts).
  readonly #issuers = new Map<string, Promise<DeviceCertificateIssuer>>();

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  #authority(appId: string): Promise<CertificateAuthority> {
    let ca = this.#authorities.get(appId);
    if (!ca) {
      ca = (async () => {
        const stored = await this.store.findAuthority(appId);
        if (!stored) throw new MeshauthError("not_found", `app ${appId} has no certificate authority`);
        return loadCertificateAuthority({
          certificatePem: stored.certificatePem,
          privateKeyPkcs8: this.box.open(stored.privateKeySealed, `ca:${appId}`),
        });
      })();
      ca.catch(() => this.#authorities.delete(appId));
      this.#authorities.set(appId, ca);
    }
    return ca;
  }

  #issuer(appId: string): Promise<DeviceCertificateIssuer> {
    let issuer = this.#issuers.get(appId);
    if (!issuer) {
      issuer = this.#authority(appId).then(nodeCertificateIssuer);
      issuer.catch(() => this.#issuers.delete(appId));
      this.#issuers.set(appId, issuer);
    }
    return issuer;
  }

  /**
   * CSR mode (the default): the device keeps its key; the CSR's key must be the key the
   * access token is bound to, so a stolen token cannot certify another key.
   * Generate-key mode (the seed's flow): the hub makes the key and returns it once.
   */
  async issue(
    identity: Identity,
    sessionId: string | undefined,
    request: { csr?: string; generateKey?: boolean },
  ): Promise<CertificateAnswer> {
    const ca = await this.#authority(identity.appId);
    const issuer = await this.#issuer(identity.appId);
    const session = sessionId ? { sessionId } : {};
    const app = await this.store.findApp(identity.appId);
    if (!app) throw new MeshauthError("not_found", `no app with ID ${JSON.stringify(identity.appId)}`);
    const now = this.now();
    // Short certificates, renewed by the SDK while online: app.certificateTtl is how long a
    // device keeps working offline, and how long a revoked session stays on the list.
    const notAfter = Math.min(identity.exp, now + app.certificateTtl);
    const timing = { now: new Date(now * 1000), notAfter: new Date(notAfter * 1000) };
    // Noted before signing, so a session that ends meanwhile still lists this certificate.
    if (sessionId && !(await this.store.sessions.noteCertificate(sessionId, notAfter)))
      throw new MeshauthError("invalid_token", "the session of this access token has ended; log in again", {
        meshauth_error: "session_revoked",
      });
    if (request.csr !== undefined) {
      // One parse of the CSR: its key goes straight into the certificate.
      const csr = await issuer.verifyCsr(request.csr);
      if (csr.keyThumbprint !== identity.peerKey) {
        throw new MeshauthError(
          "invalid_request",
          "csr: its public key is not the key the access token is bound to (cnf.jkt)",
        );
      }
      const issued = await issuer.issue({
        identity,
        publicKeySpki: csr.publicKeySpki,
        ...session,
        ...timing,
      });
      return this.#answer(issued, ca);
    }
    if (request.generateKey === true) {
      const key = generateNodeDeviceKey();
      const issued = await issuer.issue({
        identity,
        publicKeySpki: key.publicKeySpki,
        ...session,
        ...timing,
      });
      return { ...this.#answer(issued, ca), private_key: key.privateKeyPem };
    }
    throw new MeshauthError("invalid_request", 'send {"csr": "<PKCS#10 PEM>"} or {"generate_key": true}');
  }

  #answer(
    issued: { certificatePem: string; notAfter: Date; serialNumber: string },
    ca: CertificateAuthority,
  ): CertificateAnswer {
    return {
      certificate: issued.certificatePem,
      ca_certificates: [ca.certificatePem],
      expires_at: Math.floor(issued.notAfter.getTime() / 1000),
      serial_number: issued.serialNumber,
    };
  }
}
