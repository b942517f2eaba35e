import { VerifyError } from "./errors.js";
import type { HubKeys } from "./hub-keys.js";

export interface IntrospectionOptions {
  /** One of the app's client secrets (your API is the app's backend). */
  clientSecret: string;
  /** How long (seconds) an answer is reused for the same token; default 10. */
  cacheSeconds?: number;
}

/** Most answers kept; the oldest go first. */
const MAX_ENTRIES = 10_000;

/**
 * Asks the hub whether an access token's session is still live (RFC 7662), for APIs
 * that must stop a logged-out session at once rather than when its token expires.
 * Answers are cached per token for `cacheSeconds`, so a busy API asks once per token
 * and interval; the hub being unreachable is a 503, never a pass.
 */
export class Introspection {
  readonly #cache = new Map<string, { active: boolean; until: number }>();
  readonly #cacheSeconds: number;

  constructor(
    private readonly hub: HubKeys,
    private readonly appId: string,
    private readonly options: IntrospectionOptions,
    private readonly fetchFn: typeof fetch,
    private readonly now: () => number,
  ) {
    if (typeof options.clientSecret !== "string" || options.clientSecret === "")
      throw new TypeError("introspection.clientSecret: expected one of the app's client secrets");
    this.#cacheSeconds = options.cacheSeconds ?? 10;
  }

  async active(token: string): Promise<boolean> {
    const now = this.now();
    const hit = this.#cache.get(token);
    if (hit && hit.until > now) return hit.active;
    const active = await this.#ask(token);
    this.#cache.delete(token);
    if (this.#cache.size >= MAX_ENTRIES) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(token, { active, until: now + this.#cacheSeconds });
    return active;
  }

  async #ask(token: string): Promise<boolean> {
    const { introspectionUri } = await this.hub.metadata();
    if (!introspectionUri) {
      throw new VerifyError("temporarily_unavailable", "the hub offers no introspection", {
        reason: "discovery has no introspection_endpoint",
      });
    }
    let body: { active?: unknown };
    try {
      const res = await this.fetchFn(introspectionUri, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          authorization: `Basic ${btoa(`${encodeURIComponent(this.appId)}:${encodeURIComponent(this.options.clientSecret)}`)}`,
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as { active?: unknown };
    } catch (error) {
      throw new VerifyError("temporarily_unavailable", "the hub cannot be asked about the session", {
        reason: `introspection at ${introspectionUri}: ${(error as Error).message}`,
      });
    }
    return body.active === true;
  }
}
