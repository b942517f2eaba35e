import { VerifyError } from "../errors.js";
import type { RequestLike } from "../request.js";
import type { MeshauthUser, Verifier } from "../verifier.js";

// Structural types, so the package needs no Express at run time or for its types.
interface ExpressRequest extends RequestLike {
  originalUrl?: string;
  meshauth?: MeshauthUser;
}
interface ExpressResponse {
  setHeader(name: string, value: string): unknown;
  status(code: number): ExpressResponse;
  json(body: unknown): unknown;
  end(): unknown;
  locals: Record<string, unknown>;
}

/**
 * Express middleware: `app.use(meshauthExpress(verifier))`. A verified request goes on
 * with `req.meshauth` (and `res.locals.meshauth`) set to its user; others are answered.
 */
export function meshauthExpress(verifier: Verifier) {
  return (req: ExpressRequest, res: ExpressResponse, next: (error?: unknown) => void): void => {
    const origin = req.headers["origin" as never] as string | undefined;
    const cors = verifier.corsHeaders(typeof origin === "string" ? origin : undefined);
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    const preflight = verifier.preflight(req);
    if (preflight) {
      for (const [name, value] of Object.entries(preflight.headers)) res.setHeader(name, value);
      res.status(preflight.status).end();
      return;
    }
    // Mounted under a path, Express shortens req.url; the proof is for the full one.
    const url = req.originalUrl ?? req.url;
    verifier.verifyRequest({ method: req.method, url, headers: req.headers }).then(
      ({ user, headers }) => {
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        req.meshauth = user;
        res.locals["meshauth"] = user;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof VerifyError)) return next(error);
        for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        res.setHeader("cache-control", "no-store");
        res.status(error.status).json(error.body);
      },
    );
  };
}
