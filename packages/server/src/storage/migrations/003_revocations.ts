import type { Kysely } from "kysely";

// What peers must refuse even offline: revoked users, devices (key thumbprints),
// sessions and certificate serials, with a per-app version that only grows.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("revocations")
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("revocations_pk", ["app_id", "kind", "value"])
    .execute();
  await db.schema
    .createTable("revocation_versions")
    .addColumn("app_id", "text", (c) => c.primaryKey().references("apps.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("revocation_versions").ifExists().execute();
  await db.schema.dropTable("revocations").ifExists().execute();
}
