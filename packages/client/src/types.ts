import type { TokenResponse } from "@meshauth/core";
import type { JWK } from "jose";
import type { MeshauthClientError } from "./errors.js";
import type { Alert, Field, UserInteraction } from "./interaction/types.js";
import type { ObservableValue } from "./observable.js";
import type { CurrentUser } from "./session.js";
import type { ClientStore } from "./stores/types.js";

/** The hub's /token answer, as an app backend passes it on from the custom-auth grant. */
export type { TokenResponse } from "@meshauth/core";

/** What `fetchTokens` gets to work with. */
export interface FetchTokensContext {
  /** RFC 7638 thumbprint of this device's key: the backend passes it as `dpop_jkt`. */
  jkt: string;
  /** The device's public key, if the backend wants more than the thumbprint. */
  publicJwk: JWK;
  hub: string;
  appId: string;
  /**
   * Asks the person for something through `userInteraction` (or the default dialog)
   * and resolves with what they entered; rejects with an AbortError on cancel. Call
   * it as often as the flow needs (multi-step login).
   */
  prompt(request: PromptRequest): Promise<Record<string, string>>;
  signal: AbortSignal;
}

/** A question for `FetchTokensContext.prompt`. */
export interface PromptRequest {
  title: string;
  fields: Record<string, Field>;
  alerts?: Alert[];
  submitLabel?: string;
  cancelLabel?: string;
}

/**
 * Logs in through the app's own backend: ask the person whatever the app needs, have
 * the backend authenticate them and call the hub's custom-auth grant with its client
 * secret and `dpop_jkt: context.jkt`, and return the hub's answer unchanged.
 */
export type FetchTokens = (context: FetchTokensContext) => Promise<TokenResponse>;

/** One way to log in that the interactive `login()` offers. */
export type LoginMethod =
  | { type: "email"; displayName?: string }
  | { type: "backend"; id: string; displayName: string; iconUrl?: string; fetchTokens: FetchTokens }
  | {
      /** A hub provider (`playground`, `webhook:<name>`, `oidc:<name>`) whose token the app obtains. */
      type: "provider";
      provider: string;
      displayName: string;
      iconUrl?: string;
      getToken(context: { signal: AbortSignal }): Promise<string>;
    };

export interface ClientOptions {
  /** The hub's base URL (its issuer), e.g. "http://localhost:4000". */
  hub: string | URL;
  /** The app's ID (its OAuth client_id). */
  appId: string;
  /** Where keys and tokens live. Default: IndexedDB in browsers; Node must pass `fileStore(dir)`. */
  store?: ClientStore;
  /**
   * Set to true to draw your own dialog from `userInteraction`. Otherwise a browser
   * shows the default `<meshauth-login-dialog>` whenever the SDK asks something.
   */
  customLoginGui?: boolean;
  /** The ways `login()` offers; with more than one, a provider picker comes first. Default: email. */
  loginMethods?: LoginMethod[];
  /** Shorthand for `loginMethods: [{type: "backend", ...}]`. */
  fetchTokens?: FetchTokens;
  /** How many local changes are not yet synced; above 0, `logout()` asks to confirm. */
  unsyncedChanges?: () => number | Promise<number>;
  /** Called by `logout({clearLocalData: true})` to wipe the app's own local data. */
  clearLocalData?: () => void | Promise<void>;
  /** When `authenticationExpiringSoon` fires, in seconds before the session ends. Default 300. */
  expiringSoonSeconds?: number;
  /**
   * Origins (or URLs) of the app's own APIs that `client.fetch` may send the access
   * token to. The hub and, in a browser, the page's own origin are always included;
   * `client.fetch` to anywhere else throws instead of leaking the token.
   */
  apiOrigins?: (string | URL)[];
  /** The fetch to use (tests, proxies). Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface LoginHints {
  /** Skip the email question. */
  email?: string;
  /** Skip the provider picker: "email", a backend method's id, or a provider name. */
  method?: string;
  signal?: AbortSignal;
}

export interface LogoutOptions {
  /** Skip the unsynced-changes confirmation. */
  force?: boolean;
  /** Also call `clearLocalData`, delete the certificate and replace the device key. */
  clearLocalData?: boolean;
}

export interface LogoutResult {
  /** Whether the hub confirmed the revocation now. */
  revokedOnHub: boolean;
  /** True when the hub was unreachable; the revocation is retried when it is back. */
  pending: boolean;
}

export interface ClientEvents {
  /**
   * Nobody is logged in: at startup without a (readable) session, or when the session
   * ended on the hub (revoked, expired, user disabled). The person must log in.
   */
  authenticationRequired: (reason: MeshauthClientError) => void;
  /** The session ends in `secondsRemaining`; log in again to continue without a gap. */
  authenticationExpiringSoon: (secondsRemaining: number) => void;
  /** A background refresh failed in a way worth logging (offline retries included). */
  error: (error: MeshauthClientError) => void;
}

/** The SDK's face. Create one per app with `createClient`. */
export interface MeshauthClient {
  readonly hub: string;
  readonly appId: string;
  /** Who is logged in; anonymous (`isLoggedIn: false`) otherwise. */
  readonly currentUser: ObservableValue<CurrentUser>;
  /** What the SDK asks of the person right now, or undefined. */
  readonly userInteraction: ObservableValue<UserInteraction | undefined>;
  /** Resolves when the stored session (if any) has been loaded. */
  ready(): Promise<CurrentUser>;
  /** Interactive login: the provider picker (if several methods), then that method's steps. */
  login(hints?: LoginHints): Promise<CurrentUser>;
  /** Logs in with a credential for a hub provider: `playground`, `webhook:<name>`, `oidc:<name>`. */
  login(token: string, provider: string, options?: { signal?: AbortSignal }): Promise<CurrentUser>;
  logout(options?: LogoutOptions): Promise<LogoutResult>;
  /** Refreshes now (for example after permissions changed on the hub). */
  refresh(): Promise<CurrentUser>;
  /** A valid access token, refreshed first if needed; throws `not_logged_in` otherwise. */
  getAccessToken(): Promise<string>;
  /**
   * A short-lived bearer JWT for another engine (`audience` as the hub's admin set it up:
   * PowerSync, Supabase, ...), exchanged for this session (RFC 8693) and cached until
   * near its expiry. Rejects with `invalid_target` for an audience the app does not have,
   * `not_logged_in` without a session.
   */
  getTokenFor(audience: string): Promise<string>;
  /** `fetch` for the app's own API: adds `Authorization: DPoP` and a proof; retries once on a nonce challenge. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Creates a DPoP proof with the device key (for transports other than fetch). */
  createProof(
    method: string,
    url: string | URL,
    options?: { nonce?: string; accessToken?: string },
  ): Promise<string>;
  /** RFC 7638 thumbprint of this device's key. */
  deviceKeyThumbprint(): Promise<string>;
  /** The device key pair (made on first use; the private key is non-extractable in browsers). */
  deviceKey(): Promise<CryptoKeyPair>;
  /** Where this client keeps its key, session and certificate. */
  readonly store: ClientStore;
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void;
  /** Stops timers and releases the store; the session stays stored. */
  close(): Promise<void>;
}
