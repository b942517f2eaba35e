import { MeshauthError } from "@meshauth/core";
import type { AppService } from "../apps/app-service.js";
import type { SecurityEvent } from "../storage/guard-store.js";
import type { SessionRecord, UserRecord } from "../storage/session-store.js";
import type { Store } from "../storage/store.js";

export interface SessionView extends Omit<SessionRecord, "permissions" | "userInfo"> {
  active: boolean;
}

/** What an administrator does with users and sessions: list, revoke, disable. */
export class SessionAdmin {
  constructor(
    private readonly store: Store,
    private readonly apps: AppService,
    private readonly now: () => number,
  ) {}

  async #user(appRef: string, userId: string): Promise<UserRecord> {
    const app = await this.apps.resolve(appRef);
    const user = await this.store.sessions.findUser(app.id, userId);
    if (!user) throw new MeshauthError("not_found", `app ${app.name} has no user ${JSON.stringify(userId)}`);
    return user;
  }

  async users(appRef: string): Promise<UserRecord[]> {
    const app = await this.apps.resolve(appRef);
    return this.store.sessions.listUsers(app.id);
  }

  /** A user's sessions, newest first; each is one device (its key thumbprint is `jkt`). */
  async sessions(appRef: string, userId: string): Promise<SessionView[]> {
    const user = await this.#user(appRef, userId);
    const now = this.now();
    return (await this.store.sessions.listSessions(user.appId, user.userId)).map(
      ({ permissions: _p, userInfo: _u, ...s }) => ({
        ...s,
        active: s.revokedAt === null && now < s.expiresAt && now < s.lastUsedAt + s.idleTtl,
      }),
    );
  }

  async revokeSession(appRef: string, sessionId: string): Promise<void> {
    const app = await this.apps.resolve(appRef);
    const session = await this.store.sessions.findSession(sessionId);
    if (!session || session.appId !== app.id)
      throw new MeshauthError("not_found", `app ${app.name} has no session ${JSON.stringify(sessionId)}`);
    await this.store.sessions.revokeSession(session.id, "admin", this.now());
  }

  async revokeUserSessions(appRef: string, userId: string): Promise<string[]> {
    const user = await this.#user(appRef, userId);
    return this.store.sessions.revokeUserSessions(user.appId, user.userId, "admin", this.now());
  }

  /** A disabled user's refreshes and new logins fail at once; their sessions are also ended. */
  async setDisabled(appRef: string, userId: string, disabled: boolean): Promise<UserRecord> {
    const user = await this.#user(appRef, userId);
    const now = this.now();
    // One transaction, so a disabled user is never left unknown to offline peers.
    await this.store.transaction(async (tx) => {
      await tx.sessions.setUserDisabled(user.appId, user.userId, disabled ? now : null);
      if (disabled) {
        await tx.sessions.revokeUserSessions(user.appId, user.userId, "user_disabled", now);
        await tx.revocations.add(user.appId, "user", user.userId, now);
      } else {
        await tx.revocations.remove(user.appId, "user", user.userId, now);
      }
    });
    return (await this.store.sessions.findUser(user.appId, user.userId)) as UserRecord;
  }

  async events(appRef: string): Promise<SecurityEvent[]> {
    const app = await this.apps.resolve(appRef);
    return this.store.guards.listEvents(app.id);
  }
}
