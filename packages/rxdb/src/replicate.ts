import type { CurrentUser, LoggedInUser, MeshauthClient, MeshauthClientError } from "@meshauth/client";
import {
  type Checkpoint,
  type CollectionSpec,
  type DocumentId,
  type PushRow,
  type RefusalCode,
  SYNC_LIMITS,
  type SyncDocument,
  type SyncErrorCode,
} from "@meshauth/sync";
import type {
  RxCollection,
  RxReplicationPullStreamItem,
  RxReplicationWriteToMasterRow,
  WithDeleted,
} from "rxdb";
import { type RxReplicationState, replicateRxCollection } from "rxdb/plugins/replication";
import { BehaviorSubject, type Observable, Subject } from "rxjs";
import { SyncEndpoints } from "./hub-requests.js";
import { LiveStream, toClientError } from "./live-stream.js";
import { documentIdOf, readCheck } from "./readable.js";

/**
 * Where the downstream resumes: the hub's opaque checkpoint and a digest of the rules it
 * was pulled under. When the rules differ (another login, new permissions), the next pull
 * starts over, so documents that just became readable arrive even if they are old.
 */
export interface MeshauthCheckpoint {
  readonly hub: Checkpoint | null;
  readonly rules: string;
}

export interface ReplicateMeshauthOptions<RxDocType> {
  /** The SDK client whose session signs every request. */
  client: MeshauthClient;
  /** The local RxDB collection. Its primary key fields must be the hub collection's ID fields, in order. */
  collection: RxCollection<RxDocType>;
  /** The collection's name on the hub (`meshauth collection add APP <name> --id ...`). */
  name: string;
  /** Keep replicating with the hub's live stream (default), or sync once and stop. */
  live?: boolean;
  /** Documents per pull and rows per push (push at most SYNC_LIMITS.maxPushRows). Default 100. */
  batchSize?: number;
  /** Milliseconds before a failed pull or push is retried (RxDB's `retryTime`). Default 5000. */
  retryTime?: number;
  /** Replicate only in the leading tab of a multi-tab database (RxDB's default). Default true. */
  waitForLeadership?: boolean;
  /**
   * When the identity's permissions change, remove local documents it may no longer read
   * (without replicating the removal). Default true.
   */
  evictUnreadable?: boolean;
  /** RxDB's replication identifier (keys the stored checkpoints). Default: hub, app and collection. */
  replicationIdentifier?: string;
}

/** A local write the hub did not store; the local copy has been put back to the hub's state. */
export interface RefusedWrite<RxDocType> {
  /** The document's RxDB primary key. */
  readonly primary: string;
  /** Its `_id` as the rules see it. */
  readonly id: DocumentId;
  /** `write_denied`, `unreadable_conflict`, or a malformed-document code such as `document_too_large`. */
  readonly code: RefusalCode | SyncErrorCode;
  readonly message: string;
  /** The state that was refused. */
  readonly document: WithDeleted<RxDocType>;
}

/** A local document removed because the identity may no longer read it. */
export interface EvictedDocument {
  readonly primary: string;
  readonly id: DocumentId;
  /** `rules_changed`: new permissions; `not_readable`: written here, but not readable by this identity. */
  readonly reason: "rules_changed" | "not_readable";
}

/**
 * - `logged-out`: nobody is logged in; nothing is sent (local writes queue until a login).
 * - `connecting` / `live` / `offline`: the live stream's state (offline: retrying with backoff).
 * - `stopped`: not live (one-shot replication, or canceled).
 */
export type MeshauthSyncStatus = "logged-out" | "connecting" | "live" | "offline" | "stopped";

export interface MeshauthReplicationExtras<RxDocType> {
  /** Local writes the hub refused, with their stable codes. */
  readonly refused$: Observable<RefusedWrite<RxDocType>>;
  /** Local documents removed because the identity may no longer read them. */
  readonly evicted$: Observable<EvictedDocument>;
  /** Every failed hub request or stream connection, as the SDK's typed error (`code`, `status`). */
  readonly syncError$: Observable<MeshauthClientError>;
  /** See MeshauthSyncStatus; emits the current value on subscribe. */
  readonly status$: Observable<MeshauthSyncStatus>;
  readonly status: MeshauthSyncStatus;
}

/** RxDB's replication state (`awaitInSync()`, `error$`, `cancel()`, ...) plus meshauth's own streams. */
export type MeshauthReplicationState<RxDocType> = RxReplicationState<RxDocType, MeshauthCheckpoint> &
  MeshauthReplicationExtras<RxDocType>;

/** Codes for which a batch is retried one row at a time, and a single row is refused. */
const ROW_ERRORS = new Set<string>([
  "invalid_document",
  "document_too_large",
  "id_changed",
  "batch_too_large",
  "payload_too_large",
]);

interface Correction<RxDocType> {
  readonly doc: WithDeleted<RxDocType>;
  readonly evicted?: EvictedDocument;
}

/**
 * Replicates an RxDB collection with the hub, through the SDK's session: pull, push and the
 * live stream, each DPoP-bound. It runs while someone is logged in, pauses at logout and
 * resumes at the next login. The hub enforces the rules; this side follows them: a refused
 * write is rolled back locally (and reported on `refused$`), and documents the identity may
 * no longer read are removed locally without the removal being pushed (`evicted$`).
 */
export function replicateMeshauth<RxDocType>(
  options: ReplicateMeshauthOptions<RxDocType>,
): MeshauthReplicationState<RxDocType> {
  const { client, name } = options;
  // RxDB's own option types take collections with any ORM methods.
  const collection = options.collection as RxCollection<RxDocType, object, object, object>;
  const live = options.live ?? true;
  const evict = options.evictUnreadable ?? true;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, SYNC_LIMITS.maxPullLimit));
  const spec = collectionSpecOf(name, collection);
  const primaryPath = collection.schema.primaryPath as string;
  const primaryOf = (doc: object) =>
    collection.schema.getPrimaryOfDocumentData(doc as Partial<RxDocType>) as string;
  const endpoints = new SyncEndpoints(client, name);

  const refused$ = new Subject<RefusedWrite<RxDocType>>();
  const evicted$ = new Subject<EvictedDocument>();
  const syncError$ = new Subject<MeshauthClientError>();
  const status$ = new BehaviorSubject<MeshauthSyncStatus>("logged-out");
  const stream$ = new Subject<RxReplicationPullStreamItem<RxDocType, MeshauthCheckpoint>>();
  /** Local states the hub's view requires (rollbacks, evictions), delivered as pulled documents. */
  const corrections = new Map<string, Correction<RxDocType>>();
  let latestCheckpoint: MeshauthCheckpoint | undefined;
  const rulesDigests = new WeakMap<object, Promise<string>>();
  let cancel = () => {};
  const report = (e: unknown): MeshauthClientError => {
    const error = toClientError(e);
    syncError$.next(error);
    return error;
  };

  const rulesOf = (user: LoggedInUser): Promise<string> => {
    let digest = rulesDigests.get(user.permissions);
    if (!digest) {
      digest = collection.database.hashFunction(stableJson(user.permissions));
      rulesDigests.set(user.permissions, digest);
    }
    return digest;
  };

  const canceled = new Promise<never>((_, reject) => {
    cancel = () => reject(new Error("the replication was canceled"));
  });
  canceled.catch(() => {});
  /** Resolves with the logged-in user, waiting for a login if there is none (or rejects at cancel). */
  const loggedIn = async (): Promise<LoggedInUser> => {
    const now = client.currentUser.value;
    if (now.isLoggedIn) return now;
    let subscription: { unsubscribe(): void } | undefined;
    try {
      return await Promise.race([
        canceled,
        new Promise<LoggedInUser>((resolve) => {
          subscription = client.currentUser.subscribe((user) => {
            if (user.isLoggedIn) resolve(user);
          });
        }),
      ]);
    } finally {
      subscription?.unsubscribe();
    }
  };

  /** Sends corrections at once when the downstream can take them; the next pull carries them otherwise. */
  const deliver = (docs: WithDeleted<RxDocType>[]) => {
    if (docs.length > 0 && latestCheckpoint && !state.isStopped()) {
      stream$.next({ documents: docs, checkpoint: latestCheckpoint });
    }
  };

  const findEvictions = async (user: LoggedInUser): Promise<void> => {
    const canRead = readCheck(spec, user);
    const docs = await collection.find().exec();
    for (const doc of docs) {
      const data = doc.toMutableJSON() as Record<string, unknown>;
      if (canRead(data)) continue;
      const primary = doc.primary;
      corrections.set(primary, {
        // The full data keeps schema validators content; RxDB's cleanup purges tombstones later.
        doc: { ...data, _deleted: true } as WithDeleted<RxDocType>,
        evicted: { primary, id: documentIdOf(spec, data), reason: "rules_changed" },
      });
    }
  };

  const pullHandler = async (checkpoint: MeshauthCheckpoint | undefined, size: number) => {
    const user = await loggedIn();
    const rules = await rulesOf(user);
    const reset = checkpoint?.rules !== rules;
    if (reset && evict) await findEvictions(user);
    const limit = Math.max(1, Math.min(size, SYNC_LIMITS.maxPullLimit));
    let answer: Awaited<ReturnType<SyncEndpoints["pull"]>>;
    try {
      answer = await endpoints.pull({ checkpoint: reset ? null : (checkpoint?.hub ?? null), limit });
    } catch (e) {
      throw report(e);
    }
    const documents = answer.documents as unknown as WithDeleted<RxDocType>[];
    const next: MeshauthCheckpoint = {
      hub: answer.checkpoint ?? (reset ? null : (checkpoint?.hub ?? null)),
      rules,
    };
    latestCheckpoint = next;
    // Corrections ride on the last page only, and keep it short of full: a full page makes
    // RxDB pull again, and corrections the downstream skips would make it pull forever.
    const room = documents.length < limit ? limit - 1 - documents.length : 0;
    if (room > 0 && corrections.size > 0) {
      const fromHub = new Set(documents.map(primaryOf));
      for (const [primary, correction] of corrections) {
        if (documents.length >= limit - 1) break;
        if (!fromHub.has(primary)) documents.push(correction.doc);
      }
    }
    return { documents, checkpoint: next };
  };

  const pushRows = async (rows: PushRow[]): Promise<{ conflicts: SyncDocument[]; refused: Refusal[] }> => {
    if (rows.length === 0) return { conflicts: [], refused: [] };
    try {
      const answer = await endpoints.push({ rows });
      return { conflicts: [...answer.conflicts], refused: [...answer.refused] };
    } catch (e) {
      const error = toClientError(e);
      if (!ROW_ERRORS.has(error.code)) throw report(error);
      // The hub stores nothing of a batch it refuses as a whole: find the rows at fault.
      if (rows.length === 1) {
        const row = rows[0]!;
        return {
          conflicts: [],
          refused: [
            {
              id: documentIdOf(spec, row.newDocumentState),
              code: error.code as SyncErrorCode,
              message: error.message,
            },
          ],
        };
      }
      const half = Math.ceil(rows.length / 2);
      const first = await pushRows(rows.slice(0, half));
      const second = await pushRows(rows.slice(half));
      return {
        conflicts: [...first.conflicts, ...second.conflicts],
        refused: [...first.refused, ...second.refused],
      };
    }
  };

  const pushHandler = async (rows: RxReplicationWriteToMasterRow<RxDocType>[]) => {
    const user = await loggedIn();
    const refusals: Refusal[] = [];
    const send: PushRow[] = [];
    const rowsById = new Map<string, RxReplicationWriteToMasterRow<RxDocType>>();
    for (const row of rows) {
      const doc = row.newDocumentState as unknown as SyncDocument;
      // A newer local state supersedes any correction still waiting for this document.
      corrections.delete(primaryOf(doc));
      const key = stableJson(documentIdOf(spec, doc));
      rowsById.set(key, row);
      if (utf8Bytes(JSON.stringify(doc)) > SYNC_LIMITS.maxDocumentBytes) {
        refusals.push({
          id: documentIdOf(spec, doc),
          code: "document_too_large",
          message: `the document is over ${SYNC_LIMITS.maxDocumentBytes} bytes of JSON`,
        });
        continue;
      }
      send.push({
        assumedMasterState: (row.assumedMasterState as unknown as SyncDocument | undefined) ?? null,
        newDocumentState: doc,
      });
    }
    const { conflicts, refused } = await pushRows(send);
    refusals.push(...refused);

    const canRead = readCheck(spec, user);
    const fixes: WithDeleted<RxDocType>[] = [];
    const refusedKeys = new Set<string>();
    for (const refusal of refusals) {
      const key = stableJson(refusal.id);
      const row = rowsById.get(key);
      if (!row) continue;
      refusedKeys.add(key);
      const newState = row.newDocumentState as WithDeleted<RxDocType>;
      const master = row.assumedMasterState as WithDeleted<RxDocType> | undefined;
      // Back to the hub's state as last seen, or gone when there is none this identity may read.
      const rollback =
        master && refusal.code !== "unreadable_conflict" && canRead(master as Record<string, unknown>)
          ? master
          : ({ ...newState, _deleted: true } as WithDeleted<RxDocType>);
      const primary = primaryOf(newState as object);
      corrections.set(primary, { doc: rollback });
      fixes.push(rollback);
      refused$.next({
        primary,
        id: refusal.id,
        code: refusal.code,
        message: refusal.message,
        document: newState,
      });
    }
    const conflictKeys = new Set(conflicts.map((doc) => stableJson(documentIdOf(spec, doc))));
    if (evict) {
      for (const [key, row] of rowsById) {
        const doc = row.newDocumentState as WithDeleted<RxDocType>;
        if (refusedKeys.has(key) || conflictKeys.has(key) || doc._deleted) continue;
        if (canRead(doc as Record<string, unknown>)) continue;
        // Stored on the hub, but this identity may not read it back: do not keep a copy.
        const primary = primaryOf(doc as object);
        const tombstone = { ...doc, _deleted: true } as WithDeleted<RxDocType>;
        corrections.set(primary, {
          doc: tombstone,
          evicted: {
            primary,
            id: documentIdOf(spec, doc as Record<string, unknown>),
            reason: "not_readable",
          },
        });
        fixes.push(tombstone);
      }
    }
    // RxDB applies stream documents only after this push is recorded, so these land on top of it.
    deliver(fixes);
    return conflicts as unknown as WithDeleted<RxDocType>[];
  };

  const state = replicateRxCollection<RxDocType, MeshauthCheckpoint>({
    replicationIdentifier: options.replicationIdentifier ?? `meshauth|${client.hub}|${client.appId}|${name}`,
    collection,
    live,
    retryTime: options.retryTime ?? 5000,
    // Started and paused by the session below, not by RxDB's leader election or page visibility.
    autoStart: false,
    waitForLeadership: false,
    toggleOnDocumentVisible: false,
    pull: { batchSize, handler: pullHandler, stream$: stream$.asObservable() },
    push: { batchSize: Math.min(batchSize, SYNC_LIMITS.maxPushRows), handler: pushHandler },
  });

  const stream = new LiveStream(client, endpoints, {
    changes: (frame) => {
      if (!latestCheckpoint) return stream$.next("RESYNC");
      latestCheckpoint = { hub: frame.checkpoint, rules: latestCheckpoint.rules };
      stream$.next({
        documents: frame.documents as unknown as WithDeleted<RxDocType>[],
        checkpoint: latestCheckpoint,
      });
    },
    resync: () => stream$.next("RESYNC"),
    error: (error) => syncError$.next(error),
    ended: () => {},
    status: (s) => {
      if (state.isStopped()) status$.next("stopped");
      else if (!client.currentUser.value.isLoggedIn) status$.next("logged-out");
      else if (s !== "stopped") status$.next(s);
    },
  });

  const received = state.received$.subscribe((doc) => {
    const primary = (doc as Record<string, unknown>)[primaryPath] as string;
    const correction = corrections.get(primary);
    if (!correction) return;
    corrections.delete(primary);
    if (correction.evicted && (doc as { _deleted?: boolean })._deleted) evicted$.next(correction.evicted);
  });

  const leadership =
    (options.waitForLeadership ?? true) && collection.database.multiInstance
      ? collection.database.waitForLeadership()
      : Promise.resolve(true);
  let running = false;
  let knownRules: string | undefined;
  const follow = async (user: CurrentUser): Promise<void> => {
    if (state.isStopped()) return;
    if (!user.isLoggedIn) {
      running = false;
      stream.stop();
      status$.next("logged-out");
      await state.pause();
      return;
    }
    const rules = await rulesOf(user);
    if (!running) {
      running = true;
      knownRules = rules;
      await leadership;
      if (state.isStopped() || !client.currentUser.value.isLoggedIn) return;
      await state.start();
      if (live && !state.isStopped()) stream.start();
      else status$.next("stopped");
    } else if (rules !== knownRules) {
      knownRules = rules;
      // The pull handler sees the new rules: it evicts and pulls from the start.
      state.reSync();
    }
  };
  let following = Promise.resolve();
  const session = client.currentUser.subscribe((user) => {
    following = following.then(() => follow(user)).catch((e: unknown) => void report(e));
  });

  state.onCancel.push(() => {
    cancel();
    session.unsubscribe();
    received.unsubscribe();
    stream.stop();
    status$.next("stopped");
    for (const subject of [refused$, evicted$, syncError$, status$, stream$]) subject.complete();
  });

  const extras = Object.assign(state, {
    refused$: refused$.asObservable(),
    evicted$: evicted$.asObservable(),
    syncError$: syncError$.asObservable(),
    status$: status$.asObservable(),
  });
  // A getter (Object.assign would copy today's value).
  Object.defineProperty(extras, "status", { get: () => status$.value, enumerable: true });
  return extras as MeshauthReplicationState<RxDocType>;
}

interface Refusal {
  readonly id: DocumentId;
  readonly code: RefusalCode | SyncErrorCode;
  readonly message: string;
}

/** The hub collection this RxDB collection replicates with: its primary key's fields are the `_id`. */
function collectionSpecOf(
  name: string,
  collection: { schema: { jsonSchema: { primaryKey: unknown } } },
): CollectionSpec {
  const key = collection.schema.jsonSchema.primaryKey as string | { fields: readonly string[] };
  return { name, idFields: typeof key === "string" ? [key] : [...key.fields] };
}

/** JSON with object keys sorted, so equal values give equal strings. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}
