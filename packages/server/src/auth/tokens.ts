import { randomUUID } from "node:crypto";
import {
  type AccessTokenClaims,
  backendSubject,
  type Identity,
  MeshauthError,
  type Permissions,
  type ProviderId,
  type TokenResponse,
} from "@meshauth/core";
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from "jose";
import type { App } from "../apps/model.js";
import { hashSecret, randomToken } from "../crypto/secrets.js";
import type { SigningKeys } from "../keys/signing-keys.js";
import type { RefreshTokenRecord, SessionRecord } from "../storage/session-store.js";
import type { Store } from "../storage/store.js";

/** RFC 6749 §5.2: an ended session is `invalid_grant`; meshauth's precise reason rides along. */
const SESSION_REVOKED = { meshauth_error: "session_revoked" } as const;

/** Controls, format characters (U+200B, U+202E, ...), lone surrogates, line separators. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Longest `userInfo` (JSON characters) carried in tokens and certificates. */
export const MAX_USER_INFO_LENGTH = 4096;

/**
 * How long (seconds) after a refresh token was rotated the same device may present it
 * again because the answer with its successor was lost, provided that successor was never
 * used. The retry supersedes the successor and gets a new one; see TokenService.refresh.
 */
export const REFRESH_GRACE_SECONDS = 60;

export type { AccessTokenClaims, TokenResponse } from "@meshauth/core";

export interface LoginGrant {
  app: App;
  userId: string;
  provider: ProviderId;
  permissions: Permissions;
  userInfo?: Record<string, unknown>;
  /** The device key the session is bound to. */
  jkt: string;
  profile?: { email?: string; name?: string };
  /** A provider's own limit on the session (e.g. a webhook's expirationSeconds). */
  maxLifetimeSeconds?: number;
  /** Returned in this login's token response only (Ditto's clientInfo is for the device). */
  clientInfo?: unknown;
  /** Shared with peers in every token and certificate of the session (Ditto's identityServiceMetadata). */
  identityMetadata?: Record<string, unknown>;
}

/** What an access token and identity are made from. */
type SessionToken = Pick<
  SessionRecord,
  "id" | "userId" | "jkt" | "provider" | "permissions" | "userInfo" | "identityMetadata" | "expiresAt"
>;

/** Issues access tokens and runs refresh sessions with rotation and reuse detection. */
export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly now: () => number,
    private readonly log: (obj: Record<string, unknown>, msg: string) => void,
  ) {}

  async #accessToken(
    app: App,
    session: Pick<
      SessionRecord,
      "id" | "userId" | "jkt" | "provider" | "permissions" | "userInfo" | "identityMetadata" | "expiresAt"
    >,
    now: number,
  ) {
    const exp = Math.min(now + app.accessTokenTtl, session.expiresAt);
    const claims: AccessTokenClaims = {
      iss: this.issuer,
      sub: session.userId,
      aud: app.id,
      client_id: app.id,
      exp,
      iat: now,
      jti: randomUUID(),
      ...(session.id ? { sid: session.id } : {}),
      cnf: { jkt: session.jkt },
      provider: session.provider as ProviderId,
      permissions: session.permissions,
      ...(Object.keys(session.userInfo).length ? { user_info: session.userInfo } : {}),
      ...(session.identityMetadata ? { identity_metadata: session.identityMetadata } : {}),
      identity_exp: session.expiresAt,
    };
    return { token: await this.keys.sign({ ...claims }, "at+jwt"), exp };
  }

  #identity(
    app: App,
    s: Pick<
      SessionRecord,
      "userId" | "jkt" | "provider" | "permissions" | "userInfo" | "identityMetadata" | "expiresAt"
    >,
  ): Identity {
    return {
      appId: app.id,
      userId: s.userId,
      peerKey: s.jkt,
      provider: s.provider as ProviderId,
      permissions: s.permissions,
      ...(Object.keys(s.userInfo).length ? { userInfo: s.userInfo } : {}),
      ...(s.identityMetadata ? { metadata: s.identityMetadata } : {}),
      exp: s.expiresAt,
    };
  }

  /** Starts a session for a user who just logged in; first login creates the user. */
  async login(grant: LoginGrant): Promise<TokenResponse> {
    const { app } = grant;
    const now = this.now();
    // RFC 9700 §4.15: no user may share the subject of an app backend's own token.
    if (grant.userId.startsWith(backendSubject("")))
      throw new MeshauthError(
        "invalid_request",
        `user ID ${JSON.stringify(grant.userId.slice(0, 80))}: IDs starting with "client:" are reserved for app backends`,
      );
    if (INVISIBLE.test(grant.userId))
      throw new MeshauthError(
        "invalid_request",
        "user ID: contains an invisible or control character; it would look like another user's",
      );
    const userInfo = grant.userInfo ?? {};
    if (JSON.stringify(userInfo).length > MAX_USER_INFO_LENGTH) {
      throw new MeshauthError(
        "invalid_request",
        `userInfo is larger than ${MAX_USER_INFO_LENGTH} characters of JSON`,
      );
    }
    const user = await this.store.sessions.upsertUserOnLogin(app.id, grant.userId, grant.profile ?? {}, now);
    if (user.disabledAt !== null)
      throw new MeshauthError("user_disabled", "this user is disabled; ask the app's administrator");
    const lifetime = Math.min(app.sessionAbsoluteTtl, grant.maxLifetimeSeconds ?? Number.POSITIVE_INFINITY);
    const session = {
      id: randomToken(16, "ses_"),
      appId: app.id,
      userId: grant.userId,
      jkt: grant.jkt,
      provider: grant.provider,
      permissions: grant.permissions,
      userInfo,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + lifetime,
      idleTtl: Math.min(app.sessionIdleTtl, lifetime),
      ...(grant.identityMetadata ? { identityMetadata: grant.identityMetadata } : {}),
    };
    const refreshToken = randomToken(32, "mr_");
    await this.store.sessions.insertSession(session, hashSecret(refreshToken));
    const response = await this.#sessionResponse(app, session, refreshToken, now);
    return grant.clientInfo !== undefined ? { ...response, client_info: grant.clientInfo } : response;
  }

  /** A token for an app's backend itself (client_credentials); no session, no refresh token. */
  async backendToken(app: App, jkt: string, permissions: Permissions): Promise<TokenResponse> {
    const now = this.now();
    const s = {
      id: "",
      userId: backendSubject(app.id),
      jkt,
      provider: "client" as const,
      permissions,
      userInfo: {},
      expiresAt: now + app.accessTokenTtl,
    };
    const access = await this.#accessToken(app, s, now);
    return {
      access_token: access.token,
      token_type: "DPoP",
      expires_in: access.exp - now,
      identity: this.#identity(app, s),
    };
  }

  /**
   * Rotates a refresh token. The caller has checked the DPoP proof; `jkt` is its key.
   * A token presented after it was rotated revokes the whole session: either the
   * device or a thief holds a copy, and the hub cannot tell which.
   *
   * One exception, for an answer lost on the way to the device: the presented token is
   * answered again (with a new successor; the lost one is superseded) when all of these
   * hold: the proof is by the session's key, the session is live, the presented token
   * was rotated (not superseded) less than REFRESH_GRACE_SECONDS ago, and its successor
   * is the session's newest token and was never used. A superseded token presented
   * later is reuse like any other.
   */
  async refresh(
    app: App,
    refreshToken: string,
    jkt: string,
    currentPermissions?: (s: SessionRecord) => Permissions,
  ): Promise<TokenResponse> {
    const now = this.now();
    const presented = hashSecret(refreshToken);
    const found = await this.store.sessions.findByRefreshHash(presented);
    if (!found || found.session.appId !== app.id)
      throw new MeshauthError("invalid_grant", "unknown refresh token");
    const { session } = found;
    if (session.jkt !== jkt) {
      await this.#event(session, "refresh_wrong_key", { presented_jkt: jkt });
      throw new MeshauthError("invalid_grant", "this refresh token is bound to another device key");
    }
    if (session.revokedAt !== null)
      throw new MeshauthError("invalid_grant", "this session was ended; log in again", SESSION_REVOKED);
    // The successor whose answer the device lost, when this is a retry within the grace.
    let lost: RefreshTokenRecord | undefined;
    if (found.usedAt !== null) {
      lost = await this.#lostSuccessor(found, now);
      if (!lost) return this.#reuse(found);
    }
    if (now >= session.expiresAt)
      throw new MeshauthError("invalid_grant", "the session has expired; log in again");
    if (now >= session.lastUsedAt + session.idleTtl)
      throw new MeshauthError("invalid_grant", "the session expired after being idle; log in again");
    const user = await this.store.sessions.findUser(app.id, session.userId);
    if (user?.disabledAt != null)
      throw new MeshauthError("user_disabled", "this user is disabled; ask the app's administrator");

    const next = randomToken(32, "mr_");
    const won = await this.store.transaction(async (tx) => {
      // Compare-and-set on the token that stops being redeemable: the presented one, or on
      // a retry the lost successor. Of concurrent requests exactly one passes.
      const taken = lost
        ? await tx.sessions.supersedeRefreshToken(lost.hash, now)
        : await tx.sessions.markRefreshUsed(presented, now);
      if (!taken) return false;
      await tx.sessions.insertRefreshToken(session.id, hashSecret(next), (lost ?? found).generation + 1, now);
      await tx.sessions.touchSession(session.id, now);
      return true;
    });
    if (!won) {
      const contested = await this.store.sessions.findByRefreshHash(lost ? lost.hash : presented);
      // A retry whose lost successor was redeemed in the meantime (the device had it after all): reuse.
      if (lost && contested?.supersededAt === null) return this.#reuse(found);
      // A token superseded by a retry while it was being redeemed: reuse like any superseded token.
      if (!lost && contested && contested.supersededAt !== null) return this.#reuse(contested);
      // A concurrent request with the same token (or a concurrent retry) got there first; only one may continue.
      throw new MeshauthError("invalid_grant", "this refresh token was just used by another request");
    }
    if (lost) {
      await this.#event(session, "refresh_retry_after_lost_response", {
        generation: found.generation,
        superseded_generation: lost.generation,
      });
    }
    const live = { ...session, permissions: currentPermissions?.(session) ?? session.permissions };
    return this.#sessionResponse(app, live, next, now);
  }

  /** The presented token's successor if the presented token may be retried (see `refresh`). */
  async #lostSuccessor(found: RefreshTokenRecord & { session: SessionRecord }, now: number) {
    if (found.supersededAt !== null || found.usedAt === null) return undefined;
    if (now - found.usedAt >= REFRESH_GRACE_SECONDS) return undefined;
    const newest = await this.store.sessions.newestRefreshToken(found.session.id);
    if (!newest || newest.generation !== found.generation + 1 || newest.usedAt !== null) return undefined;
    return newest;
  }

  /** Reuse of a rotated or superseded token: ends the session. */
  async #reuse(found: RefreshTokenRecord & { session: SessionRecord }): Promise<never> {
    const { session } = found;
    await this.store.sessions.revokeSession(session.id, "refresh_token_reuse", this.now());
    await this.#event(session, "refresh_token_reuse", {
      generation: found.generation,
      ...(found.supersededAt !== null ? { superseded: true } : {}),
    });
    throw new MeshauthError(
      "invalid_grant",
      "this refresh token was already used, so the session was ended for safety; log in again",
      SESSION_REVOKED,
    );
  }

  async #sessionResponse(
    app: App,
    session: SessionToken,
    refreshToken: string,
    now: number,
  ): Promise<TokenResponse> {
    const access = await this.#accessToken(app, session, now);
    return {
      access_token: access.token,
      token_type: "DPoP",
      expires_in: access.exp - now,
      refresh_token: refreshToken,
      refresh_token_expires_at: session.expiresAt,
      identity: this.#identity(app, session),
    };
  }

  /** Ends the session a refresh token belongs to (logout, RFC 7009). */
  async revokeRefreshToken(app: App, refreshToken: string): Promise<boolean> {
    const found = await this.store.sessions.findByRefreshHash(hashSecret(refreshToken));
    if (!found || found.session.appId !== app.id) return false;
    return this.store.sessions.revokeSession(found.session.id, "logout", this.now());
  }

  /** Verifies a hub access token: signature by a published hub key, `typ`, issuer, audience, expiry. */
  async verifyAccessToken(token: string, app?: App): Promise<AccessTokenClaims> {
    try {
      const jwks = createLocalJWKSet(await this.keys.jwks());
      const { payload } = await jwtVerify(token, jwks, {
        issuer: this.issuer,
        typ: "at+jwt",
        algorithms: ["ES256", "EdDSA"],
        currentDate: new Date(this.now() * 1000),
        ...(app ? { audience: app.id } : {}),
        requiredClaims: ["sub", "exp", "iat", "jti", "aud", "cnf"],
      });
      const claims = payload as unknown as AccessTokenClaims;
      if (typeof claims.cnf?.jkt !== "string")
        throw new MeshauthError("invalid_token", "access token is not bound to a key (cnf.jkt)");
      return claims;
    } catch (e) {
      if (e instanceof MeshauthError) throw e;
      const why =
        e instanceof joseErrors.JWTExpired
          ? "access token has expired"
          : e instanceof joseErrors.JOSEError
            ? `access token is invalid: ${e.message}`
            : "access token is invalid";
      throw new MeshauthError("invalid_token", why);
    }
  }

  /** Whether the session behind a token is still live (for introspection). */
  async sessionIsLive(appId: string, sid: string | undefined, userId: string): Promise<boolean> {
    const now = this.now();
    if (sid !== undefined) {
      const s = await this.store.sessions.findSession(sid);
      if (
        !s ||
        s.appId !== appId ||
        s.revokedAt !== null ||
        now >= s.expiresAt ||
        now >= s.lastUsedAt + s.idleTtl
      )
        return false;
    }
    const user = await this.store.sessions.findUser(appId, userId);
    return user?.disabledAt == null;
  }

  async #event(session: SessionRecord, kind: string, detail: Record<string, unknown>): Promise<void> {
    this.log(
      {
        security_event: kind,
        app_id: session.appId,
        user_id: session.userId,
        session_id: session.id,
        ...detail,
      },
      `security event: ${kind}`,
    );
    await this.store.guards.recordEvent({
      appId: session.appId,
      kind,
      userId: session.userId,
      sessionId: session.id,
      detail,
      createdAt: this.now(),
    });
  }
}
