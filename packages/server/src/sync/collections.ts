import { MeshauthError } from "@meshauth/core";
import { type CollectionSpec, checkCollectionSpec, SYNC_LIMITS } from "@meshauth/sync";
import type { AppService } from "../apps/app-service.js";
import { type Store, UniqueViolation } from "../storage/store.js";
import { type SyncDb, syncDb } from "./schema.js";

export interface DeclaredCollection extends CollectionSpec {
  readonly appId: string;
  readonly createdAt: number;
}

/** The collections apps declare for sync: one service behind the admin API and the CLI. */
export class CollectionService {
  readonly #db: SyncDb;

  constructor(
    store: Store,
    private readonly apps: AppService,
    private readonly now: () => number,
  ) {
    this.#db = syncDb(store.db);
  }

  async add(appRef: string, input: unknown): Promise<DeclaredCollection> {
    const app = await this.apps.resolve(appRef);
    const spec = checkCollectionSpec(input);
    const count = await this.#db
      .selectFrom("sync_collections")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("app_id", "=", app.id)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= SYNC_LIMITS.maxCollections)
      throw new MeshauthError(
        "invalid_request",
        `an app has at most ${SYNC_LIMITS.maxCollections} collections`,
      );
    const createdAt = this.now();
    try {
      await this.#db
        .insertInto("sync_collections")
        .values({
          app_id: app.id,
          name: spec.name,
          id_fields: JSON.stringify(spec.idFields),
          seq: 0,
          created_at: createdAt,
        })
        .execute();
    } catch (e) {
      const err = e as { code?: string; errcode?: number };
      if (
        e instanceof UniqueViolation ||
        err.code === "23505" ||
        String(err.code).startsWith("SQLITE_CONSTRAINT") ||
        (err.code === "ERR_SQLITE_ERROR" && (err.errcode === 1555 || err.errcode === 2067))
      )
        throw new MeshauthError("conflict", `app ${app.name} already has a collection ${spec.name}`);
      throw e;
    }
    return { ...spec, appId: app.id, createdAt };
  }

  async list(appRef: string): Promise<DeclaredCollection[]> {
    const app = await this.apps.resolve(appRef);
    const rows = await this.#db
      .selectFrom("sync_collections")
      .selectAll()
      .where("app_id", "=", app.id)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      name: r.name,
      idFields: JSON.parse(r.id_fields) as string[],
      appId: r.app_id,
      createdAt: Number(r.created_at),
    }));
  }

  /** Removes a collection and every document in it. */
  async remove(appRef: string, name: string): Promise<void> {
    const app = await this.apps.resolve(appRef);
    const removed = await this.#db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom("sync_documents")
        .where("app_id", "=", app.id)
        .where("collection", "=", name)
        .execute();
      return tx
        .deleteFrom("sync_collections")
        .where("app_id", "=", app.id)
        .where("name", "=", name)
        .executeTakeFirst();
    });
    if (Number(removed.numDeletedRows) === 0)
      throw new MeshauthError("not_found", `app ${app.name} has no collection ${name}`);
  }

  /** The collection a sync request names; `unknown_collection` when the app has none of that name. */
  async find(appId: string, name: string): Promise<CollectionSpec> {
    const row = await this.#db
      .selectFrom("sync_collections")
      .select(["name", "id_fields"])
      .where("app_id", "=", appId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row)
      throw new MeshauthError(
        "unknown_collection",
        `this app has no collection ${JSON.stringify(name.slice(0, 64))}`,
      );
    return { name: row.name, idFields: JSON.parse(row.id_fields) as string[] };
  }
}
