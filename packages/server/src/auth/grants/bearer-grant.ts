import type { TokenResponse } from "@meshauth/core";
import { type bearerExchange, wantsBearerToken } from "./bearer-exchange.js";
import type { Grant } from "./registry.js";

/**
 * The token-exchange grant with the bearer exchange beside it: both are RFC 8693
 * `token-exchange`, told apart by what is asked for (a JWT for an `audience`, or a login
 * through a `provider`). The login grant's DPoP requirement (a fresh nonce) covers both.
 */
export function withBearerExchange(login: Grant, bearer: ReturnType<typeof bearerExchange>): Grant {
  return {
    ...login,
    async handle(request) {
      if (!wantsBearerToken(request.params)) return login.handle(request);
      // Not a session answer: RFC 8693's {access_token, issued_token_type, token_type, expires_in}.
      return (await bearer(request)) as unknown as TokenResponse;
    },
  };
}
