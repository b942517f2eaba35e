import type { Kysely } from "kysely";

// The hub as a Ditto app's auth webhook: which apps turned it on (with Ditto's webhook
// secret, sealed, when the portal has one) and the one-time tickets devices hand to Ditto.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("ditto_identity_services")
    .addColumn("app_id", "text", (c) => c.primaryKey().references("apps.id").onDelete("cascade"))
    .addColumn("secret_sealed", "text") // null: requests are not signed
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("ditto_tickets")
    .addColumn("hash", "text", (c) => c.primaryKey()) // SHA-256 of the ticket; the ticket is never stored
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema.createIndex("ditto_tickets_expires").on("ditto_tickets").column("expires_at").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("ditto_tickets").ifExists().execute();
  await db.schema.dropTable("ditto_identity_services").ifExists().execute();
}
