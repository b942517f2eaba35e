import { DpopError, MeshauthError, type VerifiedDpopProof } from "@meshauth/core";
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { App } from "../apps/model.js";
import { challenge } from "../http/errors.js";
import type { Store } from "../storage/store.js";
import type { DpopGuard } from "./dpop-guard.js";
import type { AccessTokenClaims, TokenService } from "./tokens.js";

/** What a route asks of the request's DPoP proof. */
export interface DpopRequirement {
  /** Refuse proofs without a fresh hub nonce (`use_dpop_nonce`). */
  nonce?: boolean;
  /** Check a proof only when one is sent (the handler decides whether it needed one). */
  optional?: boolean;
  /**
   * A resource request: `Authorization: DPoP <access token>` is required, the token is
   * verified, the proof must be by the token's key and cover it (`ath`), and the token's
   * session must be live. Failures are 401 with `WWW-Authenticate: DPoP error=...`
   * (RFC 9449 §7.1).
   */
  accessToken?: boolean;
}

/** What the hook leaves on the request for the handler. */
export interface DpopContext {
  proof: VerifiedDpopProof;
  /** Set for `accessToken` routes. */
  token?: { value: string; claims: AccessTokenClaims; app: App };
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set by a DpopHooks preHandler once the proof (and access token) checked out. */
    dpop?: DpopContext;
  }
}

/** The request's path without query: with the issuer, the `htu` the proof must name. */
function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf("?");
  return q < 0 ? req.url : req.url.slice(0, q);
}

/**
 * DPoP as a Fastify preHandler a route declares:
 *
 *     http.post("/sync/pull", { preHandler: dpopHooks.require({ accessToken: true }) }, (req) => {
 *       const { claims } = req.dpop!.token!; // verified, bound to the proof's key, session live
 *     });
 *
 * The `htu` is the hub's issuer plus the path the request was made to, never the Host
 * header, so the route's path is not typed twice and a proxy in front changes nothing.
 */
export class DpopHooks {
  constructor(
    private readonly guard: DpopGuard,
    private readonly tokens: TokenService,
    private readonly store: Store,
  ) {}

  /** The hub's DPoP nonces (every answer carries a fresh one). */
  get nonces(): DpopGuard["nonces"] {
    return this.guard.nonces;
  }

  /** A preHandler checking the proof; `requirement` may depend on the request (a /token grant's). */
  require(
    requirement: DpopRequirement | ((req: FastifyRequest) => DpopRequirement | undefined),
  ): preHandlerAsyncHookHandler {
    return async (req, reply) => {
      const r = typeof requirement === "function" ? requirement(req) : requirement;
      if (r === undefined) return;
      if (r.accessToken) {
        req.dpop = await this.#resource(req, reply, r);
        return;
      }
      if (r.optional && req.headers.dpop === undefined) return;
      req.dpop = { proof: await this.guard.verify(req, pathOf(req), { requireNonce: r.nonce === true }) };
    };
  }

  async #resource(req: FastifyRequest, reply: FastifyReply, r: DpopRequirement): Promise<DpopContext> {
    const m = /^DPoP[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(req.headers.authorization ?? "");
    if (!m?.[1]) {
      throw challenge(
        reply,
        new MeshauthError("invalid_token", "send the access token as Authorization: DPoP <token>"),
      );
    }
    const value = m[1];
    try {
      const claims = await this.tokens.verifyAccessToken(value);
      // The proof must be by the token's key and cover this token (ath).
      const proof = await this.guard.verify(req, pathOf(req), {
        requireNonce: r.nonce === true,
        accessToken: value,
        expectedJkt: claims.cnf.jkt,
      });
      const app = await this.store.findApp(claims.aud);
      if (!app || !(await this.tokens.sessionIsLive(app.id, claims.sid, claims.sub)))
        throw new MeshauthError("invalid_token", "the session behind this access token has ended");
      return { proof, token: { value, claims, app } };
    } catch (e) {
      if (e instanceof DpopError || (e instanceof MeshauthError && e.code === "invalid_token"))
        throw challenge(reply, e);
      throw e;
    }
  }
}
