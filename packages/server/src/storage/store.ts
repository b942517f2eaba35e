import type { Permissions } from "@meshauth/core";
import { type Kysely, type Selectable, sql, type Updateable } from "kysely";
import type {
  App,
  AppSecretInfo,
  EmailSettings,
  OidcClaimMapping,
  OidcProvider,
  ProviderKind,
  WebhookProvider,
} from "../apps/model.js";
import type { Engine } from "./database.js";
import { GuardStore } from "./guard-store.js";
import { OtpStore } from "./otp-store.js";
import { RevocationStore } from "./revocation-store.js";
import type { AppsTable, Database, SigningKeysTable } from "./schema.js";
import { SessionStore } from "./session-store.js";

export interface NewApp extends Omit<App, "hasPlaygroundToken" | "createdAt" | "updatedAt"> {
  playgroundTokenHash: string | null;
}

export type AppPatch = Partial<
  Pick<
    App,
    | "name"
    | "providers"
    | "accessTokenTtl"
    | "sessionAbsoluteTtl"
    | "sessionIdleTtl"
    | "certificateTtl"
    | "shareClientInfo"
    | "corsOrigins"
    | "email"
    | "defaultPermissions"
  >
> & { playgroundTokenHash?: string | null };

export interface StoredWebhook extends WebhookProvider {
  secretSealed: string;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateKeySealed: string | null;
  createdAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
}

/** Raised when a unique constraint refuses a write (a duplicate name, say). */
export class UniqueViolation extends Error {
  override name = "UniqueViolation";
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errcode?: number } | null;
  // PostgreSQL: 23505; better-sqlite3: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY;
  // node:sqlite: the same as extended result codes 2067 / 1555.
  return (
    err?.code === "23505" ||
    err?.code === "SQLITE_CONSTRAINT_UNIQUE" ||
    err?.code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    (err?.code === "ERR_SQLITE_ERROR" && (err.errcode === 2067 || err.errcode === 1555))
  );
}

async function unique<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isUniqueViolation(e)) throw new UniqueViolation(what);
    throw e;
  }
}

function toApp(row: Selectable<AppsTable>): App {
  return {
    id: row.id,
    name: row.name,
    providers: JSON.parse(row.providers) as ProviderKind[],
    accessTokenTtl: row.access_token_ttl,
    sessionAbsoluteTtl: row.session_absolute_ttl,
    sessionIdleTtl: row.session_idle_ttl,
    certificateTtl: Number(row.certificate_ttl),
    shareClientInfo: Number(row.share_client_info) === 1,
    hasPlaygroundToken: row.playground_token_hash !== null,
    corsOrigins: JSON.parse(row.cors_origins) as string[],
    email: JSON.parse(row.email) as EmailSettings,
    defaultPermissions: JSON.parse(row.default_permissions) as Permissions,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toKey(row: SigningKeysTable): SigningKeyRow {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    privateKeySealed: row.private_key_sealed,
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
    publishUntil: row.publish_until === null ? null : Number(row.publish_until),
  };
}

/**
 * The hub's one repository: every read and write of persistent state goes through it,
 * over Kysely, so SQLite and PostgreSQL behave the same. Rows are mapped to domain
 * types here; nothing above this layer sees JSON columns or SQL.
 */
export class Store {
  readonly sessions: SessionStore;
  readonly otps: OtpStore;
  readonly guards: GuardStore;
  readonly revocations: RevocationStore;

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
  ) {
    this.sessions = new SessionStore(db);
    this.otps = new OtpStore(db);
    this.guards = new GuardStore(db);
    this.revocations = new RevocationStore(db);
  }

  /** Runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(new Store(trx, this.engine)));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // --- apps ---------------------------------------------------------------

  async insertApp(app: NewApp, now: number): Promise<App> {
    const row: Selectable<AppsTable> = {
      id: app.id,
      name: app.name,
      providers: JSON.stringify(app.providers),
      access_token_ttl: app.accessTokenTtl,
      session_absolute_ttl: app.sessionAbsoluteTtl,
      session_idle_ttl: app.sessionIdleTtl,
      certificate_ttl: app.certificateTtl,
      share_client_info: app.shareClientInfo ? 1 : 0,
      playground_token_hash: app.playgroundTokenHash,
      cors_origins: JSON.stringify(app.corsOrigins),
      email: JSON.stringify(app.email),
      default_permissions: JSON.stringify(app.defaultPermissions),
      created_at: now,
      updated_at: now,
    };
    await unique(`an app named ${JSON.stringify(app.name)} already exists`, () =>
      this.db.insertInto("apps").values(row).execute(),
    );
    return toApp(row);
  }

  async findApp(id: string): Promise<App | undefined> {
    const row = await this.db.selectFrom("apps").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toApp(row);
  }

  async findAppByName(name: string): Promise<App | undefined> {
    const row = await this.db.selectFrom("apps").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toApp(row);
  }

  async playgroundTokenHash(appId: string): Promise<string | null | undefined> {
    const row = await this.db
      .selectFrom("apps")
      .select("playground_token_hash")
      .where("id", "=", appId)
      .executeTakeFirst();
    return row?.playground_token_hash;
  }

  async listApps(): Promise<App[]> {
    const rows = await this.db.selectFrom("apps").selectAll().orderBy("created_at").orderBy("name").execute();
    return rows.map(toApp);
  }

  async updateApp(id: string, patch: AppPatch, now: number): Promise<App | undefined> {
    const set: Updateable<AppsTable> = { updated_at: now };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.providers !== undefined) set.providers = JSON.stringify(patch.providers);
    if (patch.accessTokenTtl !== undefined) set.access_token_ttl = patch.accessTokenTtl;
    if (patch.sessionAbsoluteTtl !== undefined) set.session_absolute_ttl = patch.sessionAbsoluteTtl;
    if (patch.sessionIdleTtl !== undefined) set.session_idle_ttl = patch.sessionIdleTtl;
    if (patch.certificateTtl !== undefined) set.certificate_ttl = patch.certificateTtl;
    if (patch.shareClientInfo !== undefined) set.share_client_info = patch.shareClientInfo ? 1 : 0;
    if (patch.corsOrigins !== undefined) set.cors_origins = JSON.stringify(patch.corsOrigins);
    if (patch.email !== undefined) set.email = JSON.stringify(patch.email);
    if (patch.defaultPermissions !== undefined)
      set.default_permissions = JSON.stringify(patch.defaultPermissions);
    if (patch.playgroundTokenHash !== undefined) set.playground_token_hash = patch.playgroundTokenHash;
    const result = await unique(`an app named ${JSON.stringify(patch.name)} already exists`, () =>
      this.db.updateTable("apps").set(set).where("id", "=", id).executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n ? this.findApp(id) : undefined;
  }

  async deleteApp(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("apps").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // --- client secrets -----------------------------------------------------

  async insertSecret(
    appId: string,
    secret: { id: string; label: string; hash: string },
    now: number,
  ): Promise<AppSecretInfo> {
    await this.db
      .insertInto("app_secrets")
      .values({
        id: secret.id,
        app_id: appId,
        label: secret.label,
        secret_hash: secret.hash,
        created_at: now,
        revoked_at: null,
      })
      .execute();
    return { id: secret.id, label: secret.label, createdAt: now, revokedAt: null };
  }

  async listSecrets(appId: string): Promise<AppSecretInfo[]> {
    const rows = await this.db
      .selectFrom("app_secrets")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      createdAt: Number(r.created_at),
      revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    }));
  }

  /** The hash of an app's unrevoked secret, for authenticating its backend. */
  async activeSecretHash(appId: string, secretId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("app_secrets")
      .select("secret_hash")
      .where("app_id", "=", appId)
      .where("id", "=", secretId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return row?.secret_hash;
  }

  async revokeSecret(appId: string, secretId: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("app_secrets")
      .set({ revoked_at: now })
      .where("app_id", "=", appId)
      .where("id", "=", secretId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  // --- login providers ----------------------------------------------------

  async insertWebhook(appId: string, hook: StoredWebhook): Promise<void> {
    await unique(`a webhook provider named ${JSON.stringify(hook.name)} already exists`, () =>
      this.db
        .insertInto("app_webhooks")
        .values({
          app_id: appId,
          name: hook.name,
          url: hook.url,
          secret_sealed: hook.secretSealed,
          ditto_signature: hook.dittoSignature ? 1 : 0,
          ditto_signature_key: hook.dittoSignatureKey,
          timeout_ms: hook.timeoutMs,
          created_at: hook.createdAt,
        })
        .execute(),
    );
  }

  async listWebhooks(appId: string): Promise<StoredWebhook[]> {
    const rows = await this.db
      .selectFrom("app_webhooks")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      name: r.name,
      url: r.url,
      secretSealed: r.secret_sealed,
      dittoSignature: Number(r.ditto_signature) === 1,
      dittoSignatureKey: r.ditto_signature_key === "base64" ? ("base64" as const) : ("utf8" as const),
      timeoutMs: r.timeout_ms,
      createdAt: Number(r.created_at),
    }));
  }

  async deleteWebhook(appId: string, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom("app_webhooks")
      .where("app_id", "=", appId)
      .where("name", "=", name)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async insertOidcProvider(appId: string, p: OidcProvider): Promise<void> {
    await unique(`an OIDC provider named ${JSON.stringify(p.name)} already exists`, () =>
      this.db
        .insertInto("app_oidc_providers")
        .values({
          app_id: appId,
          name: p.name,
          issuer: p.issuer,
          audience: p.audience,
          jwks_uri: p.jwksUri,
          mapping: JSON.stringify(p.mapping),
          created_at: p.createdAt,
        })
        .execute(),
    );
  }

  async listOidcProviders(appId: string): Promise<OidcProvider[]> {
    const rows = await this.db
      .selectFrom("app_oidc_providers")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      name: r.name,
      issuer: r.issuer,
      audience: r.audience,
      jwksUri: r.jwks_uri,
      mapping: JSON.parse(r.mapping) as OidcClaimMapping,
      createdAt: Number(r.created_at),
    }));
  }

  async deleteOidcProvider(appId: string, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom("app_oidc_providers")
      .where("app_id", "=", appId)
      .where("name", "=", name)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  // --- certificate authorities -------------------------------------------

  async insertAuthority(
    appId: string,
    ca: { certificatePem: string; privateKeySealed: string },
    now: number,
  ): Promise<void> {
    await this.db
      .insertInto("app_authorities")
      .values({
        app_id: appId,
        certificate_pem: ca.certificatePem,
        private_key_sealed: ca.privateKeySealed,
        created_at: now,
      })
      .execute();
  }

  async findAuthority(
    appId: string,
  ): Promise<{ certificatePem: string; privateKeySealed: string } | undefined> {
    const row = await this.db
      .selectFrom("app_authorities")
      .selectAll()
      .where("app_id", "=", appId)
      .executeTakeFirst();
    return row && { certificatePem: row.certificate_pem, privateKeySealed: row.private_key_sealed };
  }

  // --- signing keys -------------------------------------------------------

  async insertSigningKey(key: SigningKeyRow): Promise<void> {
    await this.db
      .insertInto("signing_keys")
      .values({
        kid: key.kid,
        alg: key.alg,
        public_jwk: JSON.stringify(key.publicJwk),
        private_key_sealed: key.privateKeySealed,
        created_at: key.createdAt,
        retired_at: key.retiredAt,
        publish_until: key.publishUntil,
      })
      .execute();
  }

  /** Keys whose tokens may still be in use: the active one and retired ones still published. */
  async publishedSigningKeys(now: number): Promise<SigningKeyRow[]> {
    const rows = await this.db
      .selectFrom("signing_keys")
      .selectAll()
      .where((eb) => eb.or([eb("publish_until", "is", null), eb("publish_until", ">", now)]))
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toKey);
  }

  async allSigningKeys(): Promise<SigningKeyRow[]> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().orderBy("created_at", "desc").execute();
    return rows.map(toKey);
  }

  /** Retires every active key except `keepKid`, keeping it published until `publishUntil`. */
  async retireSigningKeys(keepKid: string, now: number, publishUntil: number): Promise<number> {
    const r = await this.db
      .updateTable("signing_keys")
      .set({ retired_at: now, publish_until: publishUntil })
      .where("retired_at", "is", null)
      .where("kid", "!=", keepKid)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Ends a scheduled handover now (emergency rotation): keys set to retire later retire at `now`. */
  async retireScheduledSigningKeys(keepKid: string, now: number, publishUntil: number): Promise<number> {
    const r = await this.db
      .updateTable("signing_keys")
      .set({ retired_at: now, publish_until: publishUntil })
      .where("retired_at", ">", now)
      .where("kid", "!=", keepKid)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Forgets the private half of keys no longer published; returns their number. */
  async purgeSigningKeys(now: number): Promise<number> {
    const r = await this.db
      .updateTable("signing_keys")
      .set({ private_key_sealed: null })
      .where("publish_until", "<=", now)
      .where("private_key_sealed", "is not", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // --- hub settings -------------------------------------------------------

  async getSetting(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("hub_settings")
      .select("value")
      .where("key", "=", key)
      .executeTakeFirst();
    return row?.value;
  }

  /** Sets a value only if absent; returns the value that is stored afterwards (race-safe). */
  async setSettingIfAbsent(key: string, value: string, now: number): Promise<string> {
    await this.db
      .insertInto("hub_settings")
      .values({ key, value, updated_at: now })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    return (await this.getSetting(key)) as string;
  }
}
