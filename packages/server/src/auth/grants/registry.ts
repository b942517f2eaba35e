import { MeshauthError, type TokenResponse, type VerifiedDpopProof } from "@meshauth/core";
import type { FastifyRequest } from "fastify";
import type { App } from "../../apps/model.js";
import type { DpopRequirement } from "../dpop-hook.js";

/** What a grant's handler gets: parameters, the client, and the checked proof. */
export interface GrantRequest {
  req: FastifyRequest;
  /** The flattened form or JSON parameters; the declared ones are present and non-empty. */
  params: Record<string, string>;
  client: App;
  /** True when the client authenticated with its secret (HTTP Basic or the body). */
  authenticated: boolean;
  /** The verified DPoP proof; undefined only for grants whose `dpop` is `optional`. */
  proof: VerifiedDpopProof | undefined;
}

/**
 * One `/token` grant. The route checks, in this order: client authentication as
 * declared (a secret that is sent is always checked, RFC 6749 §6), the app's CORS
 * origins, the required parameters, and the DPoP proof; then it calls `handle`.
 *
 *     export const myGrant: Grant = {
 *       grantType: "urn:example:grant-type:thing",
 *       parameters: ["thing"],
 *       clientAuthentication: "required",
 *       dpop: { nonce: true },
 *       async handle({ params, client, proof }) { ... return tokenResponse; },
 *     };
 */
export interface Grant {
  grantType: string;
  /** Parameters that must be present and non-empty (besides `grant_type` and client credentials). */
  parameters: readonly string[];
  /** `required`: only an app's backend with its secret; `optional`: public clients too. */
  clientAuthentication: "required" | "optional";
  /** The DPoP proof the grant needs (`optional: true`: checked if sent, the handler decides). */
  dpop: Omit<DpopRequirement, "accessToken">;
  handle(request: GrantRequest): Promise<TokenResponse>;
}

/** The grants `/token` dispatches to, by `grant_type`. */
export class GrantRegistry {
  readonly #grants = new Map<string, Grant>();

  register(grant: Grant): this {
    if (this.#grants.has(grant.grantType)) throw new Error(`grant ${grant.grantType} is registered twice`);
    this.#grants.set(grant.grantType, grant);
    return this;
  }

  get(grantType: string): Grant | undefined {
    return this.#grants.get(grantType);
  }

  types(): string[] {
    return [...this.#grants.keys()];
  }

  /** The grant for a request's `grant_type`, or `unsupported_grant_type` naming the ones there are. */
  resolve(grantType: string): Grant {
    const grant = this.get(grantType);
    if (!grant)
      throw new MeshauthError(
        "unsupported_grant_type",
        `grant_type ${JSON.stringify(grantType.slice(0, 100))} is not supported; use one of ${this.types().join(", ")}`,
      );
    return grant;
  }
}
