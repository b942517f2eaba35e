export { reconnectDelay } from "./live-stream.js";
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
