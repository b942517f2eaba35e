import cors from "@fastify/cors";
import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { App } from "../apps/model.js";
import type { Store } from "../storage/store.js";

const LOCAL_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;
const CACHE_SECONDS = 10;

/**
 * Which browser origins may call the hub. A preflight cannot say which app it is for
 * (client_id is in the body), so preflights pass for any app's origin and each request
 * is then checked against its own app's list. Development mode also admits localhost.
 */
export class CorsPolicy {
  #cache: { at: number; origins: Set<string> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly development: boolean,
    private readonly now: () => number,
  ) {}

  async #anyAppOrigins(): Promise<Set<string>> {
    const now = this.now();
    if (this.#cache && now - this.#cache.at < CACHE_SECONDS) return this.#cache.origins;
    const origins = new Set((await this.store.listApps()).flatMap((a) => a.corsOrigins));
    this.#cache = { at: now, origins };
    return origins;
  }

  async allowsAny(origin: string): Promise<boolean> {
    return (this.development && LOCAL_ORIGIN.test(origin)) || (await this.#anyAppOrigins()).has(origin);
  }

  /** Refuses a browser request from an origin the app has not allowed. */
  assertAllowed(req: FastifyRequest, app: App): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (app.corsOrigins.includes(origin) || (this.development && LOCAL_ORIGIN.test(origin))) return;
    throw new MeshauthError(
      "unauthorized_client",
      `origin ${origin} is not allowed for app ${app.name}; add it to the app's corsOrigins`,
    );
  }

  async register(http: FastifyInstance): Promise<void> {
    await http.register(cors, {
      origin: (origin, cb) => {
        if (origin === undefined) return cb(null, false);
        this.allowsAny(origin).then(
          (ok) => cb(null, ok),
          (e: unknown) => cb(e as Error, false),
        );
      },
      methods: ["GET", "POST"],
      allowedHeaders: ["Content-Type", "Authorization", "DPoP"],
      exposedHeaders: ["DPoP-Nonce", "WWW-Authenticate"],
      maxAge: 600,
    });
  }
}
