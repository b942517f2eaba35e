import { MeshauthError } from "../errors.js";

/** The error codes a DPoP check can end with (RFC 9449 §5, §8 and meshauth's `clock_skew`). */
export type DpopErrorCode = "invalid_dpop_proof" | "use_dpop_nonce" | "clock_skew";

/**
 * Which check failed. Meant for logs and tests; it is not part of the error body, so a
 * client learns no more than the code (and `server_time` or `nonce`) tells it.
 */
export type DpopFailure =
  | "malformed"
  | "too_large"
  | "header"
  | "typ"
  | "alg"
  | "jwk"
  | "signature"
  | "claims"
  | "jti"
  | "htm"
  | "htu"
  | "ath"
  | "jkt"
  | "iat"
  | "nonce"
  | "replayed";

/**
 * A rejected DPoP proof. `details` holds only what the error body should carry:
 * `{server_time}` for `clock_skew`, `{nonce}` (to send as the `DPoP-Nonce` header) for
 * `use_dpop_nonce`, nothing for `invalid_dpop_proof`.
 */
export class DpopError extends MeshauthError {
  override name = "DpopError";
  declare readonly code: DpopErrorCode;
  readonly reason: DpopFailure;

  constructor(
    code: DpopErrorCode,
    reason: DpopFailure,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, details);
    this.reason = reason;
  }
}

/** Shorthand for the common case. */
export function invalidProof(reason: DpopFailure, message: string): DpopError {
  return new DpopError("invalid_dpop_proof", reason, message);
}
