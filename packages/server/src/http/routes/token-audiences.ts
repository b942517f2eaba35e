import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import type { TokenAudiences } from "../../apps/token-audiences.js";
import { isRecord } from "../../apps/validate.js";

export interface TokenAudienceRoutesOptions {
  audiences: TokenAudiences;
}

type AppParams = { Params: { app: string }; Querystring: { audience?: string } };

/**
 * `/admin/apps/:app/token-audiences`: the services an app's users may get bearer JWTs
 * for, and each one's claim shape. Registered inside the admin plugin (its token check).
 */
export async function tokenAudienceRoutes(
  app: FastifyInstance,
  opts: TokenAudienceRoutesOptions,
): Promise<void> {
  const { audiences } = opts;
  app.get<AppParams>("/apps/:app/token-audiences", async (req) => ({
    audiences: await audiences.list(req.params.app),
  }));
  // Create or replace: {audience, ttlSeconds?, role?, permissionsClaim?, appClaim?, claims?, userInfoClaims?}.
  app.post<AppParams>("/apps/:app/token-audiences", async (req, reply) => {
    if (!isRecord(req.body))
      throw new MeshauthError("invalid_request", "send the audience's settings as a JSON object");
    const { audience, ...settings } = req.body;
    reply.code(201);
    return audiences.put(req.params.app, audience, settings);
  });
  app.delete<AppParams>("/apps/:app/token-audiences", async (req, reply) => {
    const audience = req.query.audience;
    if (!audience)
      throw new MeshauthError("invalid_request", "audience: name it in the query (?audience=...)");
    await audiences.remove(req.params.app, audience);
    reply.code(204);
  });
}
