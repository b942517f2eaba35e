import { createHmac, randomBytes } from "node:crypto";
import { MeshauthError, type Permissions, PermissionsError, validatePermissions } from "@meshauth/core";
import type { WebhookProvider } from "../apps/model.js";

/** What a webhook answer grants, after every field was checked. */
export interface WebhookIdentity {
  userId: string;
  /** Seconds the identity is valid for, as the webhook said (a positive integer). */
  expirationSeconds: number;
  /** Validated by the permission engine; frozen. */
  permissions: Permissions;
  /** Any JSON (`clientInfo`, or legacy `userInfo`), handed back to the device. */
  clientInfo?: unknown;
  /** Any JSON, shared with peers. */
  identityServiceMetadata?: unknown;
}

export interface CallAuthWebhookOptions {
  appId: string;
  provider: WebhookProvider;
  /** The unsealed signing secret (never shown in errors). */
  secret: string;
  /** The credential the device sent to `login(token, provider)`. */
  token: string;
  /** Thumbprint of the device's peer key. */
  peerKey: string;
  /** Clock in milliseconds, for the signature timestamps. */
  now?: () => number;
  /** For tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Largest answer body read, in bytes; default 64 KiB. */
  maxResponseBytes?: number;
  /** Deepest JSON nesting accepted in the answer; default 32. */
  maxDepth?: number;
}

export const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;
export const WEBHOOK_MAX_DEPTH = 32;
/** Longest user ID accepted from a webhook, same bound as OIDC user claims. */
export const WEBHOOK_MAX_USER_ID_LENGTH = 256;

export type WebhookFailureReason =
  | "unreachable"
  | "timeout"
  | "http_status"
  | "redirect"
  | "too_large"
  | "malformed";

function unavailable(
  provider: WebhookProvider,
  reason: WebhookFailureReason,
  problem: string,
  extra: Record<string, unknown> = {},
): MeshauthError {
  return new MeshauthError("provider_unavailable", `auth webhook ${provider.name}: ${problem}`, {
    provider: `webhook:${provider.name}`,
    reason,
    ...extra,
  });
}

/**
 * Standard Webhooks key: a `whsec_` secret is base64 after the prefix (the spec's form,
 * and what the hub generates, in base64url, which Node's base64 decoder also reads);
 * any other secret (e.g. a Ditto 128-byte secret) is used as its UTF-8 bytes.
 */
export function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8");
}

/** The signature headers for one request body; exported so tests and docs can show the exact scheme. */
export function signWebhookRequest(
  secret: string,
  body: string,
  timestampSeconds: number,
  messageId: string,
  dittoSignature: boolean,
): Record<string, string> {
  const ts = String(timestampSeconds);
  const v1 = createHmac("sha256", standardWebhooksKey(secret))
    .update(`${messageId}.${ts}.${body}`)
    .digest("base64");
  const headers: Record<string, string> = {
    "webhook-id": messageId,
    "webhook-timestamp": ts,
    "webhook-signature": `v1,${v1}`,
  };
  if (dittoSignature) {
    // Ditto webhooks HMAC with the secret string exactly as they were configured with it.
    const hex = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${ts}.${body}`).digest("hex");
    headers["ditto-signature"] = `t=${ts},v1=${hex}`;
  }
  return headers;
}

/** Reads at most `limit` bytes of the body; past that, cancels the stream (so a huge answer costs nothing more). */
async function readLimited(response: Response, limit: number, provider: WebhookProvider): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw unavailable(provider, "too_large", `answer larger than ${limit} bytes`, { limit });
  }
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw unavailable(provider, "too_large", `answer larger than ${limit} bytes`, { limit });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Depth of a parsed JSON value, stopping early once past `max` (checked before any field is used). */
function deeperThan(value: unknown, max: number, depth = 1): boolean {
  if (depth > max) return true;
  if (typeof value !== "object" || value === null) return false;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => deeperThan(child, max, depth + 1));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Asks an app's auth webhook whether `token` identifies a user (see PROTOCOL.md, "The auth
 * webhook"). Resolves with the identity; rejects with a MeshauthError:
 * - `provider_rejected`: the webhook said `authenticated: false` (also as a 401/403 answer);
 * - `provider_unavailable`, `details.reason` one of `unreachable`, `timeout`, `http_status`
 *   (with `details.status`), `redirect`, `too_large`, `malformed`;
 * - `invalid_permissions`: the permission engine's error, message prefixed `webhook answer: `.
 */
export async function callAuthWebhook(options: CallAuthWebhookOptions): Promise<WebhookIdentity> {
  const { appId, provider, secret, token, peerKey } = options;
  const now = options.now ?? Date.now;
  const fetchImpl = options.fetchImpl ?? fetch;
  const limit = options.maxResponseBytes ?? WEBHOOK_MAX_RESPONSE_BYTES;
  const maxDepth = options.maxDepth ?? WEBHOOK_MAX_DEPTH;

  // Both databaseID (current Ditto shape) and appID (legacy) so either kind of webhook reads it.
  const body = JSON.stringify({
    version: "1",
    databaseID: appId,
    appID: appId,
    provider: provider.name,
    token,
    peerKey,
  });
  const messageId = `msg_${randomBytes(16).toString("base64url")}`;
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    ...signWebhookRequest(secret, body, Math.floor(now() / 1000), messageId, provider.dittoSignature),
  };

  // One deadline covers connecting, the headers and reading the body.
  const signal = AbortSignal.timeout(provider.timeoutMs);
  const timedOut = () =>
    unavailable(provider, "timeout", `no answer within ${provider.timeoutMs} ms`, {
      timeoutMs: provider.timeoutMs,
    });

  let response: Response;
  try {
    // A redirect could point the signed token anywhere (e.g. an internal address): never follow.
    response = await fetchImpl(provider.url, { method: "POST", headers, body, redirect: "manual", signal });
  } catch (error) {
    if (signal.aborted) throw timedOut();
    // Node's fetch says "fetch failed" with the socket error as cause; show its code only.
    const cause = error instanceof Error && isRecord(error.cause) ? error.cause : undefined;
    const code = typeof cause?.code === "string" ? cause.code : undefined;
    throw unavailable(provider, "unreachable", `cannot reach the webhook${code ? ` (${code})` : ""}`, {
      ...(code && { cause: code }),
    });
  }

  // `redirect: "manual"` gives a 3xx (or an opaque-redirect response with status 0 in browsers).
  if ((response.status >= 300 && response.status < 400) || response.type === "opaqueredirect") {
    await response.body?.cancel().catch(() => {});
    throw unavailable(provider, "redirect", `answered a redirect (HTTP ${response.status}), not followed`, {
      status: response.status,
    });
  }

  let text: string;
  try {
    text = await readLimited(response, limit, provider);
  } catch (error) {
    if (error instanceof MeshauthError) throw error;
    if (signal.aborted) throw timedOut();
    throw unavailable(provider, "unreachable", "connection lost while reading the answer");
  }

  let parsed: unknown;
  let isJson = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    isJson = false;
  }

  // Ditto's samples refuse unknown tokens with 401 and `authenticate: false`: that is a rejection, not an outage.
  const refusal =
    isJson && isRecord(parsed) && (parsed.authenticated === false || parsed.authenticate === false);
  if ((response.status === 401 || response.status === 403) && refusal) {
    throw new MeshauthError(
      "provider_rejected",
      `auth webhook ${provider.name} did not authenticate the token`,
      {
        provider: `webhook:${provider.name}`,
        status: response.status,
      },
    );
  }
  if (response.status < 200 || response.status >= 300) {
    throw unavailable(provider, "http_status", `answered HTTP ${response.status}`, {
      status: response.status,
    });
  }
  if (!isJson) throw unavailable(provider, "malformed", "answer is not JSON");
  if (deeperThan(parsed, maxDepth)) {
    throw unavailable(provider, "malformed", `answer nested deeper than ${maxDepth} levels`, { maxDepth });
  }
  return readAnswer(parsed, provider);
}

function malformed(provider: WebhookProvider, problem: string): MeshauthError {
  return unavailable(provider, "malformed", `answer ${problem}`);
}

/** Checks the answer's fields (Ditto's current and legacy spellings). */
function readAnswer(answer: unknown, provider: WebhookProvider): WebhookIdentity {
  if (!isRecord(answer)) throw malformed(provider, "is not a JSON object");
  const authenticated = answer.authenticated ?? answer.authenticate;
  if (typeof authenticated !== "boolean") {
    throw malformed(provider, "lacks a boolean `authenticated`");
  }
  if (!authenticated) {
    throw new MeshauthError(
      "provider_rejected",
      `auth webhook ${provider.name} did not authenticate the token`,
      {
        provider: `webhook:${provider.name}`,
      },
    );
  }
  const { expirationSeconds, userID } = answer;
  if (
    typeof expirationSeconds !== "number" ||
    !Number.isSafeInteger(expirationSeconds) ||
    expirationSeconds <= 0
  ) {
    throw malformed(provider, "needs `expirationSeconds`, a positive integer, when authenticated");
  }
  // Required (unlike in Ditto, which falls back to an anonymous ID): every meshauth session belongs to a user.
  if (typeof userID !== "string" || userID.length === 0 || userID.length > WEBHOOK_MAX_USER_ID_LENGTH) {
    throw malformed(
      provider,
      `needs \`userID\`, a string of 1 to ${WEBHOOK_MAX_USER_ID_LENGTH} characters, when authenticated`,
    );
  }
  if (answer.permissions === undefined) {
    throw malformed(provider, "needs `permissions` (with `read` and `write`) when authenticated");
  }
  let permissions: Permissions;
  try {
    permissions = validatePermissions(answer.permissions);
  } catch (error) {
    if (error instanceof PermissionsError) {
      // The engine names e.g. `read.queriesByCollection.orders[0]`; say where that sits in the answer.
      const message = error.path ? `permissions.${error.message}` : `permissions: ${error.message}`;
      throw new MeshauthError("invalid_permissions", `webhook answer: ${message}`, {
        ...error.details,
        provider: `webhook:${provider.name}`,
      });
    }
    throw error;
  }
  const clientInfo = answer.clientInfo ?? answer.userInfo;
  return {
    userId: userID,
    expirationSeconds,
    permissions,
    ...(clientInfo !== undefined && { clientInfo }),
    ...(answer.identityServiceMetadata !== undefined && {
      identityServiceMetadata: answer.identityServiceMetadata,
    }),
  };
}
