import type { X509Certificate } from "node:crypto";
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import {
  type BaseTlsOptions,
  baseTlsOptions,
  skipHostnameCheck,
  toCertificateError,
  verifySocketPeer,
} from "./tls.js";
import type { AuthenticatedPeer, PeerTlsOptions } from "./types.js";

/** A resumable session and the server certificate verified on the connection that got it. */
export interface StoredPeerSession {
  session: Buffer;
  certificate: X509Certificate;
}

/**
 * TLS sessions from earlier connections, per server address, so the next connection can
 * resume (TLS 1.3 session tickets): no certificates are exchanged or signed again, but
 * both ends still run meshauth's checks (expiry, revocation, app) on the certificate the
 * session was made with. Only sessions with a verified server are kept. Keep one cache
 * per device key; bounded (oldest out).
 */
export class PeerSessionCache {
  readonly #sessions = new Map<string, StoredPeerSession>();
  constructor(readonly capacity = 256) {}
  get(address: string): StoredPeerSession | undefined {
    return this.#sessions.get(address);
  }
  set(address: string, session: StoredPeerSession): void {
    this.#sessions.delete(address);
    if (this.#sessions.size >= this.capacity)
      this.#sessions.delete(this.#sessions.keys().next().value as string);
    this.#sessions.set(address, session);
  }
  delete(address: string): void {
    this.#sessions.delete(address);
  }
}

export interface ConnectPeerOptions extends PeerTlsOptions {
  host: string;
  port: number;
  /** SNI name to send; not checked against the certificate (peers are not DNS names). */
  servername?: string;
  /** Where to find a session to resume and to keep the server's new tickets. */
  sessions?: PeerSessionCache;
}

export interface PeerConnection {
  socket: TLSSocket;
  /** The server, verified. */
  peer: AuthenticatedPeer;
  /** Whether the TLS session was resumed from `sessions`. */
  resumed: boolean;
}

/** Secure contexts per key, certificate and trust root: parsing them costs as much as a handshake. */
const contexts = new Map<string, SecureContext>();
const CONTEXTS = 32;

function secureContextFor(base: BaseTlsOptions): SecureContext {
  const id = `${base.key}\n${base.cert}\n${base.ca ?? ""}`;
  let context = contexts.get(id);
  if (!context) {
    context = createSecureContext({
      key: base.key,
      cert: base.cert,
      ...(base.ca === undefined ? {} : { ca: base.ca }),
      minVersion: base.minVersion,
      maxVersion: base.maxVersion,
    });
    if (contexts.size >= CONTEXTS) contexts.delete(contexts.keys().next().value as string);
    contexts.set(id, context);
  }
  return context;
}

/**
 * Opens a TLS 1.3 connection with this device's certificate and verifies the server's
 * certificate: chain by OpenSSL, then meshauth's rules. Rejects with a `CertificateError`
 * when the server's certificate is refused, and with the socket's error otherwise.
 *
 * In TLS 1.3 the server checks the client's certificate after the client has finished the
 * handshake, so a server that refuses this device closes the socket after this resolves
 * (or the promise rejects, when the refusal arrives first). Listen for `error`/`close`.
 */
export function connectPeer(options: ConnectPeerOptions): Promise<PeerConnection> {
  const base = baseTlsOptions(options);
  const { sessions } = options;
  const address = `${options.host}:${options.port}/${options.servername ?? ""}`;
  const stored = sessions?.get(address);
  return new Promise((resolve, reject) => {
    const socket = connect({
      secureContext: secureContextFor(base),
      minVersion: base.minVersion,
      maxVersion: base.maxVersion,
      host: options.host,
      port: options.port,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      ...(stored ? { session: stored.session } : {}),
      rejectUnauthorized: base.ca !== undefined,
      checkServerIdentity: skipHostnameCheck,
    });
    // Tickets are kept once the server is verified, with the certificate they vouch for.
    let verified: X509Certificate | undefined;
    let ticket: Buffer | undefined;
    if (sessions)
      socket.on("session", (session: Buffer) => {
        ticket = session;
        if (verified) sessions.set(address, { session, certificate: verified });
      });
    let settled = false;
    const fail = (error: Error): void => {
      socket.destroy();
      // A session whose server was refused (or that failed) is not offered again.
      sessions?.delete(address);
      if (settled) return;
      settled = true;
      reject(toCertificateError(error));
    };
    const closedEarly = (): void => fail(new Error("the connection closed before the peer was verified"));
    socket.once("error", fail);
    socket.once("close", closedEarly);
    socket.once("secureConnect", () => {
      const resumed = socket.isSessionReused();
      // A resumed session sends no certificate: the one it was made with is checked again.
      const presented = resumed ? stored?.certificate : socket.getPeerX509Certificate();
      verifySocketPeer(socket, options, presented).then((peer) => {
        if (settled) return;
        settled = true;
        verified = presented;
        if (sessions && ticket && presented)
          sessions.set(address, { session: ticket, certificate: presented });
        // From here on the caller owns the socket and its errors.
        socket.off("error", fail);
        socket.off("close", closedEarly);
        resolve({ socket, peer, resumed });
      }, fail);
    });
  });
}
