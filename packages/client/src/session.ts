import { type Identity, NO_ACCESS, type Permissions, type ProviderId } from "@meshauth/core";

/** What a store keeps of a session (times in milliseconds since the epoch). */
export interface StoredSession {
  version: 1;
  accessToken: string;
  accessTokenExpiresAt: number;
  /** When the access token was received (local clock), for scheduling its refresh. */
  issuedAt?: number;
  refreshToken: string;
  refreshTokenExpiresAt: number | undefined;
  identity: Identity;
  /** Extra JSON the login provider returned for the device (Ditto's clientInfo). */
  clientInfo?: unknown;
}

export type SessionStatus =
  /** Access token valid. */
  | "active"
  /** A refresh is under way. */
  | "refreshing"
  /** The hub cannot be reached; local work goes on, refresh is retried with backoff. */
  | "offline";

/** Who is logged in, as `currentUser` emits it. */
export type CurrentUser = LoggedInUser | AnonymousUser;

export interface LoggedInUser {
  isLoggedIn: true;
  userId: string;
  /** `userInfo.email` / `userInfo.name` when the provider gave them. */
  email: string | undefined;
  name: string | undefined;
  provider: ProviderId;
  permissions: Permissions;
  userInfo: Readonly<Record<string, unknown>>;
  identity: Identity;
  status: SessionStatus;
  /** When the current access token ends. An expired one never hides local data. */
  accessTokenExpiresAt: Date;
  /** When the session ends at the latest; login is needed after it. */
  sessionExpiresAt: Date | undefined;
}

export interface AnonymousUser {
  isLoggedIn: false;
  userId: undefined;
  email: undefined;
  name: undefined;
  provider: undefined;
  permissions: Permissions;
  userInfo: Readonly<Record<string, unknown>>;
  identity: undefined;
  /** `loading` until the stored session has been read (draw neither "logged out" nor a Login button yet). */
  status: "anonymous" | "loading";
  accessTokenExpiresAt: undefined;
  sessionExpiresAt: undefined;
}

export const ANONYMOUS: AnonymousUser = Object.freeze({
  isLoggedIn: false,
  userId: undefined,
  email: undefined,
  name: undefined,
  provider: undefined,
  permissions: NO_ACCESS,
  userInfo: Object.freeze({}),
  identity: undefined,
  status: "anonymous",
  accessTokenExpiresAt: undefined,
  sessionExpiresAt: undefined,
});

/** What `currentUser` holds until the store has been read: nobody yet, but not known to be nobody. */
export const LOADING: AnonymousUser = Object.freeze({ ...ANONYMOUS, status: "loading" });

export function userOf(session: StoredSession, status: SessionStatus): LoggedInUser {
  const info = session.identity.userInfo ?? {};
  const end = Math.min(
    session.refreshTokenExpiresAt ?? Number.POSITIVE_INFINITY,
    session.identity.exp * 1000,
  );
  return {
    isLoggedIn: true,
    userId: session.identity.userId,
    email: typeof info["email"] === "string" ? info["email"] : undefined,
    name: typeof info["name"] === "string" ? info["name"] : undefined,
    provider: session.identity.provider,
    permissions: session.identity.permissions,
    userInfo: info,
    identity: session.identity,
    status,
    accessTokenExpiresAt: new Date(session.accessTokenExpiresAt),
    sessionExpiresAt: Number.isFinite(end) ? new Date(end) : undefined,
  };
}

/** Checks that stored JSON really is a session (a store may hold anything after a crash). */
export function isStoredSession(v: unknown): v is StoredSession {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  const id = s["identity"] as Record<string, unknown> | null | undefined;
  return (
    s["version"] === 1 &&
    typeof s["accessToken"] === "string" &&
    typeof s["refreshToken"] === "string" &&
    typeof s["accessTokenExpiresAt"] === "number" &&
    (s["refreshTokenExpiresAt"] === undefined || typeof s["refreshTokenExpiresAt"] === "number") &&
    typeof id === "object" &&
    id !== null &&
    typeof id["userId"] === "string" &&
    typeof id["appId"] === "string" &&
    typeof id["exp"] === "number" &&
    typeof id["permissions"] === "object"
  );
}
