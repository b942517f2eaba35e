import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { MeshauthError, type Permissions, PermissionsError, validatePermissions } from "@meshauth/core";
import type { DittoSignatureKey, WebhookProvider } from "../apps/model.js";

/** What a webhook answer grants, after every field was checked. */
export interface WebhookIdentity {
  userId: string;
  /** Seconds the identity is valid for, as the webhook said (a positive integer). */
  expirationSeconds: number;
  /** Validated by the permission engine; frozen. */
  permissions: Permissions;
  /** Any JSON (`clientInfo`, or legacy `userInfo`), handed back to the device. */
  clientInfo?: unknown;
  /** A JSON object of at most 4096 characters, shared with peers (token claims and certificate). */
  identityServiceMetadata?: Record<string, unknown>;
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
/** Longest `clientInfo` and `identityServiceMetadata` (characters of JSON) accepted from a webhook. */
export const WEBHOOK_MAX_INFO_LENGTH = 4096;
/** Longest refusal reason passed on to the device (characters, after sanitising). */
export const WEBHOOK_MAX_REASON_LENGTH = 200;

/**
 * The webhook's own words for a refusal, fit to show a person: Ditto's samples put them in
 * `clientInfo` (legacy `userInfo`), others in `reason` or `message`. Control and
 * formatting characters are dropped, whitespace collapsed, the text cut at 200 characters.
 */
export function refusalReason(answer: unknown): string | undefined {
  if (!isRecord(answer)) return undefined;
  const raw = [answer.clientInfo, answer.userInfo, answer.reason, answer.message].find(
    (v): v is string => typeof v === "string",
  );
  if (raw === undefined) return undefined;
  const clean = raw
    .slice(0, 4 * WEBHOOK_MAX_REASON_LENGTH)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (clean === "") return undefined;
  const chars = Array.from(clean);
  return chars.length > WEBHOOK_MAX_REASON_LENGTH
    ? `${chars.slice(0, WEBHOOK_MAX_REASON_LENGTH - 1).join("")}\u2026`
    : clean;
}

function rejected(
  provider: WebhookProvider,
  answer: unknown,
  extra: Record<string, unknown> = {},
): MeshauthError {
  const reason = refusalReason(answer);
  return new MeshauthError(
    "provider_rejected",
    `auth webhook ${provider.name} did not authenticate the token${reason ? `: ${reason}` : ""}`,
    { provider: `webhook:${provider.name}`, ...extra, ...(reason ? { webhook_reason: reason } : {}) },
  );
}

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
 * Standard Webhooks key: a `whsec_` secret is base64 after the prefix (the spec's form;
 * the hub generates standard base64, and Node's decoder also reads the base64url of older
 * hub-made secrets); any other secret (e.g. a Ditto secret) is used as its UTF-8 bytes.
 */
export function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8");
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * The `ditto-signature` HMAC key. Ditto documents HMAC-SHA256 "using a base64-decoded shared
 * secret key": `base64` decodes the secret (a `whsec_` secret: its key bytes, the same as for
 * Standard Webhooks). `utf8` is the secret's text, what the hub used before the setting
 * existed; registrations from then keep it. Null when a `base64` secret is not base64.
 */
export function dittoSignatureKeyBytes(secret: string, mode: DittoSignatureKey): Buffer | null {
  if (mode === "utf8") return Buffer.from(secret, "utf8");
  if (secret.startsWith("whsec_")) return standardWebhooksKey(secret);
  if (!BASE64.test(secret)) return null;
  const key = Buffer.from(secret, "base64");
  return key.length > 0 ? key : null;
}

/** The signature headers for one request body; exported so tests and docs can show the exact scheme. */
export function signWebhookRequest(
  secret: string,
  body: string,
  timestampSeconds: number,
  messageId: string,
  /** Also send `ditto-signature`, HMAC'd with this key derivation; false: do not. */
  ditto: DittoSignatureKey | false,
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
  const dittoKey = ditto === false ? null : dittoSignatureKeyBytes(secret, ditto);
  if (dittoKey) {
    const hex = createHmac("sha256", dittoKey).update(`${ts}.${body}`).digest("hex");
    headers["ditto-signature"] = `t=${ts},v1=${hex}`;
  }
  return headers;
}

/** How far (seconds) a `ditto-signature` timestamp may be from the hub's clock: Ditto's 5 minutes. */
export const DITTO_SIGNATURE_WINDOW_SECONDS = 300;

/**
 * Checks a `ditto-signature` header (`t=<ts>,v1=<hex>[,v1=<hex>...]`, several `v1` during
 * rotation) over the raw body, keyed as `dittoSignatureKeyBytes` derives it: the timestamp
 * within the window of `nowSeconds`, one `v1` equal in constant time. The reason names
 * what is wrong and never anything of the secret.
 */
export function verifyDittoSignature(
  header: string | undefined,
  rawBody: string,
  secret: string,
  mode: DittoSignatureKey,
  nowSeconds: number,
): { ok: true } | { ok: false; reason: string } {
  if (header === undefined || header === "") return { ok: false, reason: "missing ditto-signature header" };
  if (header.length > 4096) return { ok: false, reason: "ditto-signature header too long" };
  const key = dittoSignatureKeyBytes(secret, mode);
  if (!key) return { ok: false, reason: "signature key unusable" };
  let ts: string | undefined;
  const sigs: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === "t") ts = value;
    else if (name === "v1" && /^[0-9a-f]{64}$/i.test(value)) sigs.push(Buffer.from(value, "hex"));
  }
  if (ts === undefined || !/^\d{1,12}$/.test(ts))
    return { ok: false, reason: "ditto-signature lacks t=<timestamp>" };
  if (Math.abs(nowSeconds - Number(ts)) > DITTO_SIGNATURE_WINDOW_SECONDS)
    return { ok: false, reason: "ditto-signature timestamp outside the allowed window" };
  const expected = createHmac("sha256", key).update(`${ts}.${rawBody}`).digest();
  // Every candidate is compared, so the time taken does not say which one matched.
  let match = false;
  for (const sig of sigs) if (timingSafeEqual(sig, expected)) match = true;
  return match ? { ok: true } : { ok: false, reason: "ditto-signature does not match" };
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
    ...signWebhookRequest(
      secret,
      body,
      Math.floor(now() / 1000),
      messageId,
      provider.dittoSignature ? provider.dittoSignatureKey : false,
    ),
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
    throw rejected(provider, parsed, { status: response.status });
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
  if (!authenticated) throw rejected(provider, answer);
  const { expirationSeconds, userID } = answer;
  if (
    typeof expirationSeconds !== "number" ||
    !Number.isSafeInteger(expirationSeconds) ||
    expirationSeconds <= 0
  ) {
    throw malformed(
      provider,
      expirationSeconds === 0
        ? "has `expirationSeconds: 0`, which would end the session at once; send the session's length in seconds (a positive integer)"
        : "needs `expirationSeconds`, a positive integer, when authenticated",
    );
  }
  // Required (unlike in Ditto, which makes such a device anonymous): every meshauth session
  // belongs to a user, and no stable ID can be derived from a one-off token.
  if (userID === undefined) {
    throw malformed(
      provider,
      "has no `userID`; Ditto would treat the device as anonymous, but meshauth ties every session to a user: send the user's ID",
    );
  }
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
  const clientInfoField = answer.clientInfo !== undefined ? "clientInfo" : "userInfo";
  if (clientInfo !== undefined && JSON.stringify(clientInfo).length > WEBHOOK_MAX_INFO_LENGTH) {
    throw malformed(
      provider,
      `has a \`${clientInfoField}\` larger than ${WEBHOOK_MAX_INFO_LENGTH} characters of JSON`,
    );
  }
  const metadata = answer.identityServiceMetadata;
  if (metadata !== undefined) {
    if (!isRecord(metadata))
      throw malformed(provider, "has an `identityServiceMetadata` that is not a JSON object");
    if (JSON.stringify(metadata).length > WEBHOOK_MAX_INFO_LENGTH)
      throw malformed(
        provider,
        `has an \`identityServiceMetadata\` larger than ${WEBHOOK_MAX_INFO_LENGTH} characters of JSON`,
      );
  }
  return {
    userId: userID,
    expirationSeconds,
    permissions,
    ...(clientInfo !== undefined && { clientInfo }),
    ...(metadata !== undefined && { identityServiceMetadata: metadata }),
  };
}
