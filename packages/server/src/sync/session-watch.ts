import { type StreamEndCode, sameJson } from "@meshauth/sync";
import type { Kysely } from "kysely";
import type { Database } from "../storage/schema.js";

/** A stream bound to a session. */
export interface WatchedStream {
  readonly appId: string;
  readonly userId: string;
  /** Absent for a backend's client_credentials token (no session to end). */
  readonly sid: string | undefined;
  /** The session's stored permissions when the stream opened (JSON), to notice a change. */
  permissions?: unknown;
  end(code: StreamEndCode, message: string): void;
}

/** How often open streams' sessions are checked: streams close within this of a session ending. */
export const SESSION_CHECK_MS = 400;

/**
 * Ends streams whose session ended, by any path and on any hub: logout, revocation,
 * refresh-token reuse, an admin ending it, the user being disabled, expiry. One batched
 * query per interval for all of this process's streams reads the state every path
 * writes, so no path can be missed and other hubs' changes are seen too. It runs only
 * while streams are open.
 */
export class SessionWatch {
  readonly #streams = new Set<WatchedStream>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
    private readonly log: (msg: string, err: unknown) => void,
  ) {}

  /** Starts watching; resolves with the session's permissions snapshot taken. */
  async add(stream: WatchedStream): Promise<void> {
    if (stream.sid !== undefined) {
      const row = await this.db
        .selectFrom("sessions")
        .select("permissions")
        .where("id", "=", stream.sid)
        .executeTakeFirst();
      stream.permissions = row === undefined ? undefined : (JSON.parse(row.permissions) as unknown);
    }
    this.#streams.add(stream);
    this.#timer ??= setInterval(() => void this.#check(), SESSION_CHECK_MS);
    this.#timer.unref();
  }

  remove(stream: WatchedStream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #check(): Promise<void> {
    if (this.#running || this.#streams.size === 0) return;
    this.#running = true;
    try {
      const streams = [...this.#streams];
      const sids = [...new Set(streams.flatMap((s) => (s.sid === undefined ? [] : [s.sid])))];
      const users = [...new Set(streams.map((s) => s.userId))];
      const apps = [...new Set(streams.map((s) => s.appId))];
      const sessions =
        sids.length === 0
          ? []
          : await this.db
              .selectFrom("sessions")
              .select(["id", "app_id", "revoked_at", "expires_at", "last_used_at", "idle_ttl", "permissions"])
              .where("id", "in", sids)
              .execute();
      const disabled = await this.db
        .selectFrom("users")
        .select(["app_id", "user_id"])
        .where("app_id", "in", apps)
        .where("user_id", "in", users)
        .where("disabled_at", "is not", null)
        .execute();
      const bySid = new Map(sessions.map((s) => [s.id, s]));
      const disabledUsers = new Set(disabled.map((u) => `${u.app_id}\n${u.user_id}`));
      const now = this.now();
      for (const stream of streams) {
        if (disabledUsers.has(`${stream.appId}\n${stream.userId}`)) {
          stream.end("user_disabled", "the user was disabled");
          continue;
        }
        if (stream.sid === undefined) continue;
        const s = bySid.get(stream.sid);
        if (
          s === undefined ||
          s.app_id !== stream.appId ||
          s.revoked_at !== null ||
          now >= Number(s.expires_at) ||
          now >= Number(s.last_used_at) + Number(s.idle_ttl)
        ) {
          stream.end("session_revoked", "the session ended");
        } else if (
          stream.permissions !== undefined &&
          !sameJson(JSON.parse(s.permissions), stream.permissions)
        ) {
          stream.end("rules_changed", "the session's permissions changed: reconnect with a new access token");
        }
      }
    } catch (e) {
      this.log("sync session check failed", e);
    } finally {
      this.#running = false;
    }
  }
}
