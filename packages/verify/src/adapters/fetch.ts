import { VerifyError } from "../errors.js";
import type { MeshauthUser, Verifier } from "../verifier.js";

/**
 * Wraps a fetch-style handler (`Request` -> `Response`: Deno, Bun, Cloudflare Workers,
 * Hono, Next.js route handlers): the handler runs only for a verified request and gets
 * its user; refusals, preflights and the headers they need are answered here.
 */
export function withMeshauth(
  verifier: Verifier,
  handler: (request: Request, user: MeshauthUser) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const origin = request.headers.get("origin") ?? undefined;
    const preflight = verifier.preflight(request);
    if (preflight) return new Response(null, preflight);
    let extra: Record<string, string>;
    let response: Response;
    try {
      const { user, headers } = await verifier.verifyRequest(request);
      extra = headers;
      response = await handler(request, user);
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      extra = {};
      response = error.toResponse();
    }
    // Responses from fetch() have immutable headers; copy into a new one.
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries({ ...extra, ...verifier.corsHeaders(origin) })) {
      headers.set(name, value);
    }
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
