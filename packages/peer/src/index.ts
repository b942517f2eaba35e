// Node mutual TLS for meshauth peers: a TLS 1.3 server and client that authenticate each
// other with device certificates and hand over the verified identity and its permissions.
export {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameErrorCode,
  type MessageChannel,
  type MessageChannelOptions,
  messageChannel,
} from "./channel.js";
export {
  type ConnectPeerOptions,
  connectPeer,
  type PeerConnection,
  PeerSessionCache,
  type StoredPeerSession,
} from "./client.js";
export { createPeerServer, type PeerConnectionListener, type PeerServerOptions } from "./server.js";
export { type SignalingServer, type SignalingServerOptions, startSignalingServer } from "./signaling.js";
export { toCertificateError } from "./tls.js";
export type { AuthenticatedPeer, PeerTlsOptions, PeerTrust } from "./types.js";
