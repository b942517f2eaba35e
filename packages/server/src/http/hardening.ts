import { MeshauthError } from "@meshauth/core";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { nestedDeeperThan } from "../auth/params.js";

/** Longest user ID the hub accepts anywhere (OIDC claims, webhook userID, custom-auth `sub`). */
export const MAX_USER_ID_LENGTH = 256;

/**
 * Longest path parameter, as sent (percent-encoded): a user ID of MAX_USER_ID_LENGTH
 * characters at 4 UTF-8 bytes each, every byte as `%XX`. So every user the hub accepts
 * can be listed, disabled and have sessions ended over the admin API.
 */
export const MAX_PATH_PARAM_LENGTH = MAX_USER_ID_LENGTH * 12;

/** Deepest nesting of a JSON request body, checked before any handler (or validator) recurses into it. */
export const MAX_JSON_DEPTH = 64;

/** Headers every answer carries (OWASP ASVS 5.0 §3.4, OWASP REST Security). */
const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

function secure(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    if (!reply.hasHeader(name)) reply.header(name, value);
  // JSON is never a document: no scripts, no framing. Pages (the dev mailbox) set their own.
  const type = String(reply.getHeader("content-type") ?? "");
  if (!reply.hasHeader("content-security-policy") && !type.startsWith("text/html"))
    reply.header("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
}

/** Fastify constructor options for the router: path parameters as long as the IDs the hub accepts. */
export const ROUTER_OPTIONS = { maxParamLength: MAX_PATH_PARAM_LENGTH };

/**
 * Fastify's router errors (a too-long or badly encoded path parameter) in the hub's
 * error shape, instead of Fastify's own body that echoes the URL.
 */
export function frameworkErrors(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const description =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? `a path parameter is longer than ${MAX_PATH_PARAM_LENGTH} characters`
      : error.code === "FST_ERR_BAD_URL"
        ? "the URL path is not validly percent-encoded"
        : "the request could not be routed";
  secure(reply);
  reply
    .status(400)
    .header("cache-control", "no-store")
    .send({ error: "invalid_request", error_description: description });
}

/** Body depth bound and security headers, for every route registered after this. */
export function installHardening(http: FastifyInstance): void {
  http.addHook("preValidation", async (req) => {
    if (typeof req.body === "object" && req.body !== null && nestedDeeperThan(req.body, MAX_JSON_DEPTH)) {
      throw new MeshauthError(
        "invalid_request",
        `request body is nested deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
  });
  http.addHook("onSend", async (_req, reply, payload) => {
    secure(reply);
    return payload;
  });
}
