import { type ErrorCode, MeshauthError } from "@meshauth/core";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { storageUnavailable } from "../storage/unavailable.js";
import { installHardening } from "./hardening.js";

/** The HTTP status for each stable error code. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_client: 401,
  unauthorized: 401,
  invalid_token: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unknown_collection: 404,
  document_too_large: 413,
  batch_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_attempts: 429,
  user_disabled: 403,
  provider_disabled: 403,
  provider_unavailable: 502,
  unavailable: 503,
  internal_error: 500,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

export interface ErrorBody {
  error: ErrorCode;
  error_description: string;
  [extra: string]: unknown;
}

export function errorBody(err: MeshauthError): ErrorBody {
  return { ...err.details, error: err.code, error_description: err.message };
}

/** Errors a resource route answers 401 with a `WWW-Authenticate: DPoP` challenge. */
const challenged = new WeakSet<MeshauthError>();

/** RFC 9449 §7.1 error codes; meshauth's own (`clock_skew`) travel as `meshauth_error`. */
const DPOP_CHALLENGE_CODES = new Set(["invalid_token", "invalid_dpop_proof", "use_dpop_nonce"]);

/**
 * A resource request's failed access token or proof, as RFC 9449 §7.1 answers it: 401
 * with `WWW-Authenticate: DPoP error="...", algs="ES256 EdDSA"`. The body carries the
 * same code (and meshauth's precise one as `meshauth_error` where it differs).
 */
export function challenge(reply: FastifyReply, err: MeshauthError): MeshauthError {
  const code = DPOP_CHALLENGE_CODES.has(err.code) ? err.code : "invalid_dpop_proof";
  const out =
    code === err.code
      ? err
      : new MeshauthError(code, err.message, { ...err.details, meshauth_error: err.code });
  const description = err.message.replace(/["\\\r\n]/g, " ");
  reply.header(
    "www-authenticate",
    `DPoP error="${code}", error_description="${description}", algs="ES256 EdDSA"`,
  );
  challenged.add(out);
  return out;
}

/** Maps fastify's own errors (body parsing, limits, schemas) to stable codes. */
function fromFastify(err: FastifyError): MeshauthError | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new MeshauthError("payload_too_large", "request body is larger than this hub accepts");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new MeshauthError(
        "unsupported_media_type",
        "send application/json (or application/x-www-form-urlencoded where documented)",
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new MeshauthError("invalid_request", "request body is empty; expected JSON");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new MeshauthError("invalid_request", "Content-Length does not match the body");
  }
  if (err.validation)
    return new MeshauthError(
      "invalid_request",
      `${err.validationContext ?? "request"}${err.message.replace(/^[a-z]+/, "")}`,
    );
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new MeshauthError("invalid_request", `request body is not valid JSON: ${err.message}`);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new MeshauthError("invalid_request", err.message);
  }
  return undefined;
}

/**
 * Every error is answered as JSON with a stable `error` code; unexpected errors are
 * logged and answered as `internal_error` without any detail.
 */
export function installErrorHandling(app: FastifyInstance): void {
  installHardening(app);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A database that is down or full is a 503 to retry, not a 500 (storage/unavailable.ts).
    const known = error instanceof MeshauthError ? error : (fromFastify(error) ?? storageUnavailable(error));
    if (known) {
      const status = challenged.has(known) ? 401 : statusOf(known.code);
      // RFC 9449 §8: the nonce to use travels in the DPoP-Nonce header.
      if (typeof known.details.nonce === "string") reply.header("dpop-nonce", known.details.nonce);
      if (typeof known.details.retry_after === "number")
        reply.header("retry-after", String(known.details.retry_after));
      if (known.code === "invalid_client" && !reply.hasHeader("www-authenticate"))
        reply.header("www-authenticate", 'Basic realm="meshauth"');
      if (status === 400 || status === 401 || status === 429) reply.header("cache-control", "no-store");
      // A webhook's or IdP's fault (502) is theirs: a warning with what went wrong, no stack.
      if (status === 502) request.log.warn({ code: known.code, ...known.details }, known.message);
      else if (status >= 500) request.log.error({ err: error }, known.message);
      return reply.status(status).send(errorBody(known));
    }
    request.log.error({ err: error }, "unhandled error");
    return reply.status(500).send({
      error: "internal_error",
      error_description: "the hub failed to handle this request; see its log",
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: "not_found",
      error_description: `no route ${request.method} ${request.url.split("?")[0]}`,
    });
  });
}
