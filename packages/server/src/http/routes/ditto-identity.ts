import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppService } from "../../apps/app-service.js";
import type { DittoIdentityService } from "../../auth/ditto-identity.js";
import type { DpopContext, DpopHooks } from "../../auth/dpop-hook.js";
import { constantTimeEqual } from "../../crypto/secrets.js";
import type { Store } from "../../storage/store.js";

export interface DittoIdentityRoutesOptions {
  ditto: DittoIdentityService;
  dpopHooks: DpopHooks;
  store: Store;
  apps: AppService;
  adminToken: string;
}

/** Ditto's request bodies are small; the token field holds a ticket. */
const BODY_LIMIT = 16 * 1024;
const MAX_FIELD = 1024;

declare module "fastify" {
  interface FastifyRequest {
    /** The request body exactly as sent (Ditto signs these bytes). */
    dittoRawBody?: string;
  }
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_FIELD)
    throw new MeshauthError("invalid_request", `${name}: expected a string of 1 to ${MAX_FIELD} characters`, {
      field: name,
    });
  return value;
}

/**
 * Reads Ditto's auth webhook request: current `{databaseID, version, provider, token}` or
 * legacy `{appID, provider, token}`. The provider is whatever name the app gave it in
 * Ditto's portal and the IDs are Ditto's own; the ticket alone says which session it is.
 */
function readDittoRequest(body: unknown): { token: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new MeshauthError("invalid_request", "send Ditto's auth webhook request, a JSON object");
  const b = body as Record<string, unknown>;
  const databaseId = field(b, "databaseID");
  const appId = field(b, "appID");
  if (databaseId === undefined && appId === undefined)
    throw new MeshauthError("invalid_request", "databaseID (or legacy appID): required", {
      field: "databaseID",
    });
  if (field(b, "provider") === undefined)
    throw new MeshauthError("invalid_request", "provider: required", { field: "provider" });
  const token = field(b, "token");
  if (token === undefined) throw new MeshauthError("invalid_request", "token: required", { field: "token" });
  return { token };
}

/**
 * The hub as a Ditto app's identity service: `POST /ditto/tickets` for devices (DPoP-bound
 * access token), `POST /apps/:appId/ditto/auth` for Ditto (its auth webhook URL), and the
 * per-app setting under `/admin/apps/:app/ditto-identity-service`.
 */
export async function dittoIdentityRoutes(
  http: FastifyInstance,
  opts: DittoIdentityRoutesOptions,
): Promise<void> {
  const { ditto, dpopHooks, store, apps, adminToken } = opts;

  // Keep the raw text: the signature covers the bytes, not a re-serialisation.
  http.removeContentTypeParser("application/json");
  http.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: BODY_LIMIT },
    (req: FastifyRequest, text: string | Buffer, done) => {
      const raw = typeof text === "string" ? text : text.toString("utf8");
      req.dittoRawBody = raw;
      if (raw.trim() === "") return done(null, {});
      try {
        done(null, JSON.parse(raw));
      } catch {
        done(new MeshauthError("invalid_request", "the body is not valid JSON"), undefined);
      }
    },
  );
  http.addHook("onSend", async (_req, reply) => {
    reply.header("cache-control", "no-store");
  });

  http.post("/ditto/tickets", { preHandler: dpopHooks.require({ accessToken: true }) }, async (req) => {
    const { claims, app } = (req.dpop as Required<DpopContext>).token;
    return ditto.issueTicket(app, claims.sid);
  });

  http.post<{ Params: { appId: string } }>("/apps/:appId/ditto/auth", async (req, reply) => {
    const app = await store.findApp(req.params.appId);
    if (!app) throw new MeshauthError("not_found", "no such app");
    // The signature first: an unsigned caller learns nothing, not even whether a ticket is good.
    const badSignature = await ditto.checkSignature(
      app.id,
      typeof req.headers["ditto-signature"] === "string" ? req.headers["ditto-signature"] : undefined,
      req.dittoRawBody ?? "",
    );
    if (badSignature) return reply.status(401).send(badSignature);
    const { token } = readDittoRequest(req.body);
    const answer = await ditto.redeem(app, token);
    // Ditto's samples refuse with 401 and `authenticate: false`.
    return reply.status(answer.authenticated ? 200 : 401).send(answer);
  });

  await http.register(
    async (admin) => {
      admin.addHook("onRequest", async (req, reply) => {
        const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
        if (!m?.[1] || !constantTimeEqual(m[1], adminToken)) {
          reply.header("www-authenticate", 'Bearer realm="meshauth-admin"');
          throw new MeshauthError("unauthorized", "send the admin token as Authorization: Bearer <token>");
        }
      });
      type P = { Params: { app: string } };
      admin.get<P>("/apps/:app/ditto-identity-service", async (req) =>
        ditto.setting((await apps.resolve(req.params.app)).id),
      );
      admin.put<P>("/apps/:app/ditto-identity-service", async (req) => {
        const app = await apps.resolve(req.params.app);
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (typeof body !== "object" || Array.isArray(body))
          throw new MeshauthError("invalid_request", "send a JSON object");
        const unknown = Object.keys(body).filter((k) => k !== "webhookSecret");
        if (unknown.length > 0)
          throw new MeshauthError("invalid_request", `${unknown[0]}: unknown member; only webhookSecret`, {
            field: unknown[0],
          });
        return ditto.configure(app.id, body.webhookSecret);
      });
      admin.delete<P>("/apps/:app/ditto-identity-service", async (req) => ({
        deleted: await ditto.disable((await apps.resolve(req.params.app)).id),
      }));
    },
    { prefix: "/admin" },
  );
}
