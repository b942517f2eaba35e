import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export interface SecurityEvent {
  id: string;
  appId: string;
  kind: string;
  userId: string | null;
  sessionId: string | null;
  detail: Record<string, unknown>;
  createdAt: number;
}

/**
 * State that every hub process sharing the database must agree on: used DPoP `jti`s,
 * rate-limit counters, and the security event log. Every check-and-set here is one
 * atomic statement, so it stays correct with several processes on one PostgreSQL.
 */
export class GuardStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records a proof ID; true on first use. The primary key makes it atomic. */
  async useJti(id: string, expiresAt: number): Promise<boolean> {
    const r = await this.db
      .insertInto("dpop_jtis")
      .values({ id, expires_at: expiresAt })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Forgets expired entries of the replay cache, rate counters and email codes. */
  async purgeExpired(now: number): Promise<void> {
    await this.db.deleteFrom("dpop_jtis").where("expires_at", "<", now).execute();
    // Counters are kept for a day, longer than any window used.
    await this.db
      .deleteFrom("rate_counters")
      .where("window_start", "<", now - 86_400)
      .execute();
    await this.db
      .deleteFrom("otps")
      .where("expires_at", "<", now - 86_400)
      .execute();
    // Ended sessions stay a month for the admin's view, then go with their refresh tokens.
    await this.db
      .deleteFrom("sessions")
      .where("expires_at", "<", now - 30 * 86_400)
      .execute();
  }

  /** Adds one to a fixed-window counter and returns the new count. */
  async hit(key: string, windowSeconds: number, now: number): Promise<number> {
    const windowStart = now - (now % windowSeconds);
    const row = await this.db
      .insertInto("rate_counters")
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) =>
        oc
          .columns(["key", "window_start"])
          .doUpdateSet((eb) => ({ count: eb("rate_counters.count", "+", 1) })),
      )
      .returning("count")
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** The current count of a fixed-window counter, without adding to it. */
  async count(key: string, windowSeconds: number, now: number): Promise<number> {
    const windowStart = now - (now % windowSeconds);
    const row = await this.db
      .selectFrom("rate_counters")
      .select("count")
      .where("key", "=", key)
      .where("window_start", "=", windowStart)
      .executeTakeFirst();
    return row ? Number(row.count) : 0;
  }

  async recordEvent(e: Omit<SecurityEvent, "id">): Promise<SecurityEvent> {
    const event = { ...e, id: randomUUID() };
    await this.db
      .insertInto("security_events")
      .values({
        id: event.id,
        app_id: e.appId,
        kind: e.kind,
        user_id: e.userId,
        session_id: e.sessionId,
        detail: JSON.stringify(e.detail),
        created_at: e.createdAt,
      })
      .execute();
    return event;
  }

  async listEvents(appId: string, limit = 100): Promise<SecurityEvent[]> {
    const rows = await this.db
      .selectFrom("security_events")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("created_at", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      appId: r.app_id,
      kind: r.kind,
      userId: r.user_id,
      sessionId: r.session_id,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
      createdAt: Number(r.created_at),
    }));
  }
}
