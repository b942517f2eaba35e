import { MeshauthError } from "@meshauth/core";
import {
  type CheckedRow,
  type CollectionEnforcer,
  type CollectionSpec,
  idFromKeys,
  type Refusal,
  type SyncDocument,
} from "@meshauth/sync";
import { sql } from "kysely";
import type { Engine } from "../storage/database.js";
import type { Store } from "../storage/store.js";
import { KEY_COLUMNS, type SyncDb, type SyncDocumentsTable, syncDb } from "./schema.js";
import { sqlFilter } from "./sql-filter.js";

/** The PostgreSQL channel a committed push notifies (payload: JSON [appId, collection, seq]). */
export const SYNC_CHANNEL = "meshauth_sync";

export interface PulledBatch {
  /** The readable documents, as stored JSON text (sent without re-serialising). */
  readonly documents: string[];
  /** The seq of the last row looked at (readable or not); the input seq when none. */
  readonly lastSeq: number;
}

export interface PushOutcome {
  readonly conflicts: SyncDocument[];
  readonly refused: Refusal[];
  readonly written: number;
  /** The collection's seq after this push. */
  readonly seq: number;
}

/**
 * Documents of synced collections, per app and collection. Every read is filtered by the
 * reader's rules in SQL where they compile (see sql-filter.ts) and decided per row by the
 * enforcer; every write is decided by the enforcer inside the transaction that stores it.
 */
export class DocumentStore {
  readonly #db: SyncDb;

  constructor(
    store: Store,
    private readonly engine: Engine,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.#db = syncDb(store.db);
  }

  /** The collection's current seq (where a new stream starts). */
  async head(appId: string, collection: string): Promise<number> {
    const row = await this.#db
      .selectFrom("sync_collections")
      .select("seq")
      .where("app_id", "=", appId)
      .where("name", "=", collection)
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.seq);
  }

  /**
   * Up to `limit` readable documents changed after `afterSeq`, in seq order. With an exact
   * filter one query answers; with an inexact one (see INEXACT_CONSTRUCTS) rows the rules
   * do not allow are skipped and the scan goes on until `limit` are found or none are left.
   */
  async pull(
    appId: string,
    enforcer: CollectionEnforcer,
    afterSeq: number,
    limit: number,
  ): Promise<PulledBatch> {
    const spec = enforcer.spec;
    const documents: string[] = [];
    let lastSeq = afterSeq;
    if (enforcer.readScope === "none") return { documents, lastSeq };
    const filter = enforcer.readFilter;
    const where =
      filter.where.kind === "const" && filter.where.value ? undefined : sqlFilter(filter.where, this.engine);
    const keyColumns = KEY_COLUMNS.slice(0, spec.idFields.length);
    const checkEach = enforcer.readScope !== "all";
    for (;;) {
      const want = limit - documents.length;
      let q = this.#db
        .selectFrom("sync_documents")
        .select(["seq", "doc", ...keyColumns])
        .where("app_id", "=", appId)
        .where("collection", "=", spec.name)
        .where("seq", ">", lastSeq);
      if (where !== undefined) q = q.where(where as never);
      const rows = (await q.orderBy("seq").limit(want).execute()) as Pick<
        SyncDocumentsTable,
        "seq" | "doc" | (typeof keyColumns)[number]
      >[];
      for (const row of rows) {
        lastSeq = Number(row.seq);
        // The enforcer decides every row, also when SQL already filtered exactly.
        if (
          checkEach &&
          !enforcer.canRead(
            idFromKeys(
              spec,
              keyColumns.map((k) => row[k] as string),
            ),
          )
        )
          continue;
        documents.push(row.doc);
      }
      if (rows.length < want || documents.length >= limit || filter.exact) return { documents, lastSeq };
    }
  }

  /**
   * Stores a checked push. Writers of one collection are serialised on the collection's
   * row (a row lock on PostgreSQL, the write lock on SQLite) from reading the master states
   * to commit, so decisions see the latest state and seq order is commit order: a reader
   * that sees seq N has already seen every seq below it, on any hub.
   */
  async push(appId: string, enforcer: CollectionEnforcer, rows: readonly CheckedRow[]): Promise<PushOutcome> {
    const spec = enforcer.spec;
    return this.#db.transaction().execute(async (tx) => {
      const locked = await tx
        .updateTable("sync_collections")
        .set({ seq: sql`seq` })
        .where("app_id", "=", appId)
        .where("name", "=", spec.name)
        .returning("seq")
        .executeTakeFirst();
      if (locked === undefined)
        throw new MeshauthError("unknown_collection", `this app has no collection ${spec.name}`);
      let seq = Number(locked.seq);
      const conflicts: SyncDocument[] = [];
      const refused: Refusal[] = [];
      if (rows.length === 0) return { conflicts, refused, written: 0, seq };
      const existing = await tx
        .selectFrom("sync_documents")
        .select(["doc_key", "doc"])
        .where("app_id", "=", appId)
        .where("collection", "=", spec.name)
        .where(
          "doc_key",
          "in",
          rows.map((r) => r.key),
        )
        .execute();
      const masters = new Map(existing.map((r) => [r.doc_key, r.doc]));
      const now = this.nowMs();
      const values: SyncDocumentsTable[] = [];
      for (const row of rows) {
        const stored = masters.get(row.key);
        const decision = enforcer.decide(
          row,
          stored === undefined ? undefined : (JSON.parse(stored) as SyncDocument),
        );
        if (decision.kind === "conflict") conflicts.push(decision.master);
        else if (decision.kind === "refused") refused.push(decision.refusal);
        else values.push(rowValues(appId, spec, row, ++seq, now));
      }
      if (values.length > 0) {
        await tx
          .insertInto("sync_documents")
          .values(values)
          .onConflict((oc) =>
            oc.columns(["app_id", "collection", "doc_key"]).doUpdateSet((eb) => ({
              seq: eb.ref("excluded.seq"),
              deleted: eb.ref("excluded.deleted"),
              doc: eb.ref("excluded.doc"),
              updated_at: eb.ref("excluded.updated_at"),
              rev: sql<number>`sync_documents.rev + 1`,
            })),
          )
          .execute();
        await tx
          .updateTable("sync_collections")
          .set({ seq })
          .where("app_id", "=", appId)
          .where("name", "=", spec.name)
          .execute();
        // Delivered to every listening hub when (and only if) this transaction commits.
        if (this.engine === "postgres")
          await sql`select pg_notify(${SYNC_CHANNEL}, ${JSON.stringify([appId, spec.name, seq])})`.execute(
            tx,
          );
      }
      return { conflicts, refused, written: values.length, seq };
    });
  }
}

function rowValues(
  appId: string,
  spec: CollectionSpec,
  row: CheckedRow,
  seq: number,
  now: number,
): SyncDocumentsTable {
  const v: SyncDocumentsTable = {
    app_id: appId,
    collection: spec.name,
    doc_key: row.key,
    k0: null,
    k1: null,
    k2: null,
    k3: null,
    k4: null,
    k5: null,
    k6: null,
    k7: null,
    seq,
    deleted: row.doc._deleted ? 1 : 0,
    rev: 1,
    doc: row.json,
    updated_at: now,
  };
  row.keys.forEach((k, i) => {
    const col = KEY_COLUMNS[i];
    if (col !== undefined) v[col] = k;
  });
  return v;
}
