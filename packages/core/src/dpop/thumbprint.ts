import { calculateJwkThumbprint, type JWK } from "jose";

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url): the peer key's identity, the `jkt` a
 * token is bound to (`cnf.jkt`). Give it a JWK or a public CryptoKey (a private
 * CryptoKey would have to be extractable, which DPoP keys are not).
 */
export function jwkThumbprint(key: JWK | CryptoKey): Promise<string> {
  return calculateJwkThumbprint(key, "sha256");
}
