import { type Identity, OTP_GRANT, TOKEN_EXCHANGE_GRANT } from "@meshauth/core";
import { decodeJwt } from "jose";
import { anySignal, MeshauthClientError } from "./errors.js";
import type { StoredSession } from "./session.js";
import { type Clock, type DpopTransport, jsonOrThrow } from "./transport.js";
import type { TokenResponse } from "./types.js";

// The wire protocol lives in core; re-exported for the SDK's modules.
export { OTP_GRANT, TOKEN_EXCHANGE_GRANT };

const HUB_TIMEOUT_MS = 30_000;

/** The hub's endpoints the SDK calls, relative to its base URL (the issuer). */
export class HubApi {
  readonly base: URL;

  constructor(
    hub: string | URL,
    readonly appId: string,
    private readonly transport: DpopTransport,
    private readonly clock: Clock,
  ) {
    const url = new URL(hub);
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    this.base = url;
  }

  url(path: string): URL {
    return new URL(path.replace(/^\//, ""), this.base);
  }

  /** Starts an email login: the hub mails a code. */
  async startOtp(email: string, signal?: AbortSignal): Promise<{ otpId: string; expiresIn: number }> {
    const body = await jsonOrThrow(
      await this.transport.fetch(this.#post("otp", { client_id: this.appId, email }, signal)),
    );
    if (typeof body["otp_id"] !== "string") throw invalid("otp_id");
    return { otpId: body["otp_id"], expiresIn: Number(body["expires_in"] ?? 600) };
  }

  /** Any /token grant that binds to the device key; answers a session to store. */
  async token(params: Record<string, string>, jkt: string, signal?: AbortSignal): Promise<StoredSession> {
    const response = await this.transport.send(this.#post("token", params, signal));
    return this.toSession((await jsonOrThrow(response)) as unknown as TokenResponse, jkt);
  }

  /** RFC 7009 revocation of a refresh token (logout). */
  async revoke(refreshToken: string): Promise<void> {
    const response = await this.transport.fetch(
      this.#post("revoke", { client_id: this.appId, token: refreshToken, token_type_hint: "refresh_token" }),
    );
    if (!response.ok) await jsonOrThrow(response);
  }

  /**
   * Checks a token answer (from the hub or passed on by the app's backend) and turns it
   * into a session. The access token must be for this app and bound to this device's
   * key, or it would be useless here (and a backend bug worth a clear error).
   */
  toSession(res: TokenResponse, jkt: string): StoredSession {
    if (typeof res !== "object" || res === null) throw invalid("the token answer");
    if (typeof res.access_token !== "string") throw invalid("access_token");
    if (typeof res.refresh_token !== "string") throw invalid("refresh_token");
    if (typeof res.expires_in !== "number" || res.expires_in <= 0) throw invalid("expires_in");
    const identity = res.identity as Identity | undefined;
    if (typeof identity !== "object" || identity === null || typeof identity.userId !== "string") {
      throw invalid("identity");
    }
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(res.access_token);
    } catch {
      throw invalid("access_token (not a JWT)");
    }
    const cnf = claims["cnf"] as { jkt?: unknown } | undefined;
    if (cnf?.jkt !== jkt) {
      throw new MeshauthClientError(
        "invalid_response",
        "the access token is not bound to this device's key; the backend must pass dpop_jkt = the jkt it was given",
      );
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(this.appId)) {
      throw new MeshauthClientError("invalid_response", `the access token is not for app ${this.appId}`);
    }
    if (typeof res.token_type !== "string" || res.token_type.toLowerCase() !== "dpop") {
      throw invalid('token_type ("DPoP")');
    }
    // The identity shown to the app must be the one the token carries.
    if (identity.userId !== claims.sub || identity.peerKey !== jkt || identity.appId !== this.appId) {
      throw new MeshauthClientError(
        "invalid_response",
        "the identity in the token answer does not match its access token (user, device key or app)",
      );
    }
    const now = Date.now();
    const skew = this.clock.offsetMs;
    return {
      version: 1,
      accessToken: res.access_token,
      accessTokenExpiresAt: now + res.expires_in * 1000,
      issuedAt: now,
      refreshToken: res.refresh_token,
      // The hub states absolute times on its clock; keep them on the local one.
      refreshTokenExpiresAt:
        typeof res.refresh_token_expires_at === "number"
          ? res.refresh_token_expires_at * 1000 - skew
          : undefined,
      identity,
      ...(res.client_info !== undefined ? { clientInfo: res.client_info } : {}),
    };
  }

  #post(path: string, params: Record<string, string>, signal?: AbortSignal): Request {
    return new Request(this.url(path), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(params).toString(),
      // A hung request would hold the refresh lock for every tab; give up after 30 s.
      signal: signal
        ? anySignal(signal, AbortSignal.timeout(HUB_TIMEOUT_MS))
        : AbortSignal.timeout(HUB_TIMEOUT_MS),
    });
  }
}

function invalid(what: string): MeshauthClientError {
  return new MeshauthClientError("invalid_response", `the hub's token answer lacks a valid ${what}`);
}
