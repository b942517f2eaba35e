import type { FastifyInstance } from "fastify";
import { sharedSecret } from "../auth/hub-secrets.js";
import type { HubCore } from "../hub.js";
import { collectionAdminRoutes } from "./admin-routes.js";
import { localChangeFeed, postgresChangeFeed } from "./change-feed.js";
import { CheckpointSeal } from "./checkpoint.js";
import { CollectionService } from "./collections.js";
import { DocumentStore } from "./document-store.js";
import { syncRoutes } from "./routes.js";
import { SignedWrites } from "./signatures.js";

export { CollectionService, type DeclaredCollection } from "./collections.js";
export { DocumentStore } from "./document-store.js";

/** Adds sync (the /sync endpoints and /admin/apps/:app/collections) to the hub's HTTP service. */
export async function registerSync(http: FastifyInstance, core: HubCore): Promise<void> {
  const { config, store } = core;
  const seal = new CheckpointSeal(await sharedSecret(store, core.box, "sync-checkpoint", core.now()));
  const feed =
    config.database.kind === "postgres"
      ? postgresChangeFeed(config.database.url, (msg, err) => core.log.warn({ err }, msg))
      : localChangeFeed();
  const collections = new CollectionService(store, core.apps, core.now);
  await http.register(syncRoutes, {
    store,
    tokens: core.tokens,
    dpop: core.dpop,
    collections,
    documents: new DocumentStore(store, store.engine),
    feed,
    seal,
    signatures: new SignedWrites(store),
    now: core.now,
  });
  await http.register(collectionAdminRoutes, { prefix: "/admin", adminToken: core.adminToken, collections });
}
