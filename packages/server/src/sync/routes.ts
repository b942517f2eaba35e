import { DpopError, MeshauthError } from "@meshauth/core";
import {
  type CollectionEnforcer,
  type CollectionSpec,
  enforcerFor,
  type StreamEndCode,
  SYNC_LIMITS,
} from "@meshauth/sync";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../apps/model.js";
import type { DpopGuard } from "../auth/dpop-guard.js";
import type { AccessTokenClaims, TokenService } from "../auth/tokens.js";
import type { Store } from "../storage/store.js";
import type { ChangeFeed } from "./change-feed.js";
import type { CheckpointSeal } from "./checkpoint.js";
import type { CollectionService } from "./collections.js";
import type { DocumentStore } from "./document-store.js";
import { SessionWatch, type WatchedStream } from "./session-watch.js";
import type { SignedWrites } from "./signatures.js";

export interface SyncRoutesOptions {
  store: Store;
  tokens: TokenService;
  dpop: DpopGuard;
  collections: CollectionService;
  documents: DocumentStore;
  feed: ChangeFeed;
  seal: CheckpointSeal;
  /** Verifies pushed documents that carry a signature. */
  signatures: SignedWrites;
  now: () => number;
}

/** Who is calling and on which collection: settled before any body is read. */
interface SyncCall {
  claims: AccessTokenClaims;
  app: App;
  spec: CollectionSpec;
  enforcer: CollectionEnforcer;
}

type CollectionParams = { Params: { collection: string } };

/** A push body holds at most maxPushRows rows of two documents each, plus framing. */
const PUSH_BODY_LIMIT = SYNC_LIMITS.maxPushRows * 2 * (SYNC_LIMITS.maxDocumentBytes + 1024) + 64 * 1024;

/**
 * Verified access tokens, by their text, until they expire: a replica sends the same token
 * with every pull and push, and its signature check is the costliest step of a small
 * request. Only the signature and claims are cached; the session is checked every time.
 */
class VerifiedTokens {
  readonly #map = new Map<string, AccessTokenClaims>();
  constructor(
    private readonly tokens: TokenService,
    private readonly now: () => number,
    private readonly capacity = 4096,
  ) {}

  async verify(token: string): Promise<AccessTokenClaims> {
    const hit = this.#map.get(token);
    if (hit !== undefined && hit.exp > this.now()) return hit;
    if (hit !== undefined) this.#map.delete(token);
    const claims = await this.tokens.verifyAccessToken(token);
    this.#map.set(token, claims);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as string);
    return claims;
  }
}

function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf("?");
  return q < 0 ? req.url : req.url.slice(0, q);
}

function challenged(reply: FastifyReply, err: MeshauthError): MeshauthError {
  const description = err.message.replace(/["\\\r\n]/g, " ");
  const code =
    err.code === "use_dpop_nonce" || err.code === "invalid_token" ? err.code : "invalid_dpop_proof";
  reply.header(
    "www-authenticate",
    `DPoP error="${code}", error_description="${description}", algs="ES256 EdDSA"`,
  );
  return err;
}

/**
 * The sync endpoints (wire protocol: @meshauth/sync wire.ts). Every request carries a
 * DPoP-bound access token of the app (`Authorization: DPoP`, a proof with `ath` and a hub
 * nonce); the identity's permissions in it decide every document through the enforcer.
 */
export async function syncRoutes(http: FastifyInstance, opts: SyncRoutesOptions): Promise<void> {
  const { store, tokens, dpop, collections, documents, feed, seal, signatures } = opts;
  const calls = new WeakMap<FastifyRequest, SyncCall>();
  const watch = new SessionWatch(store.db, opts.now, (msg, err) => http.log.warn({ err }, msg));
  const streams = new Set<WatchedStream>();
  const verified = new VerifiedTokens(tokens, opts.now);

  const call = (req: FastifyRequest): SyncCall => {
    const c = calls.get(req);
    if (c === undefined) throw new MeshauthError("internal_error", "sync request without its caller");
    return c;
  };

  // Authentication and the collection come first, from headers only: nobody's body is
  // parsed before the caller is known, and an unknown collection is 404 whatever was sent.
  http.addHook<CollectionParams>("onRequest", async (req, reply) => {
    reply.header("cache-control", "no-store");
    const m = /^DPoP[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(req.headers.authorization ?? "");
    if (!m?.[1])
      throw challenged(
        reply,
        new MeshauthError("invalid_token", "send the access token as Authorization: DPoP <token>"),
      );
    const token = m[1];
    let claims: AccessTokenClaims;
    try {
      claims = await verified.verify(token);
      await dpop.verify(req, pathOf(req), {
        requireNonce: true,
        accessToken: token,
        expectedJkt: claims.cnf.jkt,
      });
    } catch (e) {
      if (e instanceof DpopError || (e instanceof MeshauthError && e.code === "invalid_token"))
        throw challenged(reply, e);
      throw e;
    } finally {
      // A fresh nonce on every answer spares the next request a nonce round trip.
      reply.header("dpop-nonce", await dpop.nonces.issue());
    }
    const app = await store.findApp(claims.aud);
    if (!app || !(await tokens.sessionIsLive(app.id, claims.sid, claims.sub)))
      throw challenged(
        reply,
        new MeshauthError("invalid_token", "the session behind this access token has ended"),
      );
    const spec = await collections.find(app.id, req.params.collection);
    calls.set(req, { claims, app, spec, enforcer: enforcerFor(claims.permissions, spec) });
  });

  http.post<CollectionParams>("/sync/:collection/pull", async (req, reply) => {
    const { app, spec, enforcer } = call(req);
    const body = req.body as Record<string, unknown> | null;
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new MeshauthError("invalid_request", "a pull is {checkpoint, limit}");
    const limit = body.limit;
    if (
      typeof limit !== "number" ||
      !Number.isInteger(limit) ||
      limit < 1 ||
      limit > SYNC_LIMITS.maxPullLimit
    )
      throw new MeshauthError(
        "invalid_request",
        `limit: a whole number from 1 to ${SYNC_LIMITS.maxPullLimit}`,
      );
    const after = seal.open(app.id, spec.name, body.checkpoint ?? null);
    const batch = await documents.pull(app.id, enforcer, after, limit);
    const checkpoint =
      batch.lastSeq === after && body.checkpoint !== undefined && body.checkpoint !== null
        ? body.checkpoint
        : batch.lastSeq === 0
          ? null
          : seal.seal(app.id, spec.name, batch.lastSeq);
    // Stored JSON goes out as it is: no parse and re-serialise per document.
    reply.type("application/json; charset=utf-8");
    return `{"documents":[${batch.documents.join(",")}],"checkpoint":${JSON.stringify(checkpoint)}}`;
  });

  http.post<CollectionParams>("/sync/:collection/push", { bodyLimit: PUSH_BODY_LIMIT }, async (req) => {
    const { app, spec, enforcer } = call(req);
    // Whole-request checks first: a malformed batch stores nothing.
    const checked = enforcer.checkPush(req.body);
    const { rows, refused } = await signatures.check(app.id, spec, checked);
    const outcome = await documents.push(app.id, enforcer, rows);
    if (outcome.written > 0) feed.committed(app.id, spec.name, outcome.seq);
    return { conflicts: outcome.conflicts, refused: [...refused, ...outcome.refused] };
  });

  http.get<CollectionParams>("/sync/:collection/stream", async (req, reply) => {
    const { claims, app, spec, enforcer } = call(req);
    let lastSeq = 0;
    let pumping = false;
    let dirty = false;
    let ended = false;
    const raw = reply.raw;
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = (): void => {};

    const write = (frame: unknown): void => {
      if (!ended) raw.write(`data: ${typeof frame === "string" ? frame : JSON.stringify(frame)}\n\n`);
    };
    const cleanup = (): void => {
      ended = true;
      for (const t of timers) clearTimeout(t);
      unsubscribe();
      watch.remove(stream);
      streams.delete(stream);
    };
    const stream: WatchedStream = {
      appId: app.id,
      userId: claims.sub,
      sid: claims.sid,
      end(code: StreamEndCode, message: string) {
        if (ended) return;
        write({ error: code, message });
        cleanup();
        raw.end();
      },
    };
    const pump = async (): Promise<void> => {
      if (pumping) {
        dirty = true;
        return;
      }
      pumping = true;
      try {
        do {
          dirty = false;
          const batch = await documents.pull(app.id, enforcer, lastSeq, SYNC_LIMITS.maxStreamDocuments);
          if (ended) return;
          if (batch.documents.length > 0) {
            write(
              `{"documents":[${batch.documents.join(",")}],"checkpoint":${JSON.stringify(seal.seal(app.id, spec.name, batch.lastSeq))}}`,
            );
          }
          lastSeq = batch.lastSeq;
          if (batch.documents.length >= SYNC_LIMITS.maxStreamDocuments) dirty = true;
        } while (dirty && !ended);
      } catch (e) {
        req.log.warn({ err: e }, "sync stream pull failed");
        stream.end("unavailable", "the hub could not read changes; reconnect");
      } finally {
        pumping = false;
      }
    };

    await feed.ready();
    unsubscribe = feed.subscribe(app.id, spec.name, (seq) => {
      if (seq === undefined || seq > lastSeq) void pump();
    });
    try {
      lastSeq = await documents.head(app.id, spec.name);
      await watch.add(stream);
    } catch (e) {
      cleanup();
      throw e;
    }
    streams.add(stream);

    reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
    raw.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    req.raw.socket.setTimeout(0);
    raw.on("close", cleanup);
    // The client pulls from its own checkpoint first; changes after `lastSeq` come here.
    write('"RESYNC"');
    void pump();

    const heartbeat = setInterval(() => {
      if (!ended) raw.write(": ping\n\n");
    }, SYNC_LIMITS.streamHeartbeatMs);
    heartbeat.unref();
    timers.push(heartbeat);
    // A stream lives as long as the token that opened it; the client reconnects with its refreshed one.
    const expiresIn = claims.exp * 1000 - opts.now() * 1000;
    const expiry = setTimeout(
      () => stream.end("invalid_token", "the access token expired: refresh, then reconnect"),
      Math.max(0, Math.min(expiresIn, 2 ** 31 - 1)),
    );
    expiry.unref();
    timers.push(expiry);
  });

  // Streams hold their connections open: end them first so the hub can close.
  http.addHook("preClose", async () => {
    for (const s of [...streams]) s.end("unavailable", "the hub is shutting down: reconnect");
  });
  http.addHook("onClose", async () => {
    await feed.close();
  });
}
