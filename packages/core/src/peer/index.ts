export {
  type CreatePeerProofOptions,
  createPeerProof,
  PEER_PROOF_TYPE,
  type VerifyPeerTokenOptions,
  verifyPeerToken,
} from "./token.js";
