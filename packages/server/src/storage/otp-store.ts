import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export interface OtpRecord {
  id: string;
  appId: string;
  email: string;
  codeHash: string;
  attempts: number;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** One-time email codes. */
export class OtpStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(otp: Omit<OtpRecord, "attempts" | "usedAt">): Promise<void> {
    await this.db
      .insertInto("otps")
      .values({
        id: otp.id,
        app_id: otp.appId,
        email: otp.email,
        code_hash: otp.codeHash,
        attempts: 0,
        created_at: otp.createdAt,
        expires_at: otp.expiresAt,
        used_at: null,
      })
      .execute();
  }

  async find(id: string): Promise<OtpRecord | undefined> {
    const r = await this.db.selectFrom("otps").selectAll().where("id", "=", id).executeTakeFirst();
    return (
      r && {
        id: r.id,
        appId: r.app_id,
        email: r.email,
        codeHash: r.code_hash,
        attempts: r.attempts,
        createdAt: Number(r.created_at),
        expiresAt: Number(r.expires_at),
        usedAt: r.used_at === null ? null : Number(r.used_at),
      }
    );
  }

  /**
   * Spends one attempt before the code is compared, so concurrent guesses cannot
   * exceed the limit. False when the attempts are used up or the code is spent.
   */
  async takeAttempt(id: string, maxAttempts: number): Promise<boolean> {
    const r = await this.db
      .updateTable("otps")
      .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .where("attempts", "<", maxAttempts)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  /** Marks the code used; of concurrent callers exactly one gets true. */
  async consume(id: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("otps")
      .set({ used_at: now })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }
}
