export { reconnectDelay } from "./live-stream.js";
export {
  DEFAULT_PEER_LIMITS,
  type LinkClosed,
  type PeerChannel,
  type PeerLimits,
  type PeerRefusal,
  type PeerReplication,
  type RemotePeer,
  type ReplicatePeerOptions,
  replicatePeer,
} from "./peer.js";
export { type LinkCloseCode, LinkError, PEER_PROTOCOL_VERSION } from "./peer-protocol.js";
export {
  createRevocationStore,
  MAX_REVOCATION_LIST_BYTES,
  type RevocationStore,
  type RevocationStoreOptions,
} from "./peer-revocations.js";
export { collectionSpecOf, signedConflictHandler, signLocalWrites } from "./peer-signing.js";
export {
  type AuthenticateDataChannelOptions,
  authenticateDataChannel,
  DEFAULT_MAX_DATA_CHANNEL_MESSAGE_BYTES,
} from "./peer-webrtc.js";
export {
  type EvictedDocument,
  type MeshauthCheckpoint,
  type MeshauthReplicationExtras,
  type MeshauthReplicationState,
  type MeshauthSyncStatus,
  type RefusedWrite,
  type ReplicateMeshauthOptions,
  replicateMeshauth,
} from "./replicate.js";
