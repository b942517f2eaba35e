// Message framing over an authenticated TLS socket: each message is a 4-byte big-endian
// length and that many bytes of UTF-8. Frames over the limit, or bytes that are not UTF-8,
// end the channel with a reason instead of being buffered or guessed at.
import type { TLSSocket } from "node:tls";
import type { AuthenticatedPeer } from "./types.js";

/** Largest frame either side sends or accepts by default: 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Why the framing itself failed. */
export type FrameErrorCode = "frame_too_large" | "malformed_frame";

export interface MessageChannelOptions {
  maxFrameBytes?: number;
}

/**
 * A channel of whole text messages to one verified peer. `@meshauth/rxdb`'s `replicatePeer`
 * runs over it; a WebRTC data channel provides the same shape in browsers.
 */
export interface MessageChannel {
  /** The other end, verified during the TLS handshake. */
  readonly remote: AuthenticatedPeer;
  /** True on the side that opened the connection (`connectPeer`). */
  readonly initiator: boolean;
  readonly maxMessageBytes: number;
  send(message: string): void;
  onMessage(listener: (message: string) => void): void;
  /** The framing broke (the channel is closed right after). */
  onProtocolError(listener: (code: FrameErrorCode, message: string) => void): void;
  onClose(listener: () => void): void;
  /** Ends the connection after what was sent so far. */
  close(): void;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Frames messages over a socket from `createPeerServer`'s listener or `connectPeer`. */
export function messageChannel(
  socket: TLSSocket,
  remote: AuthenticatedPeer,
  options: MessageChannelOptions & { initiator: boolean },
): MessageChannel {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const messageListeners: ((message: string) => void)[] = [];
  const errorListeners: ((code: FrameErrorCode, message: string) => void)[] = [];
  const closeListeners: (() => void)[] = [];
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  // Messages that arrive before anyone listens (the peer may speak first) wait here.
  const early: string[] = [];
  let failed = false;
  let closed = false;

  const fail = (code: FrameErrorCode, message: string): void => {
    if (failed) return;
    failed = true;
    for (const listener of errorListeners) listener(code, message);
    socket.destroy();
  };

  socket.on("data", (chunk: Buffer) => {
    if (failed) return;
    buffered.push(chunk);
    bufferedBytes += chunk.length;
    while (bufferedBytes >= 4 && !failed) {
      const head = buffered.length === 1 ? (buffered[0] as Buffer) : Buffer.concat(buffered);
      buffered = [head];
      const length = head.readUInt32BE(0);
      if (length > maxFrameBytes) {
        fail("frame_too_large", `a frame of ${length} bytes is over the limit of ${maxFrameBytes}`);
        return;
      }
      if (bufferedBytes < 4 + length) return;
      const body = head.subarray(4, 4 + length);
      const rest = head.subarray(4 + length);
      buffered = rest.length > 0 ? [rest] : [];
      bufferedBytes = rest.length;
      let text: string;
      try {
        text = decoder.decode(body);
      } catch {
        fail("malformed_frame", "a frame is not valid UTF-8");
        return;
      }
      if (messageListeners.length === 0) early.push(text);
      for (const listener of messageListeners) listener(text);
    }
  });
  socket.on("error", () => {
    // Reported through close; a peer vanishing is not this side's error.
  });
  socket.on("close", () => {
    if (closed) return;
    closed = true;
    for (const listener of closeListeners) listener();
  });

  return {
    remote,
    initiator: options.initiator,
    maxMessageBytes: maxFrameBytes,
    send(message) {
      if (socket.destroyed) return;
      const body = encoder.encode(message);
      if (body.length > maxFrameBytes)
        throw new RangeError(`message of ${body.length} bytes is over the frame limit`);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length, 0);
      socket.write(Buffer.concat([head, body]));
    },
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
      if (!socket.destroyed) socket.end();
      // A peer that never answers the close must not keep the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  };
}
