import { createDpopProof } from "@meshauth/core";
import { MeshauthClientError } from "./errors.js";

/** Skew-corrected time: the hub's clock, as far as the SDK has learned it. */
export class Clock {
  /** Milliseconds to add to the local clock to get the hub's. */
  offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Learns the hub's time from a `clock_skew` answer's `server_time` (seconds). */
  learn(serverTimeSeconds: number): void {
    this.offsetMs = serverTimeSeconds * 1000 - Date.now();
  }
}

export interface DpopSigner {
  keys(): Promise<CryptoKeyPair>;
  clock: Clock;
}

/**
 * Sends requests that carry a DPoP proof: remembers the latest `DPoP-Nonce` per origin,
 * retries once when the server asks for a nonce (RFC 9449 §8 and §9) and once when
 * the hub says the proof's time is off (`clock_skew`, answered with `server_time`).
 */
export class DpopTransport {
  readonly #nonces = new Map<string, string>();

  constructor(
    private readonly signer: DpopSigner,
    private readonly fetchFn: typeof fetch,
  ) {}

  async proof(method: string, url: string | URL, options: { nonce?: string; accessToken?: string } = {}) {
    const { privateKey, publicKey } = await this.signer.keys();
    return createDpopProof({
      privateKey,
      publicKey,
      htm: method.toUpperCase(),
      htu: url,
      iat: this.signer.clock.nowSeconds(),
      ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
      ...(options.accessToken !== undefined ? { accessToken: options.accessToken } : {}),
    });
  }

  /**
   * Sends `request` with a fresh proof (and `Authorization: DPoP <token>` when a token
   * is given). The request is cloned per attempt, so its body can be sent twice.
   */
  async send(
    request: Request,
    accessToken?: string,
    options: { trustClock?: boolean } = {},
  ): Promise<Response> {
    const origin = new URL(request.url).origin;
    let nonceRetried = false;
    let skewRetried = false;
    for (;;) {
      const attempt = request.clone();
      const headers = new Headers(attempt.headers);
      const nonce = this.#nonces.get(origin);
      headers.set(
        "DPoP",
        await this.proof(attempt.method, attempt.url, {
          ...(nonce !== undefined ? { nonce } : {}),
          ...(accessToken !== undefined ? { accessToken } : {}),
        }),
      );
      if (accessToken !== undefined) headers.set("Authorization", `DPoP ${accessToken}`);
      const response = await this.#fetch(new Request(attempt, { headers }));
      const fresh = response.headers.get("DPoP-Nonce");
      if (fresh) this.#nonces.set(origin, fresh);
      if (response.ok) return response;

      const challenge = await challengeOf(response);
      if (challenge.error === "use_dpop_nonce" && fresh && fresh !== nonce && !nonceRetried) {
        nonceRetried = true;
        continue;
      }
      // Only the hub's word on the time counts: an API could otherwise skew every proof.
      if (
        challenge.error === "clock_skew" &&
        typeof challenge.serverTime === "number" &&
        options.trustClock !== false &&
        !skewRetried
      ) {
        skewRetried = true;
        this.signer.clock.learn(challenge.serverTime);
        continue;
      }
      return response;
    }
  }

  /** A plain request (no proof), with network failures turned into `network_error`. */
  async #fetch(request: Request): Promise<Response> {
    try {
      return await this.fetchFn(request);
    } catch (e) {
      if (e instanceof Error && e.name === "AbortError") throw e;
      throw new MeshauthClientError("network_error", unreachable(new URL(request.url).origin), { cause: e });
    }
  }

  fetch(request: Request): Promise<Response> {
    return this.#fetch(request);
  }
}

/**
 * Browsers report a refused CORS preflight exactly like a network failure, so say
 * both: it is the most common setup mistake.
 */
function unreachable(origin: string): string {
  const page = typeof location === "undefined" ? undefined : location.origin;
  if (!page || page === origin || (typeof navigator !== "undefined" && navigator.onLine === false)) {
    return `cannot reach ${origin}`;
  }
  return `cannot reach ${origin}: offline or down, or it does not allow this page's origin ${page} (add it to the app's corsOrigins)`;
}

interface Challenge {
  error: string | undefined;
  serverTime: number | undefined;
}

/** The error a response carries, from `WWW-Authenticate: DPoP error="..."` or a JSON body. */
async function challengeOf(response: Response): Promise<Challenge> {
  const www = response.headers.get("WWW-Authenticate") ?? "";
  const fromHeader = /error="([^"]+)"/.exec(www)?.[1];
  if (!(response.headers.get("Content-Type") ?? "").includes("json")) {
    return { error: fromHeader, serverTime: undefined };
  }
  try {
    const body = (await response.clone().json()) as Record<string, unknown>;
    // meshauth's precise code (`clock_skew` under RFC 9449's `invalid_dpop_proof`) first.
    const precise = typeof body["meshauth_error"] === "string" ? body["meshauth_error"] : undefined;
    return {
      error: precise ?? fromHeader ?? (typeof body["error"] === "string" ? body["error"] : undefined),
      serverTime: typeof body["server_time"] === "number" ? body["server_time"] : undefined,
    };
  } catch {
    return { error: fromHeader, serverTime: undefined };
  }
}

/** Turns a hub error answer into a typed error carrying the hub's code and message. */
export async function errorFrom(response: Response): Promise<MeshauthClientError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // fall through: not JSON
  }
  // The hub's precise reason (`session_revoked` under OAuth's `invalid_grant`) is what alerts key on.
  const precise = typeof body["meshauth_error"] === "string" ? body["meshauth_error"] : undefined;
  const code = precise ?? (typeof body["error"] === "string" ? body["error"] : undefined);
  if (!code) {
    return new MeshauthClientError(
      response.status >= 500 ? "unavailable" : "invalid_response",
      `the hub answered HTTP ${response.status} without a meshauth error`,
      { status: response.status },
    );
  }
  const message = typeof body["error_description"] === "string" ? body["error_description"] : code;
  return new MeshauthClientError(code as MeshauthClientError["code"], message, {
    status: response.status,
    details: body,
  });
}

/** Reads a JSON answer, or throws the hub's error. */
export async function jsonOrThrow(response: Response): Promise<Record<string, unknown>> {
  if (!response.ok) throw await errorFrom(response);
  try {
    const body = (await response.json()) as unknown;
    if (typeof body === "object" && body !== null && !Array.isArray(body)) {
      return body as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new MeshauthClientError(
    "invalid_response",
    `the hub's answer to ${response.url} is not a JSON object`,
    {
      status: response.status,
    },
  );
}
