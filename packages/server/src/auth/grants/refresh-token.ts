import { REFRESH_TOKEN_GRANT } from "@meshauth/core";
import type { TokenService } from "../tokens.js";
import type { Grant } from "./registry.js";

/** RFC 6749 §6 with rotation; the proof must be by the key the session is bound to. */
export function refreshTokenGrant(deps: { tokens: TokenService }): Grant {
  return {
    grantType: REFRESH_TOKEN_GRANT,
    parameters: ["refresh_token"],
    clientAuthentication: "optional",
    dpop: {},
    handle({ params, client, proof }) {
      // Email users follow the app's current default permissions, so a change reaches them at the next refresh.
      return deps.tokens.refresh(
        client,
        params.refresh_token ?? "",
        (proof as NonNullable<typeof proof>).jkt,
        (s) => (s.provider === "otp" ? client.defaultPermissions : s.permissions),
      );
    },
  };
}
