// The messages of a peer link, one JSON object per frame, and how they are checked before
// anything acts on them. One side serves its collection (RxDB's master-side handler), the
// other replicates against it (replicateRxCollection); both exchange revocation lists first.
import type { PushRow, SyncDocument } from "@meshauth/sync";

export const PEER_PROTOCOL_VERSION = 1;

/** Why a link ended. Sent to the other side in a `close` message when this side ends it. */
export type LinkCloseCode =
  /** A frame that is not a message of this protocol (bad JSON, unknown type, wrong field). */
  | "malformed_frame"
  /** A frame over the size limit. */
  | "frame_too_large"
  /** One document over `SYNC_LIMITS.maxDocumentBytes`. */
  | "document_too_large"
  /** A document without valid ID fields, or whose primary key does not match them. */
  | "invalid_document"
  /** A push that changes `_id`. */
  | "id_changed"
  /** More rows or documents in one message than the limits allow. */
  | "batch_too_large"
  /** More requests in flight (or stream messages queued) than the limit. */
  | "request_flood"
  /** Messages out of order (before the greeting, an unknown request id, ...). */
  | "protocol_error"
  /** The other side replicates another collection or protocol version. */
  | "wrong_collection"
  /** The revocation list the other side sent does not verify. */
  | "invalid_revocation_list"
  /** The other side is revoked by the newest list. */
  | "peer_revoked"
  /** The other side's identity (its certificate or token) has expired. */
  | "peer_expired"
  /** No greeting in time. */
  | "timeout"
  /** `close()` on either side, or the connection went away. */
  | "closed";

export interface Hello {
  readonly t: "hello";
  readonly v: number;
  readonly collection: string;
  /** The newest signed revocation list this side holds. */
  readonly revocations: string | null;
}
export interface PullRequestMessage {
  readonly t: "req";
  readonly id: number;
  readonly m: "pull";
  readonly checkpoint: unknown;
  readonly batchSize: number;
}
export interface PushRequestMessage {
  readonly t: "req";
  readonly id: number;
  readonly m: "push";
  readonly rows: readonly PushRow[];
}
export interface PeerRefusalWire {
  readonly primary: string;
  readonly code: string;
  readonly message: string;
}
export interface PullResponse {
  readonly t: "res";
  readonly id: number;
  readonly documents: readonly SyncDocument[];
  readonly checkpoint: unknown;
}
export interface PushResponse {
  readonly t: "res";
  readonly id: number;
  readonly conflicts: readonly SyncDocument[];
  readonly refused: readonly PeerRefusalWire[];
}
export interface ErrorResponse {
  readonly t: "res";
  readonly id: number;
  readonly error: { readonly code: string; readonly message: string };
}
export interface ChangesMessage {
  readonly t: "changes";
  readonly documents: readonly SyncDocument[];
  readonly checkpoint: unknown;
}
export interface ResyncMessage {
  readonly t: "resync";
}
export interface RevocationsMessage {
  readonly t: "revocations";
  readonly jws: string;
}
export interface CloseMessage {
  readonly t: "close";
  readonly code: LinkCloseCode;
  readonly message: string;
}

export type PeerMessage =
  | Hello
  | PullRequestMessage
  | PushRequestMessage
  | PullResponse
  | PushResponse
  | ErrorResponse
  | ChangesMessage
  | ResyncMessage
  | RevocationsMessage
  | CloseMessage;

export class LinkError extends Error {
  override readonly name = "LinkError";
  constructor(
    readonly code: LinkCloseCode,
    message: string,
  ) {
    super(message);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const malformed = (why: string): LinkError => new LinkError("malformed_frame", `malformed message: ${why}`);

/** Most bytes of a checkpoint's JSON: RxDB's are `{ id, lwt }`. */
const MAX_CHECKPOINT_BYTES = 1024;

function checkCheckpoint(value: unknown): void {
  if (value === null || value === undefined) return;
  if (!isRecord(value)) throw malformed("a checkpoint is an object or null");
  if (JSON.stringify(value).length > MAX_CHECKPOINT_BYTES) throw malformed("the checkpoint is too large");
  for (const v of Object.values(value)) {
    if (typeof v !== "string" && typeof v !== "number")
      throw malformed("checkpoint members are strings or numbers");
  }
}

function checkDocuments(value: unknown, max: number): SyncDocument[] {
  if (!Array.isArray(value)) throw malformed("documents must be a list");
  if (value.length > max)
    throw new LinkError("batch_too_large", `${value.length} documents in one message, at most ${max}`);
  for (const doc of value) {
    if (!isRecord(doc) || typeof doc["_deleted"] !== "boolean")
      throw malformed("a document is an object with _deleted");
  }
  return value as SyncDocument[];
}

function checkId(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw malformed("id must be a non-negative integer");
  return value as number;
}

export interface ParseLimits {
  readonly maxBatch: number;
}

/** Parses one frame into a message, or throws a `LinkError` saying what is wrong. */
export function parseMessage(text: string, limits: ParseLimits): PeerMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
  if (!isRecord(value)) throw malformed("not an object");
  switch (value["t"]) {
    case "hello":
      if (
        typeof value["v"] !== "number" ||
        typeof value["collection"] !== "string" ||
        (value["revocations"] !== null && typeof value["revocations"] !== "string")
      )
        throw malformed("hello needs v, collection and revocations");
      return value as unknown as Hello;
    case "req": {
      checkId(value["id"]);
      if (value["m"] === "pull") {
        checkCheckpoint(value["checkpoint"]);
        const batchSize = value["batchSize"];
        if (
          !Number.isSafeInteger(batchSize) ||
          (batchSize as number) < 1 ||
          (batchSize as number) > limits.maxBatch
        )
          throw malformed(`batchSize must be 1..${limits.maxBatch}`);
        return value as unknown as PullRequestMessage;
      }
      if (value["m"] === "push") {
        const rows = value["rows"];
        if (!Array.isArray(rows)) throw malformed("push needs rows");
        if (rows.length > limits.maxBatch)
          throw new LinkError(
            "batch_too_large",
            `${rows.length} rows in one push, at most ${limits.maxBatch}`,
          );
        return value as unknown as PushRequestMessage;
      }
      throw malformed("unknown request");
    }
    case "res": {
      checkId(value["id"]);
      if (isRecord(value["error"])) {
        const error = value["error"];
        if (typeof error["code"] !== "string" || typeof error["message"] !== "string")
          throw malformed("an error has code and message");
        return value as unknown as ErrorResponse;
      }
      if ("documents" in value) {
        checkDocuments(value["documents"], limits.maxBatch * 2);
        checkCheckpoint(value["checkpoint"]);
        return value as unknown as PullResponse;
      }
      checkDocuments(value["conflicts"], limits.maxBatch);
      const refused = value["refused"];
      if (
        !Array.isArray(refused) ||
        !refused.every(
          (r) => isRecord(r) && typeof r["code"] === "string" && typeof r["message"] === "string",
        )
      )
        throw malformed("refused must list {primary, code, message}");
      return value as unknown as PushResponse;
    }
    case "changes":
      checkDocuments(value["documents"], limits.maxBatch * 2);
      checkCheckpoint(value["checkpoint"]);
      return value as unknown as ChangesMessage;
    case "resync":
      return { t: "resync" };
    case "revocations":
      if (typeof value["jws"] !== "string") throw malformed("revocations needs jws");
      return value as unknown as RevocationsMessage;
    case "close":
      if (typeof value["code"] !== "string" || typeof value["message"] !== "string")
        throw malformed("close needs code and message");
      return value as unknown as CloseMessage;
    default:
      throw malformed("unknown message type");
  }
}
