import type { Permissions } from "@meshauth/core";
import type { Kysely } from "kysely";
import { RevocationStore } from "./revocation-store.js";
import type { Database, RefreshTokensTable, SessionsTable, UsersTable } from "./schema.js";

/**
 * Slack after a certificate's end during which its session stays on the revocation list:
 * peers accept certificates up to their clock tolerance (60 s by default) past notAfter.
 */
export const CERTIFICATE_REVOCATION_SLACK_SECONDS = 10 * 60;

export interface UserRecord {
  appId: string;
  userId: string;
  email: string | null;
  name: string | null;
  disabledAt: number | null;
  createdAt: number;
  lastLoginAt: number;
}

export interface SessionRecord {
  id: string;
  appId: string;
  userId: string;
  jkt: string;
  provider: string;
  permissions: Permissions;
  userInfo: Record<string, unknown>;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  idleTtl: number;
  revokedAt: number | null;
  revokedReason: string | null;
  /** End of the latest certificate issued under the session; null when none was. */
  certificateExpiresAt: number | null;
  /** A webhook's identityServiceMetadata: shared with peers in tokens and certificates. */
  identityMetadata?: Record<string, unknown>;
}

export type NewSession = Omit<SessionRecord, "revokedAt" | "revokedReason" | "certificateExpiresAt">;

/** One refresh token of a session (found by the hash of its value). */
export interface RefreshTokenRecord {
  hash: string;
  generation: number;
  /** When it was redeemed or superseded; null while it is the session's current token. */
  usedAt: number | null;
  /** When it was replaced unredeemed after a retry of its predecessor (see TokenService.refresh). */
  supersededAt: number | null;
}

function toSession(r: SessionsTable): SessionRecord {
  return {
    id: r.id,
    appId: r.app_id,
    userId: r.user_id,
    jkt: r.jkt,
    provider: r.provider,
    permissions: JSON.parse(r.permissions) as Permissions,
    userInfo: JSON.parse(r.user_info) as Record<string, unknown>,
    createdAt: Number(r.created_at),
    lastUsedAt: Number(r.last_used_at),
    expiresAt: Number(r.expires_at),
    idleTtl: r.idle_ttl,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revokedReason: r.revoked_reason,
    certificateExpiresAt: r.certificate_expires_at === null ? null : Number(r.certificate_expires_at),
    ...(r.identity_metadata
      ? { identityMetadata: JSON.parse(r.identity_metadata) as Record<string, unknown> }
      : {}),
  };
}

const nullableNumber = (v: number | null): number | null => (v === null ? null : Number(v));

function toRefreshToken(t: RefreshTokensTable): RefreshTokenRecord {
  return {
    hash: t.hash,
    generation: t.generation,
    usedAt: nullableNumber(t.used_at),
    supersededAt: nullableNumber(t.superseded_at),
  };
}

function toUser(r: UsersTable): UserRecord {
  return {
    appId: r.app_id,
    userId: r.user_id,
    email: r.email,
    name: r.name,
    disabledAt: nullableNumber(r.disabled_at),
    createdAt: Number(r.created_at),
    lastLoginAt: Number(r.last_login_at),
  };
}

/** Users, sessions and their rotating refresh tokens. */
export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the user on first login, or records the login; returns the user as stored. */
  async upsertUserOnLogin(
    appId: string,
    userId: string,
    profile: { email?: string; name?: string },
    now: number,
  ): Promise<UserRecord> {
    await this.db
      .insertInto("users")
      .values({
        app_id: appId,
        user_id: userId,
        email: profile.email ?? null,
        name: profile.name ?? null,
        disabled_at: null,
        created_at: now,
        last_login_at: now,
      })
      .onConflict((oc) =>
        oc.columns(["app_id", "user_id"]).doUpdateSet((eb) => ({
          last_login_at: now,
          email: profile.email ?? eb.ref("users.email"),
          name: profile.name ?? eb.ref("users.name"),
        })),
      )
      .execute();
    return (await this.findUser(appId, userId)) as UserRecord;
  }

  async findUser(appId: string, userId: string): Promise<UserRecord | undefined> {
    const r = await this.db
      .selectFrom("users")
      .selectAll()
      .where("app_id", "=", appId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return r && toUser(r);
  }

  async listUsers(appId: string, limit = 1000): Promise<UserRecord[]> {
    const rows = await this.db
      .selectFrom("users")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("created_at")
      .limit(limit)
      .execute();
    return rows.map(toUser);
  }

  async setUserDisabled(appId: string, userId: string, disabledAt: number | null): Promise<boolean> {
    const r = await this.db
      .updateTable("users")
      .set({ disabled_at: disabledAt })
      .where("app_id", "=", appId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async insertSession(s: NewSession, refreshHash: string): Promise<void> {
    await this.db
      .insertInto("sessions")
      .values({
        id: s.id,
        app_id: s.appId,
        user_id: s.userId,
        jkt: s.jkt,
        provider: s.provider,
        permissions: JSON.stringify(s.permissions),
        user_info: JSON.stringify(s.userInfo),
        created_at: s.createdAt,
        last_used_at: s.lastUsedAt,
        expires_at: s.expiresAt,
        idle_ttl: s.idleTtl,
        revoked_at: null,
        revoked_reason: null,
        certificate_expires_at: null,
        identity_metadata: s.identityMetadata ? JSON.stringify(s.identityMetadata) : null,
      })
      .execute();
    await this.insertRefreshToken(s.id, refreshHash, 0, s.createdAt);
  }

  async insertRefreshToken(sessionId: string, hash: string, generation: number, now: number): Promise<void> {
    await this.db
      .insertInto("refresh_tokens")
      .values({
        hash,
        session_id: sessionId,
        generation,
        created_at: now,
        used_at: null,
        superseded_at: null,
      })
      .execute();
  }

  async findSession(id: string): Promise<SessionRecord | undefined> {
    const r = await this.db.selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirst();
    return r && toSession(r);
  }

  /** The refresh token with this hash and its session. */
  async findByRefreshHash(
    hash: string,
  ): Promise<(RefreshTokenRecord & { session: SessionRecord }) | undefined> {
    // One statement: every refresh, revocation and introspection starts here.
    const r = await this.db
      .selectFrom("refresh_tokens")
      .innerJoin("sessions", "sessions.id", "refresh_tokens.session_id")
      .selectAll("sessions")
      .select([
        "refresh_tokens.hash as rt_hash",
        "refresh_tokens.generation as rt_generation",
        "refresh_tokens.used_at as rt_used_at",
        "refresh_tokens.superseded_at as rt_superseded_at",
      ])
      .where("refresh_tokens.hash", "=", hash)
      .executeTakeFirst();
    if (!r) return undefined;
    const { rt_hash, rt_generation, rt_used_at, rt_superseded_at, ...session } = r;
    return {
      session: toSession(session),
      hash: rt_hash,
      generation: rt_generation,
      usedAt: nullableNumber(rt_used_at),
      supersededAt: nullableNumber(rt_superseded_at),
    };
  }

  /** A session's refresh token of the highest generation (the only one that can be unused). */
  async newestRefreshToken(sessionId: string): Promise<RefreshTokenRecord | undefined> {
    const t = await this.db
      .selectFrom("refresh_tokens")
      .selectAll()
      .where("session_id", "=", sessionId)
      .orderBy("generation", "desc")
      .limit(1)
      .executeTakeFirst();
    return t && toRefreshToken(t);
  }

  /** Marks a refresh token used. Of concurrent callers exactly one gets true. */
  async markRefreshUsed(hash: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("refresh_tokens")
      .set({ used_at: now })
      .where("hash", "=", hash)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  /**
   * Marks a never-redeemed refresh token used and superseded, so it can no longer be
   * redeemed. Of concurrent callers (and `markRefreshUsed` callers) exactly one gets true.
   */
  async supersedeRefreshToken(hash: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("refresh_tokens")
      .set({ used_at: now, superseded_at: now })
      .where("hash", "=", hash)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  async touchSession(id: string, now: number): Promise<void> {
    await this.db.updateTable("sessions").set({ last_used_at: now }).where("id", "=", id).execute();
  }

  /**
   * Ends a session, whatever the reason (logout, admin, refresh-token reuse, a disabled or
   * revoked user or device). A session that still has a certificate that has not expired goes
   * onto the app's signed revocation list too, so offline peers stop accepting it.
   */
  async revokeSession(id: string, reason: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("sessions")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) return false;
    const session = await this.findSession(id);
    if (
      session?.certificateExpiresAt != null &&
      session.certificateExpiresAt + CERTIFICATE_REVOCATION_SLACK_SECONDS > now
    ) {
      await new RevocationStore(this.db).add(session.appId, "session", id, now);
    }
    return true;
  }

  /**
   * Notes a certificate issued under a live session (its end, if later than any before).
   * False when the session has ended: no certificate may be issued for it then.
   */
  async noteCertificate(id: string, notAfter: number): Promise<boolean> {
    const r = await this.db
      .updateTable("sessions")
      .set((eb) => ({
        certificate_expires_at: eb
          .case()
          .when("certificate_expires_at", "is", null)
          .then(notAfter)
          .when("certificate_expires_at", "<", notAfter)
          .then(notAfter)
          .else(eb.ref("certificate_expires_at"))
          .end(),
      }))
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Revokes every live session of a user; returns their IDs. */
  revokeUserSessions(appId: string, userId: string, reason: string, now: number): Promise<string[]> {
    return this.#revokeWhere(appId, "user_id", userId, reason, now);
  }

  /** Revokes every live session of one device key; returns their IDs. */
  revokeDeviceSessions(appId: string, jkt: string, reason: string, now: number): Promise<string[]> {
    return this.#revokeWhere(appId, "jkt", jkt, reason, now);
  }

  async #revokeWhere(
    appId: string,
    column: "user_id" | "jkt",
    value: string,
    reason: string,
    now: number,
  ): Promise<string[]> {
    const live = await this.db
      .selectFrom("sessions")
      .select("id")
      .where("app_id", "=", appId)
      .where(column, "=", value)
      .where("revoked_at", "is", null)
      .execute();
    for (const s of live) await this.revokeSession(s.id, reason, now);
    return live.map((s) => s.id);
  }

  async listSessions(appId: string, userId: string): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("app_id", "=", appId)
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .limit(1000)
      .execute();
    return rows.map(toSession);
  }
}
