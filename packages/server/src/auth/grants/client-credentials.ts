import { CLIENT_CREDENTIALS_GRANT, FULL_ACCESS, MeshauthError, type Permissions } from "@meshauth/core";
import { customLoginIdentity } from "../identity.js";
import type { TokenService } from "../tokens.js";
import type { Grant } from "./registry.js";

/**
 * The app's backend with its secret. Without `sub`: a token for the backend itself,
 * bound to the proof's key. With `sub`: custom auth, the backend vouches for a user and
 * names the user's device key (`dpop_jkt`); no proof is needed then.
 */
export function clientCredentialsGrant(deps: {
  tokens: TokenService;
  validatePermissions: (value: unknown, field: string) => Permissions;
}): Grant {
  return {
    grantType: CLIENT_CREDENTIALS_GRANT,
    parameters: [],
    clientAuthentication: "required",
    dpop: { optional: true },
    async handle({ params, client, proof }) {
      if (!client.providers.includes("client"))
        throw new MeshauthError(
          "unauthorized_client",
          `client credentials are not enabled for app ${client.name}`,
        );
      if (params.sub !== undefined) {
        const login = customLoginIdentity(params, deps.validatePermissions);
        return deps.tokens.login({
          app: client,
          provider: "client",
          ...login,
          permissions: login.permissions ?? client.defaultPermissions,
        });
      }
      if (!proof)
        throw new MeshauthError(
          "invalid_dpop_proof",
          "send a DPoP proof in the DPoP header (RFC 9449): the backend's token is bound to its key",
        );
      return deps.tokens.backendToken(client, proof.jkt, FULL_ACCESS);
    },
  };
}
