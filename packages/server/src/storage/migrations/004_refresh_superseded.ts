import type { Kysely } from "kysely";

// A refresh token that was never redeemed but was replaced because its answer was lost
// on the way to the device (the device retried with the previous token, see
// TokenService.refresh). Such a token may never act as the predecessor of a retry.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("refresh_tokens").addColumn("superseded_at", "bigint").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("refresh_tokens").dropColumn("superseded_at").execute();
}
