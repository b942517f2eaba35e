import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import { constantTimeEqual } from "../crypto/secrets.js";
import type { CollectionService } from "./collections.js";

export interface CollectionAdminOptions {
  adminToken: string;
  collections: CollectionService;
}

type AppParams = { Params: { app: string } };
type NamedParams = { Params: { app: string; name: string } };

/** /admin/apps/:app/collections: declare, list and remove an app's synced collections. */
export async function collectionAdminRoutes(
  http: FastifyInstance,
  opts: CollectionAdminOptions,
): Promise<void> {
  const { collections, adminToken } = opts;
  // The same admin bearer check as the rest of /admin (constant-time compare).
  http.addHook("onRequest", async (req, reply) => {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!m?.[1] || !constantTimeEqual(m[1], adminToken)) {
      reply.header("www-authenticate", 'Bearer realm="meshauth-admin"');
      throw new MeshauthError(
        "unauthorized",
        m?.[1] ? "wrong admin token" : "send the admin token as Authorization: Bearer <token>",
      );
    }
    reply.header("cache-control", "no-store");
  });
  http.get<AppParams>("/apps/:app/collections", async (req) => ({
    collections: (await collections.list(req.params.app)).map(({ name, idFields, createdAt }) => ({
      name,
      idFields,
      createdAt,
    })),
  }));
  http.post<AppParams>("/apps/:app/collections", async (req, reply) => {
    const { name, idFields, createdAt } = await collections.add(req.params.app, req.body);
    reply.status(201);
    return { name, idFields, createdAt };
  });
  http.delete<NamedParams>("/apps/:app/collections/:name", async (req) => {
    await collections.remove(req.params.app, req.params.name);
    return { deleted: true };
  });
}
