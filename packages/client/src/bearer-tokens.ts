import { MeshauthClientError } from "./errors.js";
import { type DpopTransport, jsonOrThrow } from "./transport.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";
/** A cached token is handed out only while it has at least this long (ms) or a quarter of its life left. */
const MIN_REMAINING_MS = 60_000;

interface Cached {
  token: string;
  expiresAt: number;
  lifetime: number;
}

/**
 * Short-lived bearer JWTs for other engines (PowerSync, Supabase, ...), exchanged for
 * the DPoP-bound session (RFC 8693) and cached per audience until near expiry. One
 * request per audience at a time; `clear()` forgets them all (logout, a new session).
 */
export class BearerTokens {
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, Promise<string>>();
  #generation = 0;

  constructor(
    private readonly transport: DpopTransport,
    private readonly tokenUrl: string,
    private readonly appId: string,
    private readonly accessToken: () => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  get(audience: string): Promise<string> {
    if (typeof audience !== "string" || audience === "") {
      return Promise.reject(new TypeError("getTokenFor(audience): audience must be a non-empty string"));
    }
    const cached = this.#cache.get(audience);
    if (cached) {
      const left = cached.expiresAt - this.now();
      if (left > Math.max(MIN_REMAINING_MS, cached.lifetime / 4)) return Promise.resolve(cached.token);
    }
    let pending = this.#pending.get(audience);
    if (!pending) {
      pending = this.#exchange(audience).finally(() => this.#pending.delete(audience));
      this.#pending.set(audience, pending);
    }
    return pending;
  }

  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  async #exchange(audience: string): Promise<string> {
    const generation = this.#generation;
    const request = new Request(this.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        client_id: this.appId,
        subject_token: await this.accessToken(),
        subject_token_type: ACCESS_TOKEN,
        requested_token_type: JWT,
        audience,
      }).toString(),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await jsonOrThrow(await this.transport.send(request));
    const token = body["access_token"];
    const expiresIn = body["expires_in"];
    if (typeof token !== "string" || typeof expiresIn !== "number" || expiresIn <= 0) {
      throw new MeshauthClientError(
        "invalid_response",
        "the hub's token exchange answer lacks access_token or expires_in",
      );
    }
    // A session that ended meanwhile must not have its token cached for the next one.
    if (generation === this.#generation) {
      this.#cache.set(audience, {
        token,
        expiresAt: this.now() + expiresIn * 1000,
        lifetime: expiresIn * 1000,
      });
    }
    return token;
  }
}
