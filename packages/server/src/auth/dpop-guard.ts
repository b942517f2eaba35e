import { DpopError, type NonceService, type VerifiedDpopProof, verifyDpopProof } from "@meshauth/core";
import type { FastifyRequest } from "fastify";
import { createNodeDpopVerifier } from "../crypto/node-dpop.js";
import type { GuardStore } from "../storage/guard-store.js";

export interface ProofRequirements {
  /** Refuse proofs without a fresh hub nonce (`use_dpop_nonce`). */
  requireNonce?: boolean;
  /** The access token sent with the request (makes `ath` required). */
  accessToken?: string;
  /** The key the presented token is bound to. */
  expectedJkt?: string;
}

/**
 * Checks the DPoP proof of a hub request. The `htu` is the issuer's public URL plus the
 * route path, never the Host header, so a proxy in front of the hub changes nothing.
 * Used `jti`s go to the database so every hub process sees every proof.
 */
export class DpopGuard {
  readonly #replay;
  readonly #verifier = createNodeDpopVerifier();

  constructor(
    guards: GuardStore,
    readonly nonces: NonceService,
    private readonly issuer: string,
    private readonly now: () => number,
  ) {
    this.#replay = { use: (id: string, expiresAt: number) => guards.useJti(id, expiresAt) };
  }

  async verify(
    req: FastifyRequest,
    path: string,
    requirements: ProofRequirements = {},
  ): Promise<VerifiedDpopProof> {
    const header = req.headers.dpop;
    if (header === undefined)
      throw new DpopError(
        "invalid_dpop_proof",
        "malformed",
        "send a DPoP proof in the DPoP header (RFC 9449)",
      );
    if (Array.isArray(header) || header.includes(","))
      throw new DpopError("invalid_dpop_proof", "malformed", "send exactly one DPoP header");
    return verifyDpopProof(header, {
      htm: req.method,
      htu: `${this.issuer}${path}`,
      now: this.now,
      replay: this.#replay,
      verifier: this.#verifier,
      nonce: {
        required: requirements.requireNonce === true,
        check: (n) => this.nonces.check(n),
        issue: () => this.nonces.issue(),
      },
      ...(requirements.accessToken !== undefined ? { accessToken: requirements.accessToken } : {}),
      ...(requirements.expectedJkt !== undefined ? { expectedJkt: requirements.expectedJkt } : {}),
    });
  }
}
