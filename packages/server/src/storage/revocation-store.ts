import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export const REVOCATION_KINDS = ["user", "device", "session", "serial"] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export interface RevocationState {
  version: number;
  updatedAt: number;
  entries: Record<RevocationKind, string[]>;
}

/** The revocation list's contents and its version, which grows with every change. */
export class RevocationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async #bump(appId: string, now: number): Promise<void> {
    await this.db
      .insertInto("revocation_versions")
      .values({ app_id: appId, version: 1, updated_at: now })
      .onConflict((oc) =>
        oc
          .column("app_id")
          .doUpdateSet((eb) => ({ version: eb("revocation_versions.version", "+", 1), updated_at: now })),
      )
      .execute();
  }

  /** Adds an entry; returns false (and leaves the version) if it was already there. */
  async add(appId: string, kind: RevocationKind, value: string, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto("revocations")
      .values({ app_id: appId, kind, value, created_at: now })
      .onConflict((oc) => oc.columns(["app_id", "kind", "value"]).doNothing())
      .executeTakeFirst();
    const added = Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    if (added) await this.#bump(appId, now);
    return added;
  }

  async remove(appId: string, kind: RevocationKind, value: string, now: number): Promise<boolean> {
    const r = await this.db
      .deleteFrom("revocations")
      .where("app_id", "=", appId)
      .where("kind", "=", kind)
      .where("value", "=", value)
      .executeTakeFirst();
    const removed = r.numDeletedRows > 0n;
    if (removed) await this.#bump(appId, now);
    return removed;
  }

  async state(appId: string): Promise<RevocationState> {
    const [rows, version] = await Promise.all([
      this.db
        .selectFrom("revocations")
        .select(["kind", "value"])
        .where("app_id", "=", appId)
        .orderBy("created_at")
        .orderBy("value")
        .execute(),
      this.db.selectFrom("revocation_versions").selectAll().where("app_id", "=", appId).executeTakeFirst(),
    ]);
    const entries: Record<RevocationKind, string[]> = { user: [], device: [], session: [], serial: [] };
    for (const r of rows) entries[r.kind as RevocationKind]?.push(r.value);
    return { version: version?.version ?? 0, updatedAt: version ? Number(version.updated_at) : 0, entries };
  }
}
