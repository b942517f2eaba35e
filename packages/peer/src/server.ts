import { createServer, type Server, type TLSSocket } from "node:tls";
import { baseTlsOptions, handshakeError, toCertificateError, verifySocketPeer } from "./tls.js";
import type { AuthenticatedPeer, PeerTlsOptions } from "./types.js";

export interface PeerServerOptions extends PeerTlsOptions {
  /** Called for every peer that passed verification, before the connection listener. */
  onPeer?(peer: AuthenticatedPeer, socket: TLSSocket): void;
  /**
   * Called for every refused connection: a `CertificateError` when the peer's certificate
   * was refused (by OpenSSL or by meshauth), otherwise the TLS error. The server also emits
   * `peerRejected` with the same arguments.
   */
  onReject?(error: Error, remoteAddress: string | undefined): void;
}

export type PeerConnectionListener = (socket: TLSSocket, peer: AuthenticatedPeer) => void;

/**
 * A TLS 1.3 server that requires a client certificate, lets OpenSSL validate its chain
 * against the trust root, then verifies it with meshauth's rules. Only authenticated peers
 * reach `connectionListener`; the others are destroyed and reported as `peerRejected`.
 * Call `listen` as on any `tls.Server`.
 */
export function createPeerServer(
  options: PeerServerOptions,
  connectionListener?: PeerConnectionListener,
): Server {
  const base = baseTlsOptions(options);
  const server = createServer({
    ...base,
    requestCert: true,
    // Without a root certificate (shared key given as a bare public key) OpenSSL cannot check
    // the chain; meshauth's verifier still checks the signature against the public key.
    rejectUnauthorized: base.ca !== undefined,
  });

  const reject = (error: Error, remoteAddress: string | undefined): void => {
    options.onReject?.(error, remoteAddress);
    server.emit("peerRejected", error, remoteAddress);
  };

  server.on("secureConnection", (socket: TLSSocket) => {
    // Anything the peer sends meanwhile stays buffered: nobody reads until the listener runs.
    verifySocketPeer(socket, options).then(
      (peer) => {
        if (socket.destroyed) return;
        options.onPeer?.(peer, socket);
        connectionListener?.(socket, peer);
      },
      (error: Error) => {
        socket.destroy();
        reject(toCertificateError(error), socket.remoteAddress);
      },
    );
  });
  // Handshakes OpenSSL refused (unknown CA, expired, no certificate, TLS 1.2 ...).
  server.on("tlsClientError", (error: Error, socket: TLSSocket) => {
    reject(handshakeError(error, socket), socket.remoteAddress);
  });
  return server;
}
