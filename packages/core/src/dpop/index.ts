// DPoP (RFC 9449): proofs for clients, checks for the hub, stateless nonces, replay
// detection. WebCrypto and jose only, so the same code runs in browsers and Node.
export {
  DEFAULT_DPOP_ALGORITHMS,
  DPOP_ALGORITHMS,
  type DpopAlgorithm,
} from "./algorithms.js";
export { accessTokenHash } from "./ath.js";
export { DpopError, type DpopErrorCode, type DpopFailure } from "./errors.js";
export { normalizeHtu } from "./htu.js";
export { type GenerateDpopKeyPairOptions, generateDpopKeyPair, toPublicJwk } from "./keys.js";
export { createNonceService, type NonceService, type NonceServiceOptions } from "./nonce.js";
export { type CreateDpopProofOptions, createDpopProof } from "./proof.js";
export { MemoryReplayCache, type MemoryReplayCacheOptions, type ReplayCache } from "./replay.js";
export { jwkThumbprint } from "./thumbprint.js";
export {
  DEFAULT_DPOP_CLOCK_SKEW_SECONDS,
  DEFAULT_DPOP_MAX_AGE_SECONDS,
  type DpopNonceOptions,
  type DpopSignatureVerifier,
  MAX_DPOP_PROOF_LENGTH,
  type VerifiedDpopProof,
  type VerifyDpopProofOptions,
  verifyDpopProof,
} from "./verify.js";
