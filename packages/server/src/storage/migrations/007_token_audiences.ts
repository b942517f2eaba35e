import type { Kysely } from "kysely";

// Audiences an app's users may get short-lived bearer JWTs for (RFC 8693 exchange of a
// DPoP-bound session), with the claim shape each audience expects.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("token_audiences")
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("audience", "text", (c) => c.notNull())
    .addColumn("ttl_seconds", "integer", (c) => c.notNull())
    .addColumn("shape", "text", (c) => c.notNull()) // JSON TokenShape
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("token_audiences_pk", ["app_id", "audience"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("token_audiences").ifExists().execute();
}
