// Browser peers over WebRTC: an open RTCDataChannel becomes a PeerChannel for replicatePeer
// once both ends have proven who they are with the existing token plus channel proof
// (`createPeerProof` / `verifyPeerToken`): each side sends a random nonce, the other
// answers with its hub access token and a proof over that nonce signed by the token's key.
import {
  createPeerProof,
  type Identity,
  MeshauthError,
  type VerifyPeerTokenOptions,
  verifyPeerToken,
} from "@meshauth/core";
import type { PeerChannel, RemotePeer } from "./peer.js";
import type { RevocationStore } from "./peer-revocations.js";

/** Largest message reassembled from a data channel. */
export const DEFAULT_MAX_DATA_CHANNEL_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Data channel messages are cut into chunks this size (below every browser's SCTP limit). */
const CHUNK = 16 * 1024;

export interface AuthenticateDataChannelOptions {
  /** An open (or opening) data channel to the other peer. */
  channel: RTCDataChannel;
  /** True on the side that created the offer. */
  initiator: boolean;
  appId: string;
  /** This device's access token and the key it is bound to (its DPoP key). */
  accessToken: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The hub's public keys (its JWKS, cached while online). */
  hubKeys: VerifyPeerTokenOptions["keys"];
  /** The hub's issuer, when known. */
  issuer?: string;
  /** Revoked users, devices and sessions are refused. */
  revocations?: RevocationStore;
  /** Milliseconds to finish the exchange. Default 10 000. */
  timeoutMs?: number;
  maxMessageBytes?: number;
}

function randomNonce(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Authenticates the other end of a data channel and returns the channel for
 * `replicatePeer`. Rejects with a `MeshauthError` (`invalid_token`, `details.reason`) when
 * the other side's token or proof is refused, or when the exchange times out.
 */
export function authenticateDataChannel(options: AuthenticateDataChannelOptions): Promise<PeerChannel> {
  const { channel } = options;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_DATA_CHANNEL_MESSAGE_BYTES;
  const nonce = randomNonce();
  const messageListeners: ((message: string) => void)[] = [];
  const errorListeners: ((code: "frame_too_large" | "malformed_frame", message: string) => void)[] = [];
  const closeListeners: (() => void)[] = [];
  const early: string[] = [];
  let remote: RemotePeer | undefined;
  let partial = "";
  let closed = false;

  const sendWhole = (text: string): void => {
    if (channel.readyState !== "open") return;
    if (text.length <= CHUNK) {
      channel.send(`m${text}`);
      return;
    }
    for (let i = 0; i < text.length; i += CHUNK) {
      channel.send(`${i + CHUNK >= text.length ? "e" : "c"}${text.slice(i, i + CHUNK)}`);
    }
  };

  const protocolError = (code: "frame_too_large" | "malformed_frame", message: string): void => {
    for (const listener of errorListeners) listener(code, message);
    channel.close();
  };

  return new Promise<PeerChannel>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        fail(
          new MeshauthError("invalid_token", "the peer did not authenticate in time", { reason: "timeout" }),
        ),
      options.timeoutMs ?? 10_000,
    );
    let settled = false;
    function fail(error: Error): void {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        reject(error);
      }
      channel.close();
    }

    const peerChannel = (): PeerChannel => ({
      remote: remote as RemotePeer,
      initiator: options.initiator,
      send: sendWhole,
      onMessage(listener) {
        messageListeners.push(listener);
        for (const text of early.splice(0)) listener(text);
      },
      onProtocolError(listener) {
        errorListeners.push(listener);
      },
      onClose(listener) {
        if (closed) listener();
        else closeListeners.push(listener);
      },
      close() {
        channel.close();
      },
    });

    async function onAuthMessage(text: string): Promise<void> {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new MeshauthError("invalid_token", "the peer's greeting is not JSON", { reason: "proof" });
      }
      if (
        message["t"] === "auth-nonce" &&
        typeof message["nonce"] === "string" &&
        message["nonce"].length <= 256
      ) {
        const proof = await createPeerProof({
          privateKey: options.privateKey,
          publicKey: options.publicKey,
          channelNonce: message["nonce"],
          accessToken: options.accessToken,
        });
        sendWhole(JSON.stringify({ t: "auth", accessToken: options.accessToken, proof }));
        return;
      }
      if (
        message["t"] === "auth" &&
        typeof message["accessToken"] === "string" &&
        typeof message["proof"] === "string"
      ) {
        const list = options.revocations?.current();
        const identity: Identity = await verifyPeerToken({
          accessToken: message["accessToken"],
          proof: message["proof"],
          channelNonce: nonce,
          keys: options.hubKeys,
          appId: options.appId,
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(list ? { revocations: list } : {}),
        });
        remote = { identity };
        clearTimeout(timer);
        settled = true;
        resolve(peerChannel());
        return;
      }
      throw new MeshauthError("invalid_token", "the peer sent something else than its token", {
        reason: "proof",
      });
    }

    let authQueue: Promise<void> = Promise.resolve();
    const deliver = (text: string): void => {
      if (remote === undefined) {
        authQueue = authQueue
          .then(() => (remote === undefined ? onAuthMessage(text) : deliverAfter(text)))
          .catch(fail);
        return;
      }
      deliverAfter(text);
    };
    const deliverAfter = (text: string): void => {
      if (messageListeners.length === 0) early.push(text);
      for (const listener of messageListeners) listener(text);
    };

    channel.addEventListener("message", (event: MessageEvent) => {
      if (typeof event.data !== "string" || event.data.length === 0) {
        protocolError("malformed_frame", "a data channel message is not text");
        return;
      }
      const kind = event.data[0];
      const body = event.data.slice(1);
      if (partial.length + body.length > maxMessageBytes) {
        protocolError("frame_too_large", `a message over ${maxMessageBytes} bytes`);
        return;
      }
      if (kind === "c") partial += body;
      else if (kind === "e" || kind === "m") {
        const text = kind === "e" ? partial + body : body;
        partial = "";
        deliver(text);
      } else protocolError("malformed_frame", "a data channel message of an unknown kind");
    });
    channel.addEventListener("close", () => {
      closed = true;
      if (!settled)
        fail(
          new MeshauthError("invalid_token", "the channel closed during authentication", {
            reason: "closed",
          }),
        );
      for (const listener of closeListeners.splice(0)) listener();
    });
    const start = (): void => sendWhole(JSON.stringify({ t: "auth-nonce", nonce }));
    if (channel.readyState === "open") start();
    else channel.addEventListener("open", start, { once: true });
  });
}
