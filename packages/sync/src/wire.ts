/**
 * The sync wire protocol between an RxDB replica and the hub (and, later, between peers).
 * Both ends compile against this module; nothing here runs I/O.
 *
 * Endpoints (the app is the access token's audience, so paths carry no app ID):
 *   POST {hub}/sync/{collection}/pull    PullRequest   -> PullAnswer
 *   POST {hub}/sync/{collection}/push    PushRequest   -> PushAnswer
 *   GET  {hub}/sync/{collection}/stream  -> text/event-stream of StreamFrame
 * Every request sends `Authorization: DPoP <access token>` and a `DPoP` proof with `ath`
 * (htu = hub issuer + path, without query); a `use_dpop_nonce` answer is retried with the
 * nonce from the `DPoP-Nonce` header, as everywhere on the hub. JSON bodies; errors are the
 * hub's usual `{ error, error_description }` with a stable code (see SyncErrorCode).
 *
 * The stream is read with fetch (EventSource cannot send DPoP headers). Each event is one
 * `data: <JSON>` line followed by a blank line; lines starting with `:` are heartbeats.
 */

import type { RevisionRefusalCode } from "./signing.js";

/** RxDB document data as it travels: the fields of the schema plus `_deleted`. */
export interface SyncDocument {
  readonly [field: string]: unknown;
  readonly _deleted: boolean;
}

/**
 * A document's `_id` as permission rules see it: the value of the collection's only ID
 * field (a string), or an object of all its ID fields when there are several.
 */
export type DocumentId = string | { readonly [field: string]: string };

/**
 * Where a pull resumes. Opaque to clients: keep the last one received and send it back.
 * The hub assigns it; it is monotonic across hub instances of one database.
 */
export interface Checkpoint {
  readonly seq: string;
}

/** A collection of an app, as declared on the hub. */
export interface CollectionSpec {
  /** Lowercase letters, digits and `_`, starting with a letter (RxDB's own rule, plus `_`). */
  readonly name: string;
  /**
   * The document fields that form its immutable `_id`, in order. One field: `_id` is its
   * string value (RxDB `primaryKey: 'id'`). Several: `_id` is the object of those fields
   * (an RxDB composite primary key over the same fields). Values must be strings.
   */
  readonly idFields: readonly string[];
}

export interface PullRequest {
  /** `null` for the first pull. */
  readonly checkpoint: Checkpoint | null;
  /** Most documents to return, 1..MAX_PULL_LIMIT. */
  readonly limit: number;
}

export interface PullAnswer {
  /** Readable documents changed after the checkpoint, in checkpoint order. Empty: in sync. */
  readonly documents: readonly SyncDocument[];
  /** Where the next pull resumes (the input checkpoint when nothing was returned). */
  readonly checkpoint: Checkpoint | null;
}

/** One row of RxDB's push: the state the client built on, and its new state. */
export interface PushRow {
  /** `null` when the client believes the document is new. */
  readonly assumedMasterState: SyncDocument | null;
  readonly newDocumentState: SyncDocument;
}

export interface PushRequest {
  /** 1..MAX_PUSH_ROWS rows; at most one row per `_id`. */
  readonly rows: readonly PushRow[];
}

/** Why the hub did not store one pushed document (policy; not a malformed request). */
export type RefusalCode =
  /** The identity may not write this `_id` (creating, changing and deleting alike). */
  | "write_denied"
  /**
   * The assumed master state is stale and the current one is a state the identity may not
   * read, so it cannot be returned as a conflict.
   */
  | "unreadable_conflict"
  /** A signed document whose signature does not verify (see signing.ts and docs/mesh.md). */
  | RevisionRefusalCode;

export interface Refusal {
  readonly id: DocumentId;
  readonly code: RefusalCode;
  readonly message: string;
}

export interface PushAnswer {
  /**
   * RxDB conflicts: for each row whose assumed master state differs from the hub's, the
   * hub's current state (the client's conflict handler resolves it and pushes again).
   */
  readonly conflicts: readonly SyncDocument[];
  /** Rows not stored for a policy reason. Other rows of the batch were stored. */
  readonly refused: readonly Refusal[];
}

/** A live change, in the shape RxDB's `pull.stream$` expects. */
export interface StreamChanges {
  readonly documents: readonly SyncDocument[];
  readonly checkpoint: Checkpoint;
}

/** The last frame before the hub closes a stream. */
export interface StreamEnd {
  readonly error: StreamEndCode;
  readonly message: string;
}

/**
 * Why a stream ended:
 * - `session_revoked`: logout, revocation, refresh-token reuse or an admin ended the session;
 * - `user_disabled`: the user was disabled;
 * - `rules_changed`: the session now carries other permissions: reconnect with the new token;
 * - `invalid_token`: the access token expired: refresh, then reconnect;
 * - `unavailable`: the hub is shutting down: reconnect (to another hub) with backoff.
 */
export type StreamEndCode =
  | "session_revoked"
  | "user_disabled"
  | "rules_changed"
  | "invalid_token"
  | "unavailable";

/**
 * `"RESYNC"` is sent first on every (re)connect and whenever the hub may have missed
 * changes: the client then pulls from its checkpoint (RxDB's own meaning).
 */
export type StreamFrame = StreamChanges | "RESYNC" | StreamEnd;

/** Stable error codes of sync requests (also in core's ErrorCode). */
export type SyncErrorCode =
  | "unknown_collection" // 404: the app has no collection of that name
  | "invalid_checkpoint" // 400: not a checkpoint this hub issued
  | "invalid_document" // 400: a row or document is malformed (missing or non-string ID field, ...)
  | "id_changed" // 400: newDocumentState's `_id` differs from assumedMasterState's
  | "document_too_large" // 413: one document over MAX_DOCUMENT_BYTES
  | "batch_too_large"; // 413: more than MAX_PUSH_ROWS rows

/** Limits both ends apply (the hub refuses more). */
export const SYNC_LIMITS = Object.freeze({
  /** UTF-8 bytes of one document's JSON. */
  maxDocumentBytes: 64 * 1024,
  /** Rows per push. */
  maxPushRows: 100,
  /** Documents per pull answer. */
  maxPullLimit: 1000,
  /** UTF-8 bytes of one ID field's value. */
  maxIdValueBytes: 512,
  /** ID fields per collection. */
  maxIdFields: 8,
  /** Collections per app. */
  maxCollections: 100,
  /** Documents per stream frame. */
  maxStreamDocuments: 100,
  /** Heartbeat interval of a stream, in milliseconds (a comment line). */
  streamHeartbeatMs: 15_000,
});

/** A collection name the hub accepts. */
export const COLLECTION_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** An ID field name the hub accepts (a top-level document field; `_` prefixes are RxDB's). */
export const ID_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** The path of a sync endpoint under the hub, e.g. `/sync/todos/pull`. */
export function syncPath(collection: string, endpoint: "pull" | "push" | "stream"): string {
  return `/sync/${encodeURIComponent(collection)}/${endpoint}`;
}

/** Parses one event-stream `data:` payload into a frame (for clients); throws on junk. */
export function parseStreamFrame(data: string): StreamFrame {
  const frame: unknown = JSON.parse(data);
  if (frame === "RESYNC") return frame;
  if (typeof frame === "object" && frame !== null && !Array.isArray(frame)) {
    const f = frame as Record<string, unknown>;
    if (typeof f.error === "string" && typeof f.message === "string") return frame as StreamEnd;
    if (Array.isArray(f.documents) && typeof f.checkpoint === "object" && f.checkpoint !== null)
      return frame as StreamChanges;
  }
  throw new SyntaxError("not a sync stream frame");
}
