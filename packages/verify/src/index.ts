// Verifies meshauth's DPoP-bound access tokens in an app's own API. Server-side only;
// talks to the hub over HTTP (discovery, JWKS, revocation list) and shares no code with it.
export type { ReplayCache } from "@meshauth/core";
export { MemoryReplayCache } from "@meshauth/core";
export { meshauthExpress } from "./adapters/express.js";
export { meshauthFastify } from "./adapters/fastify.js";
export { withMeshauth } from "./adapters/fetch.js";
export { EXPOSED_HEADERS, VerifyError, type VerifyErrorCode } from "./errors.js";
export type { IntrospectionOptions } from "./introspection.js";
export type { RequestLike } from "./request.js";
export type { RevocationListOptions } from "./revocation-list.js";
export {
  createVerifier,
  type MeshauthUser,
  type VerifiedRequest,
  type Verifier,
  type VerifierOptions,
} from "./verifier.js";
