import { jwkThumbprint, TOKEN_TYPES, toPublicJwk } from "@meshauth/core";
import { BearerTokens } from "./bearer-tokens.js";
import { abortError, anySignal, isAbortError, MeshauthClientError } from "./errors.js";
import { HubApi, TOKEN_EXCHANGE_GRANT } from "./hub-api.js";
import { alertFor, unsyncedChanges } from "./interaction/alerts.js";
import {
  type AskRequest,
  browserDialog,
  type DialogAttacher,
  Interactions,
  noDialog,
} from "./interaction/ask.js";
import { emailLogin } from "./interaction/email-login.js";
import type { UserInteraction } from "./interaction/types.js";
import { Emitter, State } from "./observable.js";
import {
  ANONYMOUS,
  type CurrentUser,
  LOADING,
  type SessionStatus,
  type StoredSession,
  userOf,
} from "./session.js";
import type { ClientStore } from "./stores/types.js";
import { backoff, refreshAt, runAt, type Timer } from "./timers.js";
import { Clock, DpopTransport } from "./transport.js";
import type {
  ClientEvents,
  ClientOptions,
  LoginHints,
  LoginMethod,
  LogoutOptions,
  LogoutResult,
  MeshauthClient,
} from "./types.js";

/** Codes after which a session cannot continue: the person must log in again. */
const SESSION_OVER = new Set(["invalid_grant", "session_revoked", "user_disabled", "invalid_client"]);
/** Codes that mean "try again later" rather than "stop". */
const TRANSIENT = new Set([
  "network_error",
  "unavailable",
  "rate_limited",
  "internal_error",
  "provider_unavailable",
]);
const REFRESH_LOCK = "refresh";
const KEY_LOCK = "device-key";

export class Client implements MeshauthClient {
  readonly hub: string;
  readonly appId: string;
  readonly store: ClientStore;
  readonly #currentUser = new State<CurrentUser>(LOADING);
  readonly #interactions: Interactions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #clock = new Clock();
  readonly #transport: DpopTransport;
  readonly #bearer: BearerTokens;
  readonly #api: HubApi;
  readonly #options: ClientOptions;
  readonly #ready: Promise<CurrentUser>;
  readonly #apiOrigins: Set<string>;

  #session: StoredSession | undefined;
  #keys: Promise<CryptoKeyPair> | undefined;
  #refreshing: Promise<StoredSession | undefined> | undefined;
  #login: Promise<CurrentUser> | undefined;
  #refreshTimer: Timer | undefined;
  #expiringTimer: Timer | undefined;
  #retryAttempt = 0;
  #expiringNotified: number | undefined;
  #generation = 0;
  #loginAbort: AbortController | undefined;
  /** A fresh access token an API refused anyway (see fetch). */
  #refusedFresh: string | undefined;
  #closed = false;
  readonly #cleanups: (() => void)[] = [];

  /**
   * `defaultDialog` draws interactions when the app does not (`customLoginGui`): the
   * web component in browsers, the terminal in Node, none elsewhere.
   */
  constructor(options: ClientOptions, store: ClientStore, defaultDialog?: DialogAttacher) {
    this.#options = options;
    this.store = store;
    this.appId = options.appId;
    this.#transport = new DpopTransport(
      { keys: () => this.deviceKey(), clock: this.#clock },
      options.fetch ?? globalThis.fetch.bind(globalThis),
    );
    this.#api = new HubApi(options.hub, options.appId, this.#transport, this.#clock);
    this.hub = this.#api.base.href.replace(/\/$/, "");
    this.#bearer = new BearerTokens(this.#transport, this.#api.url("token").href, options.appId, () =>
      this.getAccessToken(),
    );
    this.#apiOrigins = new Set([
      this.#api.base.origin,
      ...(typeof location === "undefined" ? [] : [location.origin]),
      ...(options.apiOrigins ?? []).map((o) => new URL(o).origin),
    ]);
    this.#interactions = new Interactions(
      options.customLoginGui
        ? undefined
        : (defaultDialog ?? (typeof document === "undefined" ? noDialog : browserDialog)),
    );

    const unwatch = store.watch?.(() => void this.#adoptStored());
    if (unwatch) this.#cleanups.push(unwatch);
    if (typeof globalThis.addEventListener === "function" && typeof window !== "undefined") {
      const online = () => void this.#onOnline();
      globalThis.addEventListener("online", online);
      this.#cleanups.push(() => globalThis.removeEventListener("online", online));
    }
    this.#ready = this.#start();
    // A rejected ready() is for callers who ask; do not report it as unhandled.
    this.#ready.catch(() => {});
  }

  get currentUser() {
    return this.#currentUser;
  }

  get userInteraction() {
    return this.#interactions.current as State<UserInteraction | undefined>;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  ready(): Promise<CurrentUser> {
    return this.#ready;
  }

  async #start(): Promise<CurrentUser> {
    void this.#retryPendingRevocations();
    let stored: StoredSession | undefined;
    try {
      stored = await this.store.loadSession();
    } catch (e) {
      if (this.#currentUser.value === LOADING) this.#currentUser.set(ANONYMOUS);
      this.#events.emit("authenticationRequired", toClientError(e));
      throw e;
    }
    if (stored) await this.#adopt(stored);
    // Nothing stored, or a session that was not this device's: known to be nobody now.
    if (this.#currentUser.value === LOADING) this.#currentUser.set(ANONYMOUS);
    // Like Ditto's callback at startup: nobody is logged in on this device yet.
    if (!this.#session) {
      this.#events.emit(
        "authenticationRequired",
        new MeshauthClientError("not_logged_in", "no session on this device; log in"),
      );
    }
    return this.#currentUser.value;
  }

  // ---- keys ---------------------------------------------------------------------

  deviceKey(): Promise<CryptoKeyPair> {
    this.#keys ??= this.store
      .exclusive(KEY_LOCK, async () => {
        let keys: CryptoKeyPair | undefined;
        try {
          keys = await this.store.loadKey();
        } catch (e) {
          // An unreadable key cannot sign for its session anyway; a new key and a new
          // login repair it (the store keeps the unreadable copy).
          if (!(e instanceof MeshauthClientError && e.code === "store_corrupted")) throw e;
        }
        return keys ?? (await this.store.createKey());
      })
      .catch((e: unknown) => {
        this.#keys = undefined;
        throw e;
      });
    return this.#keys;
  }

  async deviceKeyThumbprint(): Promise<string> {
    return jwkThumbprint((await this.deviceKey()).publicKey);
  }

  createProof(method: string, url: string | URL, options: { nonce?: string; accessToken?: string } = {}) {
    return this.#transport.proof(method, url, options);
  }

  // ---- session state ------------------------------------------------------------

  /** Makes `session` the current one (or none), with its timers. */
  async #adopt(session: StoredSession | undefined): Promise<void> {
    // Adoptions may overlap (each awaits the key); only the latest one may win.
    const generation = ++this.#generation;
    if (session && session.identity.peerKey !== (await this.deviceKeyThumbprint())) {
      // Another tab or process may have replaced the key: read it again before giving up.
      this.#keys = undefined;
      if (session.identity.peerKey !== (await this.deviceKeyThumbprint())) session = undefined;
    }
    if (generation !== this.#generation) return;
    // Bearer tokens belong to the session's user; another user (or none) starts afresh.
    if (!session || session.identity.userId !== this.#session?.identity.userId) this.#bearer.clear();
    this.#session = session;
    this.#refreshTimer?.cancel();
    this.#expiringTimer?.cancel();
    this.#refreshTimer = this.#expiringTimer = undefined;
    if (!session) {
      this.#currentUser.set(ANONYMOUS);
      return;
    }
    this.#currentUser.set(userOf(session, "active"));
    if (this.#closed) return;
    const end = this.#currentUser.value.sessionExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    const at = refreshAt(
      session.issuedAt ?? session.accessTokenExpiresAt - 60_000,
      session.accessTokenExpiresAt,
    );
    // Past the session's end a refresh can only learn that it is over, which is worth knowing.
    this.#refreshTimer = runAt(Math.min(at, end), () => void this.#backgroundRefresh());
    if (Number.isFinite(end)) {
      const soon = (this.#options.expiringSoonSeconds ?? 300) * 1000;
      this.#expiringTimer = runAt(end - soon, () => {
        // Once per session end: refreshes inside the window do not repeat it.
        if (this.#session !== session || this.#expiringNotified === end) return;
        this.#expiringNotified = end;
        this.#events.emit("authenticationExpiringSoon", Math.max(0, Math.round((end - Date.now()) / 1000)));
      });
    }
  }

  /** Another tab or process changed the stored session: follow it without a request. */
  async #adoptStored(): Promise<void> {
    try {
      const had = this.#session !== undefined;
      const changed = await this.store.exclusive(REFRESH_LOCK, async () => {
        const stored = await this.store.loadSession();
        if (stored?.refreshToken === this.#session?.refreshToken) return false;
        await this.#adopt(stored);
        return true;
      });
      if (!changed) return;
      if (had && !this.#session) {
        this.#endedElsewhere();
      }
    } catch {
      // A corrupted store shows up on the next call that needs it.
    }
  }

  /** Logged out, or the session ended, in another tab or process: this one must know too. */
  #endedElsewhere(): void {
    this.#events.emit(
      "authenticationRequired",
      new MeshauthClientError("not_logged_in", "the session ended in another tab or process; log in"),
    );
  }

  #setStatus(status: SessionStatus): void {
    if (this.#session) this.#currentUser.set(userOf(this.#session, status));
  }

  /** The session has ended on the hub: forget it and tell the app. */
  async #ended(error: MeshauthClientError, refreshToken: string): Promise<void> {
    const over = await this.store.exclusive(REFRESH_LOCK, async () => {
      const stored = await this.store.loadSession().catch(() => undefined);
      // A new login since (here or elsewhere) is not what ended.
      if (stored && stored.refreshToken !== refreshToken) {
        await this.#adopt(stored);
        return false;
      }
      await this.store.deleteSession();
      await this.#adopt(undefined);
      return true;
    });
    if (over) this.#events.emit("authenticationRequired", error);
  }

  /** Stores and adopts under the lock, so a concurrent logout or refresh cannot interleave. */
  async #save(session: StoredSession): Promise<void> {
    await this.store.exclusive(REFRESH_LOCK, async () => {
      await this.store.saveSession(session);
      await this.#adopt(session);
    });
  }

  // ---- refresh ------------------------------------------------------------------

  async refresh(): Promise<CurrentUser> {
    if (!(await this.#refresh(true))) throw new MeshauthClientError("not_logged_in", "log in first");
    return this.#currentUser.value;
  }

  /**
   * One refresh at a time: in this tab by sharing the promise, across tabs and
   * processes by the store's lock. Whoever gets the lock second finds the session
   * already rotated and adopts it instead of spending the old refresh token again
   * (which the hub would treat as theft and end the session).
   */
  #refresh(force: boolean): Promise<StoredSession | undefined> {
    this.#refreshing ??= (async () => {
      await this.#ready.catch(() => {});
      const known = this.#session?.refreshToken;
      let used: string | undefined;
      try {
        const had = this.#session !== undefined;
        const next = await this.store.exclusive(REFRESH_LOCK, async () => {
          let session = await this.store.loadSession();
          const fresh = session !== undefined && session.accessTokenExpiresAt - Date.now() > 10_000;
          // Rotated by another tab or process while we waited: that refresh is ours too.
          if (session && !(fresh && (session.refreshToken !== known || !force))) {
            used = session.refreshToken;
            this.#setStatus("refreshing");
            session = await this.#api.token(
              { grant_type: "refresh_token", refresh_token: session.refreshToken, client_id: this.appId },
              await this.deviceKeyThumbprint(),
            );
            await this.store.saveSession(session);
          }
          await this.#adopt(session);
          return session;
        });
        this.#retryAttempt = 0;
        if (used !== undefined) void this.#retryPendingRevocations();
        if (had && !next) {
          this.#endedElsewhere();
        }
        return next;
      } catch (e) {
        const error = toClientError(e);
        if (used !== undefined && SESSION_OVER.has(error.code)) {
          await this.#ended(error, used);
        } else if (TRANSIENT.has(error.code)) {
          this.#setStatus("offline");
          this.#scheduleRetry();
        } else {
          this.#setStatus("active");
        }
        throw error;
      }
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #backgroundRefresh(): Promise<void> {
    try {
      // Forced: the timer fires well before expiry, when the token still counts as fresh.
      // A tab that finds the session already rotated by another adopts it without a request.
      await this.#refresh(true);
    } catch (e) {
      this.#events.emit("error", toClientError(e));
    }
  }

  #scheduleRetry(): void {
    if (this.#closed || !this.#session) return;
    this.#refreshTimer?.cancel();
    const delay = backoff(this.#retryAttempt++);
    this.#refreshTimer = runAt(Date.now() + delay, () => void this.#backgroundRefresh());
  }

  async #onOnline(): Promise<void> {
    void this.#retryPendingRevocations();
    if (this.#currentUser.value.status === "offline") {
      this.#retryAttempt = 0;
      await this.#backgroundRefresh();
    }
  }

  async getAccessToken(): Promise<string> {
    await this.#ready.catch(() => {});
    if (!this.#session) throw new MeshauthClientError("not_logged_in", "log in first");
    if (this.#session.accessTokenExpiresAt - Date.now() < 10_000) await this.#refresh(false);
    if (!this.#session) throw new MeshauthClientError("not_logged_in", "the session has ended; log in again");
    return this.#session.accessToken;
  }

  getTokenFor(audience: string): Promise<string> {
    return this.#bearer.get(audience);
  }

  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const origin = new URL(request.url).origin;
    // The token (and the user info in it) goes only where the app said its API is.
    if (!this.#apiOrigins.has(origin)) {
      throw new MeshauthClientError(
        "invalid_request",
        `client.fetch sends the access token only to the hub and the apiOrigins option; add "${origin}" to apiOrigins`,
      );
    }
    const trustClock = origin === new URL(this.hub).origin;
    const sent = await this.getAccessToken();
    const response = await this.#transport.send(request, sent, { trustClock });
    if (!refusedToken(response)) return response;
    // Refused: maybe expired by the API's clock, so refresh and retry once. If the API
    // refuses the fresh token too, it will not be refreshed for this API again: a broken
    // API must not turn every call into a rotation.
    if (this.#session?.accessToken === sent && this.#refusedFresh !== sent) await this.#refresh(true);
    const current = await this.getAccessToken();
    if (current === sent) return response;
    const retried = await this.#transport.send(request, current, { trustClock });
    if (refusedToken(retried)) this.#refusedFresh = current;
    return retried;
  }

  // ---- login --------------------------------------------------------------------

  login(hints?: LoginHints): Promise<CurrentUser>;
  login(token: string, provider: string, options?: { signal?: AbortSignal }): Promise<CurrentUser>;
  login(
    first?: LoginHints | string,
    provider?: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<CurrentUser> {
    if (typeof first === "string") {
      if (typeof provider !== "string" || provider === "") {
        return Promise.reject(
          new TypeError(
            'login(token, provider): provider must be "playground", "webhook:<name>" or "oidc:<name>"',
          ),
        );
      }
      return this.#exchange(first, provider, options.signal);
    }
    // Now, while the button that called login() still has the focus: the dialog gives it back.
    this.#interactions.rememberOpener();
    // One interactive login at a time; a second call joins the first.
    this.#login ??= this.#interactiveLogin(first ?? {}).finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  async #exchange(token: string, provider: string, signal?: AbortSignal): Promise<CurrentUser> {
    await this.#ready.catch(() => {});
    try {
      await this.#replaceSession(await this.#exchangeSession(token, provider, signal));
    } catch (e) {
      throw signal?.aborted ? abortError() : e;
    }
    return this.#currentUser.value;
  }

  /** RFC 8693: the provider checks the credential, the hub answers a session for this key. */
  async #exchangeSession(token: string, provider: string, signal?: AbortSignal): Promise<StoredSession> {
    return this.#api.token(
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        client_id: this.appId,
        subject_token: token,
        subject_token_type: provider.startsWith("oidc:") ? TOKEN_TYPES.idToken : TOKEN_TYPES.accessToken,
        provider,
      },
      await this.deviceKeyThumbprint(),
      signal,
    );
  }

  #methods(): LoginMethod[] {
    const methods = [...(this.#options.loginMethods ?? [])];
    if (this.#options.fetchTokens) {
      methods.push({
        type: "backend",
        id: "backend",
        displayName: "Log in",
        fetchTokens: this.#options.fetchTokens,
      });
    }
    return methods.length > 0 ? methods : [{ type: "email" }];
  }

  async #interactiveLogin(hints: LoginHints): Promise<CurrentUser> {
    await this.#ready.catch(() => {});
    const controller = new AbortController();
    this.#loginAbort = controller;
    const signal = hints.signal ? anySignal(hints.signal, controller.signal) : controller.signal;
    const ask = (request: AskRequest) => this.#interactions.ask(request, signal);
    try {
      const methods = this.#methods();
      const method = await this.#pickMethod(methods, hints.method, ask);
      let session: StoredSession;
      try {
        session = await this.#runMethod(method, hints, ask, signal);
      } catch (e) {
        if (isAbortError(e) || signal.aborted) throw abortError();
        const error = toClientError(e);
        // The person sees why, then login() rejects with the same typed error.
        await ask({
          type: "message-alert",
          title: "Could not log in",
          alerts: [alertFor(error)],
          submitLabel: "OK",
        }).catch(() => {});
        throw error;
      }
      signal.throwIfAborted();
      await this.#replaceSession(session);
      return this.#currentUser.value;
    } catch (e) {
      // Cancelled however (dialog, signal, close()): one error type, nothing kept.
      throw isAbortError(e) || signal.aborted ? abortError() : e;
    } finally {
      controller.abort();
      if (this.#loginAbort === controller) this.#loginAbort = undefined;
      this.#interactions.clear();
    }
  }

  async #pickMethod(
    methods: LoginMethod[],
    hint: string | undefined,
    ask: (r: AskRequest) => Promise<Record<string, string>>,
  ): Promise<LoginMethod> {
    const idOf = (m: LoginMethod) =>
      m.type === "email" ? "email" : m.type === "backend" ? m.id : m.provider;
    const hinted = hint === undefined ? undefined : methods.find((m) => idOf(m) === hint);
    if (hint !== undefined && !hinted) {
      throw new MeshauthClientError(
        "invalid_request",
        `login method "${hint}" is not among this client's loginMethods`,
      );
    }
    if (hinted) return hinted;
    if (methods.length === 1) return methods[0]!;
    for (;;) {
      const values = await ask({
        type: "provider",
        title: "Log in",
        options: methods.map((m) => ({
          value: idOf(m),
          displayName: m.type === "email" ? (m.displayName ?? "Email me a code") : m.displayName,
          ...(m.type !== "email" && m.iconUrl ? { iconUrl: m.iconUrl } : {}),
        })),
        submitLabel: "Continue",
        cancelLabel: "Cancel",
      });
      const chosen = methods.find((m) => idOf(m) === values["method"]);
      if (chosen) return chosen;
    }
  }

  async #runMethod(
    method: LoginMethod,
    hints: LoginHints,
    ask: (r: AskRequest) => Promise<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<StoredSession> {
    const jkt = await this.deviceKeyThumbprint();
    switch (method.type) {
      case "email":
        return emailLogin({
          api: this.#api,
          appId: this.appId,
          jkt,
          ask,
          signal,
          ...(hints.email ? { email: hints.email } : {}),
        });
      case "backend": {
        const publicJwk = await toPublicJwk((await this.deviceKey()).publicKey);
        const res = await method.fetchTokens({
          jkt,
          publicJwk,
          hub: this.hub,
          appId: this.appId,
          signal,
          prompt: (request) =>
            ask({
              type: "generic",
              title: request.title,
              fields: request.fields,
              alerts: request.alerts ?? [],
              submitLabel: request.submitLabel ?? "Continue",
              ...(request.cancelLabel !== undefined
                ? { cancelLabel: request.cancelLabel }
                : { cancelLabel: "Cancel" }),
            }),
        });
        return this.#api.toSession(res, jkt);
      }
      case "provider":
        return this.#exchangeSession(await method.getToken({ signal }), method.provider, signal);
    }
  }

  /** Stores a new session; the one it replaces (if any) is revoked on the hub. */
  async #replaceSession(session: StoredSession): Promise<void> {
    const previous = this.#session;
    await this.#save(session);
    if (previous && previous.refreshToken !== session.refreshToken) {
      void this.#revokeOrQueue(previous.refreshToken);
    }
  }

  // ---- logout -------------------------------------------------------------------

  async logout(options: LogoutOptions = {}): Promise<LogoutResult> {
    this.#interactions.rememberOpener();
    await this.#ready.catch(() => {});
    if (!options.force && this.#options.unsyncedChanges) {
      const count = await this.#options.unsyncedChanges();
      if (count > 0) {
        try {
          await this.#interactions.ask({
            type: "logout-confirmation",
            title: "Log out?",
            unsyncedChanges: count,
            alerts: [unsyncedChanges(count)],
            submitLabel: "Log out anyway",
            cancelLabel: "Stay logged in",
          });
        } finally {
          this.#interactions.clear();
        }
      }
    }
    let refreshToken: string | undefined;
    await this.store.exclusive(REFRESH_LOCK, async () => {
      refreshToken =
        (await this.store.loadSession().catch(() => undefined))?.refreshToken ?? this.#session?.refreshToken;
      await this.store.deleteSession();
      await this.#adopt(undefined);
    });
    const result = refreshToken
      ? await this.#revokeOrQueue(refreshToken)
      : { revokedOnHub: false, pending: false };
    if (options.clearLocalData) {
      await this.#options.clearLocalData?.();
      await this.store.deleteCertificate();
      await this.store.exclusive(KEY_LOCK, () => this.store.deleteKey());
      this.#keys = undefined;
    }
    return result;
  }

  async #revokeOrQueue(refreshToken: string): Promise<LogoutResult> {
    try {
      await this.#api.revoke(refreshToken);
      return { revokedOnHub: true, pending: false };
    } catch (e) {
      const error = toClientError(e);
      if (!TRANSIENT.has(error.code)) {
        this.#events.emit("error", error);
        return { revokedOnHub: false, pending: false };
      }
      await this.store.exclusive("pending-revocations", async () => {
        const pending: string[] = await this.store.loadPendingRevocations().catch(() => []);
        if (!pending.includes(refreshToken)) pending.push(refreshToken);
        await this.store.savePendingRevocations(pending.slice(-20));
      });
      return { revokedOnHub: false, pending: true };
    }
  }

  async #retryPendingRevocations(): Promise<void> {
    try {
      await this.store.exclusive("pending-revocations", async () => {
        const pending = await this.store.loadPendingRevocations();
        if (pending.length === 0) return;
        const left: string[] = [];
        for (const token of pending) {
          try {
            await this.#api.revoke(token);
          } catch (e) {
            if (TRANSIENT.has(toClientError(e).code)) left.push(token);
          }
        }
        await this.store.savePendingRevocations(left);
      });
    } catch {
      // Still offline, or the store is unreadable: try again at the next start or `online`.
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#loginAbort?.abort();
    this.#refreshTimer?.cancel();
    this.#expiringTimer?.cancel();
    this.#interactions.clear();
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    await this.store.close?.();
  }
}

/** A 401 that says the access token itself was not accepted. */
function refusedToken(response: Response): boolean {
  return (
    response.status === 401 && /error="invalid_token"/.test(response.headers.get("WWW-Authenticate") ?? "")
  );
}

export function toClientError(e: unknown): MeshauthClientError {
  if (e instanceof MeshauthClientError) return e;
  if (isAbortError(e)) return abortError((e as Error).message);
  return new MeshauthClientError("internal_error", e instanceof Error ? e.message : String(e), { cause: e });
}
