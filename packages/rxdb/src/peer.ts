// replicatePeer: one RxDB collection replicated with one other peer over a message channel
// (mutual TLS in Node, a WebRTC data channel in browsers). One side serves its collection
// through RxDB's master-side handler, the other replicates against it; each side enforces
// the other's identity: it serves only what the other may read, and stores only revisions
// whose signature verifies and whose author may write them (the relay rule, docs/mesh.md).
import { type Identity, isRevoked, type TrustAnchor } from "@meshauth/core";
import {
  type CollectionEnforcer,
  type CollectionSpec,
  checkRevision,
  createRevisionVerifier,
  enforcerFor,
  idFromKeys,
  keysOf,
  type PushRow,
  type RevisionRefusalCode,
  type RevisionVerifier,
  readSignature,
  SYNC_LIMITS,
  type SyncDocument,
  SyncInputError,
  utf8Length,
  type VerifiedRevision,
  type VerifyRevisionInput,
} from "@meshauth/sync";
import type {
  RxCollection,
  RxReplicationHandler,
  RxReplicationPullStreamItem,
  RxReplicationWriteToMasterRow,
  WithDeleted,
} from "rxdb";
import { rxStorageInstanceToReplicationHandler } from "rxdb";
import { type RxReplicationState, replicateRxCollection } from "rxdb/plugins/replication";
import { Subject, type Subscription } from "rxjs";
import {
  type ChangesMessage,
  type LinkCloseCode,
  LinkError,
  PEER_PROTOCOL_VERSION,
  type PeerMessage,
  type PeerRefusalWire,
  type PullResponse,
  type PushResponse,
  parseMessage,
} from "./peer-protocol.js";
import type { RevocationStore } from "./peer-revocations.js";
import { collectionSpecOf } from "./peer-signing.js";

/** The other end of a link, as its transport verified it. */
export interface RemotePeer {
  readonly identity: Identity;
  readonly certificate?: { readonly serialNumber?: string; readonly sessionId?: string };
  /** The hub session of a token-authenticated peer. */
  readonly sessionId?: string;
}

/** Whole messages to one verified peer (`messageChannel` of `@meshauth/peer`, or a data channel). */
export interface PeerChannel {
  readonly remote: RemotePeer;
  /** True on the side that opened the connection. */
  readonly initiator: boolean;
  send(message: string): void;
  onMessage(listener: (message: string) => void): void;
  onProtocolError?(listener: (code: "frame_too_large" | "malformed_frame", message: string) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

export interface PeerLimits {
  /** Documents per pull and rows per push. Default 20. */
  batchSize: number;
  /** Requests the other side may have in flight before the link is dropped. Default 8. */
  maxPendingRequests: number;
  /** Stream messages waiting for verification before the link is dropped. Default 64. */
  maxQueuedChanges: number;
  /** Milliseconds to wait for the other side's greeting. Default 10 000. */
  helloTimeoutMs: number;
}

export const DEFAULT_PEER_LIMITS: Readonly<PeerLimits> = Object.freeze({
  batchSize: 20,
  maxPendingRequests: 8,
  maxQueuedChanges: 64,
  helloTimeoutMs: 10_000,
});

/** A document this side did not store, or the other side did not store for it. */
export interface PeerRefusal {
  /** `received`: this side refused the other's document. `sent`: the other side refused ours. */
  readonly direction: "received" | "sent";
  readonly primary: string;
  readonly code: RevisionRefusalCode | "unreadable_conflict" | string;
  readonly message: string;
}

export interface LinkClosed {
  readonly code: LinkCloseCode;
  readonly message: string;
  /** Which side ended it. */
  readonly by: "local" | "remote";
}

export interface ReplicatePeerOptions<RxDocType> {
  collection: RxCollection<RxDocType>;
  connection: PeerChannel;
  /** This app; the other side must belong to it (its transport checked that already). */
  appId: string;
  /** What revisions' authors must chain to: the app's CA certificate or its shared key. */
  trust: TrustAnchor | { type: "shared-key"; publicKey: CryptoKey | JsonWebKey; rootCertificatePem?: string };
  /** This device's revocation lists: exchanged on connect, consulted for every revision. */
  revocations: RevocationStore;
  /**
   * `serve`: hold the master copy the other side replicates against; `replicate`: the other
   * way round. Default: the side that accepted the connection serves.
   */
  role?: "serve" | "replicate";
  limits?: Partial<PeerLimits>;
  /** Every refused document, both directions. */
  onRefused?(refusal: PeerRefusal): void;
  /** RxDB's replication identifier. Default: collection and the other side's peer key. */
  replicationIdentifier?: string;
  /**
   * `required` (default): every received revision must carry a valid signature by an author
   * allowed to write it; a relay needs only to read. `off`: documents are not signed, and
   * the sending peer itself must be allowed to write what it sends (Ditto's relay rule).
   * Both sides of a link must agree.
   */
  signatures?: "required" | "off";
  /** Milliseconds before RxDB retries a failed pull or push. Default 1000. */
  retryTime?: number;
}

export interface PeerReplication<RxDocType> {
  readonly remote: RemotePeer;
  readonly role: "serve" | "replicate";
  /** Resolves once, when the link ends, with why. */
  readonly closed: Promise<LinkClosed>;
  /** Refusals so far (also passed to `onRefused`). */
  readonly refusals: readonly PeerRefusal[];
  /** On the replicating side, RxDB's replication state (after the greeting). */
  replicationState(): RxReplicationState<RxDocType, unknown> | undefined;
  /** Resolves once the greeting has been exchanged (rejects if the link ends first). */
  ready(): Promise<void>;
  /** Replicating side: waits until RxDB reports in sync. Serving side: resolves at once. */
  awaitInSync(): Promise<void>;
  /** Ends the link (a `close` message, then the connection). */
  close(): Promise<void>;
}

type Data = Record<string, unknown>;

type CheckResult =
  | { ok: true; revision?: VerifiedRevision }
  | { ok: false; code: RevisionRefusalCode | "write_denied"; message: string };

function anchor(trust: ReplicatePeerOptions<unknown>["trust"]): TrustAnchor {
  return trust.type === "ca"
    ? { type: "ca", certificatePem: trust.certificatePem }
    : { type: "shared-key", publicKey: trust.publicKey };
}

/**
 * Replicates `collection` with the peer at the other end of `connection`, both directions,
 * until either side closes. Documents must be signed (`signLocalWrites`).
 */
export function replicatePeer<RxDocType>(
  options: ReplicatePeerOptions<RxDocType>,
): PeerReplication<RxDocType> {
  const { collection, connection, revocations } = options;
  const limits: PeerLimits = { ...DEFAULT_PEER_LIMITS, ...options.limits };
  const spec: CollectionSpec = collectionSpecOf(collection as RxCollection);
  const remote = connection.remote;
  const role = options.role ?? (connection.initiator ? "replicate" : "serve");
  const primaryPath = collection.schema.primaryPath as string;
  const composite = typeof collection.schema.jsonSchema.primaryKey !== "string";
  const remoteEnforcer: CollectionEnforcer = enforcerFor(remote.identity.permissions, spec);
  const parseLimits = { maxBatch: Math.max(limits.batchSize, SYNC_LIMITS.maxPushRows) };

  const verifier: RevisionVerifier = createRevisionVerifier({
    appId: options.appId,
    trust: anchor(options.trust),
    revocations: () => revocations.current(),
    canWrite: (author, _name, document) => enforcerFor(author.permissions, spec).canWrite(idOf(document)),
  });

  const signatures = options.signatures ?? "required";
  /**
   * Whether to store a received document. With signatures: its author's signature and
   * rights (any relay may carry it). Without: the sending peer itself must be able to write
   * it, Ditto's rule, since nothing else vouches for the content.
   */
  async function checkIncoming(input: VerifyRevisionInput): Promise<CheckResult> {
    if (signatures === "required") return checkRevision(verifier, input);
    if (remoteEnforcer.canWrite(input.id)) return { ok: true };
    return { ok: false, code: "write_denied", message: "the sending peer may not write this _id" };
  }

  const refusals: PeerRefusal[] = [];
  const refuse = (refusal: PeerRefusal): void => {
    refusals.push(refusal);
    options.onRefused?.(refusal);
  };

  let ended: LinkClosed | undefined;
  let resolveClosed!: (closed: LinkClosed) => void;
  const closed = new Promise<LinkClosed>((resolve) => {
    resolveClosed = resolve;
  });
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  readyPromise.catch(() => undefined);

  const cleanups: (() => void)[] = [];
  // Requests this side sent and awaits answers to (replicating side).
  let nextId = 1;
  const requests = new Map<number, { resolve: (m: PeerMessage) => void; reject: (e: Error) => void }>();
  let replication: RxReplicationState<RxDocType, unknown> | undefined;

  const send = (message: PeerMessage): void => {
    if (ended) return;
    connection.send(JSON.stringify(message));
  };

  const finish = (result: LinkClosed): void => {
    if (ended) return;
    ended = result;
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const pending of requests.values()) pending.reject(new LinkError(result.code, result.message));
    requests.clear();
    rejectReady(new LinkError(result.code, result.message));
    void replication?.cancel();
    resolveClosed(result);
  };

  /** Ends the link from this side with a reason the other side is told. */
  const drop = (code: LinkCloseCode, message: string): void => {
    if (ended) return;
    send({ t: "close", code, message });
    finish({ code, message, by: "local" });
    connection.close();
  };

  function idOf(document: Data) {
    return idFromKeys(spec, keysOf(spec, document));
  }

  /** Size and `_id` checks every received document passes before anything else; drops the link on failure. */
  function checkShape(document: SyncDocument): void {
    if (utf8Length(JSON.stringify(document)) > SYNC_LIMITS.maxDocumentBytes) {
      throw new LinkError(
        "document_too_large",
        `a document is larger than ${SYNC_LIMITS.maxDocumentBytes} bytes of JSON`,
      );
    }
    try {
      keysOf(spec, document);
    } catch (error) {
      if (error instanceof SyncInputError) throw new LinkError("invalid_document", error.message);
      throw error;
    }
    if (composite) {
      const expected = collection.schema.getPrimaryOfDocumentData(document as never);
      if (document[primaryPath] !== expected)
        throw new LinkError(
          "invalid_document",
          `the primary key ${primaryPath} does not match the ID fields`,
        );
    }
  }

  const primaryOf = (document: Data): string => String(document[primaryPath]);

  // --- revocation lists ------------------------------------------------------------------

  const remoteRevoked = (): boolean => {
    const list = revocations.current();
    if (!list) return false;
    const sessionId = remote.certificate?.sessionId ?? remote.sessionId;
    return isRevoked(list, remote.identity, remote.certificate?.serialNumber, sessionId);
  };

  async function offerList(jws: string): Promise<void> {
    try {
      await revocations.offer(jws);
    } catch (error) {
      drop("invalid_revocation_list", `the revocation list does not verify: ${(error as Error).message}`);
      return;
    }
    if (remoteRevoked()) drop("peer_revoked", "the other peer is revoked by the newest revocation list");
  }

  cleanups.push(
    revocations.subscribe(() => {
      const jws = revocations.signed();
      if (jws) send({ t: "revocations", jws });
      if (remoteRevoked()) drop("peer_revoked", "the other peer is revoked by the newest revocation list");
    }),
  );

  // The other side's identity ends when its certificate or token does.
  const expiresIn = remote.identity.exp * 1000 - Date.now();
  const expiry = setTimeout(
    () => drop("peer_expired", "the other peer's identity has expired"),
    Math.min(Math.max(expiresIn, 0), 2 ** 31 - 1),
  );
  (expiry as { unref?: () => void }).unref?.();
  cleanups.push(() => clearTimeout(expiry));

  // --- serving side ----------------------------------------------------------------------

  let handler: RxReplicationHandler<RxDocType, unknown> | undefined;
  let pendingServed = 0;

  function masterHandler(): RxReplicationHandler<RxDocType, unknown> {
    if (!handler) {
      handler = rxStorageInstanceToReplicationHandler(
        collection.storageInstance,
        collection.conflictHandler,
        collection.database.token,
      );
    }
    return handler;
  }

  function startServing(): void {
    const h = masterHandler();
    const subscription: Subscription = h.masterChangeStream$.subscribe((item) => {
      if (item === "RESYNC") {
        send({ t: "resync" });
        return;
      }
      const readable = item.documents.filter((d) => remoteEnforcer.canRead(idOf(d as Data)));
      for (let i = 0; i < readable.length; i += limits.batchSize) {
        send({
          t: "changes",
          documents: readable.slice(i, i + limits.batchSize) as unknown as SyncDocument[],
          checkpoint: item.checkpoint,
        });
      }
    });
    cleanups.push(() => subscription.unsubscribe());
  }

  async function servePull(checkpoint: unknown, batchSize: number): Promise<Omit<PullResponse, "t" | "id">> {
    const h = masterHandler();
    const documents: SyncDocument[] = [];
    let cursor = (checkpoint ?? undefined) as object | undefined;
    // Filtering may empty a batch; RxDB stops at a short batch, so keep reading until the
    // answer is full or the collection is exhausted.
    for (;;) {
      const batch = await h.masterChangesSince(cursor, batchSize);
      for (const d of batch.documents) {
        if (remoteEnforcer.canRead(idOf(d as Data))) documents.push(d as unknown as SyncDocument);
      }
      cursor = batch.checkpoint as object | undefined;
      if (batch.documents.length < batchSize || documents.length >= batchSize) break;
    }
    return { documents, checkpoint: cursor ?? null };
  }

  async function servePush(rawRows: readonly PushRow[]): Promise<Omit<PushResponse, "t" | "id">> {
    // Shape, size and `_id` of every row first: one bad row drops the link, nothing is stored.
    let rows: ReturnType<CollectionEnforcer["checkPush"]>;
    try {
      rows = remoteEnforcer.checkPush({ rows: rawRows });
    } catch (error) {
      if (error instanceof SyncInputError) {
        const code: LinkCloseCode =
          error.code === "document_too_large" ||
          error.code === "batch_too_large" ||
          error.code === "id_changed"
            ? error.code
            : "invalid_document";
        throw new LinkError(code, error.message);
      }
      throw error;
    }
    for (const row of rows) checkShape(row.doc);
    const h = masterHandler();
    const current = new Map<string, Data>();
    const found = await collection.storageInstance.findDocumentsById(
      rows.map((r) => primaryOf(r.doc)),
      true,
    );
    for (const doc of found) current.set(primaryOf(doc as Data), doc as Data);

    const accepted: RxReplicationWriteToMasterRow<RxDocType>[] = [];
    const conflicts: SyncDocument[] = [];
    const refused: PeerRefusalWire[] = [];
    const conflictOrRefuse = (primary: string, id: unknown, master: Data): void => {
      if (remoteEnforcer.canRead(id as never)) conflicts.push(stripLocal(master));
      else
        refused.push({ primary, code: "unreadable_conflict", message: "the current state may not be read" });
    };
    const results = await Promise.all(
      rows.map((row) =>
        checkIncoming({
          collection: spec.name,
          id: row.id,
          document: row.doc,
          replaces: current.get(primaryOf(row.doc)) ?? null,
        }),
      ),
    );
    for (const [i, row] of rows.entries()) {
      const primary = primaryOf(row.doc);
      const master = current.get(primary) ?? null;
      const checked = results[i] as CheckResult;
      if (!checked.ok) {
        if (checked.code === "stale_revision" && master) conflictOrRefuse(primary, row.id, master);
        else {
          refused.push({ primary, code: checked.code, message: checked.message });
          refuse({ direction: "received", primary, code: checked.code, message: checked.message });
        }
        continue;
      }
      if (master && checked.revision && readSignature(master)?.sig === checked.revision.signature.sig)
        continue;
      accepted.push({
        assumedMasterState: (row.assumed ?? undefined) as WithDeleted<RxDocType> | undefined,
        newDocumentState: row.doc as unknown as WithDeleted<RxDocType>,
      } as RxReplicationWriteToMasterRow<RxDocType>);
    }
    if (accepted.length > 0) {
      for (const conflict of await h.masterWrite(accepted)) {
        const data = conflict as unknown as Data;
        conflictOrRefuse(primaryOf(data), idOf(data), data);
      }
    }
    return { conflicts, refused };
  }

  async function serve(message: PeerMessage): Promise<void> {
    if (message.t !== "req") return;
    pendingServed += 1;
    try {
      const result =
        message.m === "pull"
          ? await servePull(message.checkpoint, message.batchSize)
          : await servePush(message.rows);
      send({ t: "res", id: message.id, ...result } as PeerMessage);
    } catch (error) {
      if (error instanceof LinkError) drop(error.code, error.message);
      else
        send({ t: "res", id: message.id, error: { code: "internal", message: "the request failed here" } });
    } finally {
      pendingServed -= 1;
    }
  }

  // --- replicating side ------------------------------------------------------------------

  const stream$ = new Subject<RxReplicationPullStreamItem<RxDocType, unknown>>();
  let changesQueue: Promise<void> = Promise.resolve();
  let queuedChanges = 0;

  function request(
    body: { m: "pull"; checkpoint: unknown; batchSize: number } | { m: "push"; rows: PushRow[] },
  ) {
    return new Promise<PeerMessage>((resolve, reject) => {
      if (ended) {
        reject(new LinkError(ended.code, ended.message));
        return;
      }
      const id = nextId++;
      requests.set(id, { resolve, reject });
      send({ t: "req", id, ...body } as PeerMessage);
    });
  }

  /** The received documents that verify; the others are refused and reported. */
  async function verifyIncoming(
    documents: readonly SyncDocument[],
    asConflicts: boolean,
  ): Promise<SyncDocument[]> {
    for (const d of documents) checkShape(d);
    const locals = new Map<string, Data>();
    if (!asConflicts && documents.length > 0) {
      const found = await collection.storageInstance.findDocumentsById(
        documents.map((d) => primaryOf(d)),
        true,
      );
      for (const doc of found) locals.set(primaryOf(doc as Data), doc as Data);
    }
    // Verified side by side: WebCrypto runs signature checks off the main thread.
    const results = await Promise.all(
      documents.map((document) =>
        checkIncoming({
          collection: spec.name,
          id: idOf(document),
          document,
          replaces: asConflicts ? null : (locals.get(primaryOf(document)) ?? null),
        }),
      ),
    );
    const out: SyncDocument[] = [];
    documents.forEach((document, i) => {
      const checked = results[i] as CheckResult;
      if (checked.ok) out.push(document);
      else if (checked.code !== "stale_revision") {
        refuse({
          direction: "received",
          primary: primaryOf(document),
          code: checked.code,
          message: checked.message,
        });
      }
      // A stale revision is not an attack by itself: this side holds a newer one, which its
      // own push will bring to the other side.
    });
    return out;
  }

  function startReplicating(): void {
    replication = replicateRxCollection<RxDocType, unknown>({
      collection,
      replicationIdentifier:
        options.replicationIdentifier ?? `meshauth-peer:${spec.name}:${remote.identity.peerKey}`,
      live: true,
      retryTime: options.retryTime ?? 1000,
      waitForLeadership: false,
      autoStart: true,
      pull: {
        batchSize: limits.batchSize,
        stream$: stream$.asObservable(),
        async handler(checkpoint, batchSize) {
          const documents: SyncDocument[] = [];
          let cursor: unknown = checkpoint ?? null;
          // Refused documents shorten a batch; RxDB stops at a short one, so read on.
          for (;;) {
            const answer = await request({ m: "pull", checkpoint: cursor, batchSize });
            if (!("documents" in answer)) throw new Error(errorText(answer));
            documents.push(...(await verifyIncoming(answer.documents, false)));
            cursor = answer.checkpoint;
            if (
              answer.documents.length < batchSize ||
              documents.length >= batchSize ||
              answer.documents.length === 0
            )
              break;
          }
          return { documents: documents as unknown as WithDeleted<RxDocType>[], checkpoint: cursor };
        },
      },
      push: {
        batchSize: limits.batchSize,
        async handler(rows) {
          // Serve only what the other side may read: other rows never leave this device.
          const readable = rows.filter((row) => remoteEnforcer.canRead(idOf(row.newDocumentState as Data)));
          if (readable.length === 0) return [];
          const answer = await request({
            m: "push",
            rows: readable.map((row) => ({
              assumedMasterState: (row.assumedMasterState ?? null) as SyncDocument | null,
              newDocumentState: stripLocal(row.newDocumentState as Data),
            })),
          });
          if (!("conflicts" in answer)) throw new Error(errorText(answer));
          for (const r of answer.refused) {
            refuse({ direction: "sent", primary: String(r.primary), code: r.code, message: r.message });
          }
          return (await verifyIncoming(answer.conflicts, true)) as unknown as WithDeleted<RxDocType>[];
        },
      },
    });
    replication.error$.subscribe(() => undefined);
  }

  function onChanges(message: ChangesMessage): void {
    queuedChanges += 1;
    if (queuedChanges > limits.maxQueuedChanges) {
      drop("request_flood", `more than ${limits.maxQueuedChanges} stream messages waiting`);
      return;
    }
    changesQueue = changesQueue.then(async () => {
      try {
        const documents = await verifyIncoming(message.documents, false);
        if (!ended && documents.length > 0) {
          stream$.next({
            documents: documents as unknown as WithDeleted<RxDocType>[],
            checkpoint: message.checkpoint,
          });
        }
      } catch (error) {
        if (error instanceof LinkError) drop(error.code, error.message);
      } finally {
        queuedChanges -= 1;
      }
    });
  }

  // --- messages --------------------------------------------------------------------------

  let greeted = false;
  const helloTimer = setTimeout(
    () => drop("timeout", "the other peer did not greet in time"),
    limits.helloTimeoutMs,
  );
  (helloTimer as { unref?: () => void }).unref?.();
  cleanups.push(() => clearTimeout(helloTimer));

  async function onHello(message: Extract<PeerMessage, { t: "hello" }>): Promise<void> {
    if (message.v !== PEER_PROTOCOL_VERSION || message.collection !== spec.name) {
      drop("wrong_collection", `this peer replicates ${spec.name} with protocol ${PEER_PROTOCOL_VERSION}`);
      return;
    }
    clearTimeout(helloTimer);
    if (message.revocations) await offerList(message.revocations);
    if (remoteRevoked()) drop("peer_revoked", "the other peer is revoked by the newest revocation list");
    if (ended) return;
    greeted = true;
    if (role === "serve") startServing();
    else startReplicating();
    resolveReady();
  }

  connection.onMessage((text) => {
    if (ended) return;
    let message: PeerMessage;
    try {
      message = parseMessage(text, parseLimits);
    } catch (error) {
      const e = error as LinkError;
      drop(e.code, e.message);
      return;
    }
    if (message.t === "close") {
      finish({ code: message.code, message: message.message, by: "remote" });
      connection.close();
      return;
    }
    if (message.t === "hello") {
      if (greeted) drop("protocol_error", "a second greeting");
      else void onHello(message);
      return;
    }
    if (!greeted) {
      drop("protocol_error", `${message.t} before the greeting`);
      return;
    }
    switch (message.t) {
      case "revocations":
        void offerList(message.jws);
        return;
      case "req":
        if (role !== "serve") {
          drop("protocol_error", "a request to the replicating side");
          return;
        }
        if (pendingServed >= limits.maxPendingRequests) {
          drop("request_flood", `more than ${limits.maxPendingRequests} requests in flight`);
          return;
        }
        void serve(message);
        return;
      case "res": {
        const pending = requests.get(message.id);
        if (!pending) {
          drop("protocol_error", `an answer to request ${message.id}, which was not asked`);
          return;
        }
        requests.delete(message.id);
        pending.resolve(message);
        return;
      }
      case "changes":
      case "resync":
        if (role !== "replicate") {
          drop("protocol_error", "stream messages to the serving side");
          return;
        }
        if (message.t === "resync") stream$.next("RESYNC");
        else onChanges(message);
        return;
    }
  });
  connection.onProtocolError?.((code, message) => drop(code, message));
  connection.onClose(() => finish({ code: "closed", message: "the connection closed", by: "remote" }));

  send({
    t: "hello",
    v: PEER_PROTOCOL_VERSION,
    collection: spec.name,
    revocations: revocations.signed() ?? null,
  });

  return {
    remote,
    role,
    closed,
    refusals,
    replicationState: () => replication,
    ready: () => readyPromise,
    async awaitInSync() {
      await readyPromise;
      if (replication) await replication.awaitInSync();
    },
    async close() {
      drop("closed", "closed by this peer");
      await replication?.cancel();
    },
  };
}

function stripLocal(document: Data): SyncDocument {
  const { _meta: _m, _rev: _r, _attachments: _a, ...rest } = document;
  return rest as SyncDocument;
}

function errorText(answer: PeerMessage): string {
  return "error" in answer ? `${answer.error.code}: ${answer.error.message}` : "unexpected answer";
}
