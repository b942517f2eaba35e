import type { Kysely } from "kysely";
import type { Database } from "../storage/schema.js";

// The sync tables (migration 006_sync). Kept here, joined to the hub's schema with
// `withTables`, so that sync's storage stays in one folder.

/** The key columns, one per ID field in idFields order (at most SYNC_LIMITS.maxIdFields). */
export const KEY_COLUMNS = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"] as const;
export type KeyColumn = (typeof KEY_COLUMNS)[number];

export type SyncCollectionsTable = {
  app_id: string;
  name: string;
  id_fields: string; // JSON string[]
  /** The last seq given to a change of this collection. */
  seq: number;
  created_at: number;
};

export type SyncDocumentsTable = {
  app_id: string;
  collection: string;
  /** One string per `_id` (see keyOf in @meshauth/sync). */
  doc_key: string;
  seq: number;
  deleted: number; // 0 | 1
  /** How many times the hub stored this document. */
  rev: number;
  doc: string; // JSON SyncDocument
  updated_at: number; // milliseconds
} & { [K in KeyColumn]: string | null };

export type SyncTables = {
  sync_collections: SyncCollectionsTable;
  sync_documents: SyncDocumentsTable;
};

export type SyncDb = Kysely<Database & SyncTables>;

export function syncDb(db: Kysely<Database>): SyncDb {
  return db.withTables<SyncTables>();
}
