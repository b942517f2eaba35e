import type { Kysely } from "kysely";

// Sync (docs/sync.md): the collections an app declares, and their documents. `seq` orders
// every change of a collection; writers of one collection are serialised on its row in
// sync_collections (see sync/document-store.ts), so seq order is commit order on every engine.
// k0..k7 hold the ID field values, so read rules become SQL over indexed columns.
const KEY_COLUMNS = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sync_collections")
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("id_fields", "text", (c) => c.notNull()) // JSON string[]
    .addColumn("seq", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("sync_collections_pk", ["app_id", "name"])
    .execute();
  let documents = db.schema
    .createTable("sync_documents")
    .addColumn("app_id", "text", (c) => c.notNull())
    .addColumn("collection", "text", (c) => c.notNull())
    .addColumn("doc_key", "text", (c) => c.notNull());
  for (const k of KEY_COLUMNS) documents = documents.addColumn(k, "text");
  await documents
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("deleted", "integer", (c) => c.notNull())
    .addColumn("rev", "integer", (c) => c.notNull())
    .addColumn("doc", "text", (c) => c.notNull()) // JSON, with _deleted
    .addColumn("updated_at", "bigint", (c) => c.notNull()) // milliseconds
    .addPrimaryKeyConstraint("sync_documents_pk", ["app_id", "collection", "doc_key"])
    .addForeignKeyConstraint(
      "sync_documents_collection",
      ["app_id", "collection"],
      "sync_collections",
      ["app_id", "name"],
      (c) => c.onDelete("cascade"),
    )
    .execute();
  await db.schema
    .createIndex("sync_documents_seq")
    .unique()
    .on("sync_documents")
    .columns(["app_id", "collection", "seq"])
    .execute();
  // The first two ID fields get their own index (with seq, for ordered pulls by key);
  // rules on later fields still compile to SQL, over the seq index.
  for (const k of ["k0", "k1"]) {
    await db.schema
      .createIndex(`sync_documents_${k}`)
      .on("sync_documents")
      .columns(["app_id", "collection", k, "seq"])
      .execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("sync_documents").ifExists().execute();
  await db.schema.dropTable("sync_collections").ifExists().execute();
}
