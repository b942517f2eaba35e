import { connect, type TLSSocket } from "node:tls";
import { baseTlsOptions, skipHostnameCheck, toCertificateError, verifySocketPeer } from "./tls.js";
import type { AuthenticatedPeer, PeerTlsOptions } from "./types.js";

export interface ConnectPeerOptions extends PeerTlsOptions {
  host: string;
  port: number;
  /** SNI name to send; not checked against the certificate (peers are not DNS names). */
  servername?: string;
}

export interface PeerConnection {
  socket: TLSSocket;
  /** The server, verified. */
  peer: AuthenticatedPeer;
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
  return new Promise((resolve, reject) => {
    const socket = connect({
      ...base,
      host: options.host,
      port: options.port,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      rejectUnauthorized: base.ca !== undefined,
      checkServerIdentity: skipHostnameCheck,
    });
    let settled = false;
    const fail = (error: Error): void => {
      socket.destroy();
      if (settled) return;
      settled = true;
      reject(toCertificateError(error));
    };
    const closedEarly = (): void => fail(new Error("the connection closed before the peer was verified"));
    socket.once("error", fail);
    socket.once("close", closedEarly);
    socket.once("secureConnect", () => {
      verifySocketPeer(socket, options).then((peer) => {
        if (settled) return;
        settled = true;
        // From here on the caller owns the socket and its errors.
        socket.off("error", fail);
        socket.off("close", closedEarly);
        resolve({ socket, peer });
      }, fail);
    });
  });
}
