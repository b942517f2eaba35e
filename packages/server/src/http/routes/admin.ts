import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppService } from "../../apps/app-service.js";
import type { TokenAudiences } from "../../apps/token-audiences.js";
import { Revocations } from "../../auth/revocations.js";
import type { SessionAdmin } from "../../auth/session-admin.js";
import { constantTimeEqual } from "../../crypto/secrets.js";
import type { SigningKeys } from "../../keys/signing-keys.js";
import { tokenAudienceRoutes } from "./token-audiences.js";

export interface AdminRoutesOptions {
  adminToken: string;
  apps: AppService;
  keys: SigningKeys;
  sessions: SessionAdmin;
  revocations: Revocations;
  /** Bearer-token audiences (/admin/apps/:app/token-audiences); left out, those routes are too. */
  audiences?: TokenAudiences;
}

type AppParams = { Params: { app: string } };
type NamedParams = { Params: { app: string; name: string } };
type UserParams = { Params: { app: string; user: string } };

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The admin API under /admin, behind the admin bearer token (compared in constant time). */
export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions): Promise<void> {
  const { apps, keys, adminToken, sessions, revocations } = opts;

  app.addHook("onRequest", async (req, reply) => {
    const presented = bearer(req);
    if (presented === undefined || !constantTimeEqual(presented, adminToken)) {
      reply.header("www-authenticate", 'Bearer realm="meshauth-admin"');
      throw new MeshauthError(
        "unauthorized",
        presented === undefined
          ? "send the admin token as Authorization: Bearer <token>"
          : "wrong admin token",
      );
    }
  });

  // Answers may carry secrets shown once (client secrets, playground tokens).
  app.addHook("onSend", async (_req, reply) => {
    reply.header("cache-control", "no-store");
  });

  app.get("/apps", async () => ({ apps: await apps.list() }));
  app.post("/apps", async (req, reply) => {
    reply.status(201);
    return apps.create(req.body);
  });
  app.get<AppParams>("/apps/:app", async (req) => apps.details(req.params.app));
  app.patch<AppParams>("/apps/:app", async (req) => apps.update(req.params.app, req.body));
  app.delete<AppParams>("/apps/:app", async (req) => ({ deleted: await apps.delete(req.params.app) }));

  app.post<AppParams>("/apps/:app/playground-token", async (req) =>
    apps.rotatePlaygroundToken(req.params.app),
  );

  app.post<AppParams>("/apps/:app/secrets", async (req, reply) => {
    reply.status(201);
    return apps.addSecret(req.params.app, req.body ?? {});
  });
  app.delete<NamedParams>("/apps/:app/secrets/:name", async (req, reply) => {
    await apps.revokeSecret(req.params.app, req.params.name);
    reply.status(204);
  });

  app.post<AppParams>("/apps/:app/webhooks", async (req, reply) => {
    reply.status(201);
    return apps.addWebhook(req.params.app, req.body);
  });
  app.delete<NamedParams>("/apps/:app/webhooks/:name", async (req, reply) => {
    await apps.removeWebhook(req.params.app, req.params.name);
    reply.status(204);
  });

  app.post<AppParams>("/apps/:app/oidc-providers", async (req, reply) => {
    reply.status(201);
    return { provider: await apps.addOidcProvider(req.params.app, req.body) };
  });
  app.delete<NamedParams>("/apps/:app/oidc-providers/:name", async (req, reply) => {
    await apps.removeOidcProvider(req.params.app, req.params.name);
    reply.status(204);
  });

  app.get<AppParams>("/apps/:app/users", async (req) => ({ users: await sessions.users(req.params.app) }));
  app.get<UserParams>("/apps/:app/users/:user/sessions", async (req) => ({
    sessions: await sessions.sessions(req.params.app, req.params.user),
  }));
  app.delete<UserParams>("/apps/:app/users/:user/sessions", async (req) => ({
    revoked: await sessions.revokeUserSessions(req.params.app, req.params.user),
  }));
  app.post<UserParams>("/apps/:app/users/:user/disable", async (req) =>
    sessions.setDisabled(req.params.app, req.params.user, true),
  );
  app.post<UserParams>("/apps/:app/users/:user/enable", async (req) =>
    sessions.setDisabled(req.params.app, req.params.user, false),
  );
  app.delete<NamedParams>("/apps/:app/sessions/:name", async (req, reply) => {
    await sessions.revokeSession(req.params.app, req.params.name);
    reply.status(204);
  });
  app.get<AppParams>("/apps/:app/security-events", async (req) => ({
    events: await sessions.events(req.params.app),
  }));

  app.get<AppParams>("/apps/:app/revocations", async (req) => revocations.state(req.params.app));
  app.post<AppParams>("/apps/:app/revocations", async (req, reply) => {
    const body = (req.body ?? {}) as { kind?: unknown; value?: unknown };
    reply.status(201);
    return revocations.revoke(req.params.app, Revocations.kind(body.kind), body.value as string);
  });
  app.delete<{ Params: { app: string; kind: string; value: string } }>(
    "/apps/:app/revocations/:kind/:value",
    async (req) => revocations.unrevoke(req.params.app, Revocations.kind(req.params.kind), req.params.value),
  );

  if (opts.audiences) await app.register(tokenAudienceRoutes, { audiences: opts.audiences });

  app.get("/keys", async () => ({ keys: await keys.list() }));
  // `{"immediate": true}`: emergency, the new key signs at once (see docs/cli.md, keys rotate).
  app.post("/keys/rotate", async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (
      typeof body !== "object" ||
      Array.isArray(body) ||
      (body.immediate !== undefined && typeof body.immediate !== "boolean")
    )
      throw new MeshauthError("invalid_request", "immediate: expected true or false");
    return keys.rotate({ immediate: body.immediate === true });
  });
}
