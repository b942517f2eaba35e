import type { Kysely } from "kysely";

// Certificates that end when they should, and Ditto compatibility:
// - apps.certificate_ttl: longest device certificate (seconds); the default is a week,
//   Ditto's offline grace. apps.share_client_info: copy a webhook's clientInfo into the
//   identity peers and APIs see (off: the device alone gets it, in the token response).
// - app_webhooks.ditto_signature_key: how the `ditto-signature` HMAC key is derived from
//   the secret: "base64" (decoded, as Ditto documents) or "utf8" (the secret's text, what
//   the hub did before; existing registrations keep it so their webhooks still verify).
// - sessions.certificate_expires_at: end of the latest certificate issued under the
//   session, so only sessions with live certificates go to the revocation list when they
//   end. sessions.identity_metadata: the webhook's identityServiceMetadata (JSON).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("apps")
    .addColumn("certificate_ttl", "integer", (c) => c.notNull().defaultTo(7 * 86_400))
    .execute();
  await db.schema
    .alterTable("apps")
    .addColumn("share_client_info", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("app_webhooks")
    .addColumn("ditto_signature_key", "text", (c) => c.notNull().defaultTo("utf8"))
    .execute();
  await db.schema.alterTable("sessions").addColumn("certificate_expires_at", "bigint").execute();
  await db.schema.alterTable("sessions").addColumn("identity_metadata", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("sessions").dropColumn("identity_metadata").execute();
  await db.schema.alterTable("sessions").dropColumn("certificate_expires_at").execute();
  await db.schema.alterTable("app_webhooks").dropColumn("ditto_signature_key").execute();
  await db.schema.alterTable("apps").dropColumn("share_client_info").execute();
  await db.schema.alterTable("apps").dropColumn("certificate_ttl").execute();
}
