import { MeshauthError, type RevocationList, signRevocationList } from "@meshauth/core";
import type { AppService } from "../apps/app-service.js";
import type { SigningKeys } from "../keys/signing-keys.js";
import { REVOCATION_KINDS, type RevocationKind, type RevocationState } from "../storage/revocation-store.js";
import type { Store } from "../storage/store.js";

/**
 * Revocation that reaches offline peers: an admin revokes a user, a device or a
 * session; the hub ends the matching sessions at once and publishes a signed,
 * versioned list that peers fetch, cache, pass on, and check before accepting a peer.
 */
export class Revocations {
  constructor(
    private readonly store: Store,
    private readonly apps: AppService,
    private readonly keys: SigningKeys,
    private readonly now: () => number,
  ) {}

  static kind(value: unknown): RevocationKind {
    if (!(REVOCATION_KINDS as readonly unknown[]).includes(value)) {
      throw new MeshauthError("invalid_request", `kind: expected one of ${REVOCATION_KINDS.join(", ")}`);
    }
    return value as RevocationKind;
  }

  async revoke(appRef: string, kind: RevocationKind, value: string): Promise<RevocationState> {
    if (typeof value !== "string" || value.length === 0 || value.length > 256) {
      throw new MeshauthError(
        "invalid_request",
        "value: expected the user ID, device key thumbprint, session ID or serial (1-256 characters)",
      );
    }
    const app = await this.apps.resolve(appRef);
    const now = this.now();
    if (kind === "session") {
      const session = await this.store.sessions.findSession(value);
      if (!session || session.appId !== app.id)
        throw new MeshauthError("not_found", `app ${app.name} has no session ${JSON.stringify(value)}`);
    }
    await this.store.transaction(async (tx) => {
      await tx.revocations.add(app.id, kind, value, now);
      if (kind === "user") await tx.sessions.revokeUserSessions(app.id, value, "revoked", now);
      if (kind === "device") await tx.sessions.revokeDeviceSessions(app.id, value, "revoked", now);
      if (kind === "session") await tx.sessions.revokeSession(value, "revoked", now);
    });
    return this.store.revocations.state(app.id);
  }

  async unrevoke(appRef: string, kind: RevocationKind, value: string): Promise<RevocationState> {
    const app = await this.apps.resolve(appRef);
    if (!(await this.store.revocations.remove(app.id, kind, value, this.now()))) {
      throw new MeshauthError(
        "not_found",
        `app ${app.name} has no ${kind} revocation for ${JSON.stringify(value)}`,
      );
    }
    return this.store.revocations.state(app.id);
  }

  async state(appRef: string): Promise<RevocationState> {
    return this.store.revocations.state((await this.apps.resolve(appRef)).id);
  }

  /** The app's current list as a compact JWS signed by the hub's active key (verify with /jwks.json). */
  async signedList(appId: string): Promise<string> {
    const app = await this.store.findApp(appId);
    if (!app) throw new MeshauthError("not_found", `no app with ID ${JSON.stringify(appId)}`);
    const state = await this.store.revocations.state(app.id);
    const list: RevocationList = {
      appId: app.id,
      version: state.version,
      // When the list last changed, not when it was signed: peers refuse revisions a revoked
      // author signed from this time on, and every copy of one version is the same list.
      issuedAt: state.updatedAt > 0 ? state.updatedAt : this.now(),
      entries: {
        userIds: state.entries.user,
        peerKeys: state.entries.device,
        sessionIds: state.entries.session,
        serials: state.entries.serial,
      },
    };
    const key = await this.keys.active();
    return signRevocationList(list, key.cryptoKey, key.kid);
  }
}
