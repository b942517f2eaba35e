import { VerifyError } from "../errors.js";
import type { RequestLike } from "../request.js";
import type { MeshauthUser, Verifier } from "../verifier.js";

// Structural types, so the package needs no Fastify at run time or for its types.
interface FastifyRequestLike extends RequestLike {
  meshauth?: MeshauthUser;
}
interface FastifyReplyLike {
  header(name: string, value: string): unknown;
  code(status: number): FastifyReplyLike;
  send(body?: unknown): unknown;
}

/**
 * A Fastify `onRequest` hook: `app.addHook("onRequest", meshauthFastify(verifier))`
 * (in a plugin, to cover only its routes). A verified request gets `request.meshauth`;
 * others are answered before any handler runs. TypeScript users can declare
 * `meshauth?: MeshauthUser` on FastifyRequest.
 */
export function meshauthFastify(verifier: Verifier) {
  return async (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<void> => {
    const origin = request.headers["origin" as never] as string | undefined;
    for (const [name, value] of Object.entries(verifier.corsHeaders(origin))) reply.header(name, value);
    const preflight = verifier.preflight(request);
    if (preflight) {
      for (const [name, value] of Object.entries(preflight.headers)) reply.header(name, value);
      await reply.code(preflight.status).send();
      return;
    }
    try {
      const { user, headers } = await verifier.verifyRequest(request);
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      request.meshauth = user;
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
      reply.header("cache-control", "no-store");
      await reply.code(error.status).send(error.body);
    }
  };
}
