import { MeshauthError, type Permissions } from "@meshauth/core";
import type { Kysely } from "kysely";
import type { App } from "../apps/model.js";
import { hashSecret, randomToken, type SecretBox } from "../crypto/secrets.js";
import { dittoSignatureKeyBytes, verifyDittoSignature } from "../providers/webhook.js";
import type { Store } from "../storage/store.js";
import type { TokenService } from "./tokens.js";

/** Seconds a ticket can be redeemed for: long enough to reach Ditto, too short to be worth stealing. */
export const DITTO_TICKET_TTL_SECONDS = 60;
/** Longest Ditto webhook secret accepted (Ditto's are 128 bytes, base64: 172 characters). */
const MAX_SECRET_LENGTH = 1024;

interface DittoTables {
  ditto_identity_services: {
    app_id: string;
    secret_sealed: string | null;
    created_at: number;
    updated_at: number;
  };
  ditto_tickets: {
    hash: string;
    app_id: string;
    session_id: string;
    created_at: number;
    expires_at: number;
    used_at: number | null;
  };
}

/** An app's Ditto identity service setting, as the admin API shows it (the secret never). */
export interface DittoIdentityServiceSetting {
  enabled: boolean;
  /** Whether requests must carry a valid `ditto-signature`. */
  signed: boolean;
}

/** Ditto's answer to its auth webhook (both spellings of the flag, so every SDK reads it). */
export type DittoAnswer =
  | {
      authenticated: true;
      authenticate: true;
      userID: string;
      expirationSeconds: number;
      permissions: Permissions;
      clientInfo: Record<string, unknown>;
      identityServiceMetadata: Record<string, unknown>;
    }
  | { authenticated: false; authenticate: false; reason: string };

function refused(reason: string): DittoAnswer {
  return { authenticated: false, authenticate: false, reason };
}

/**
 * meshauth as a Ditto app's identity service: a device with a live session gets a
 * one-time ticket, hands it to Ditto's `loginWithToken`, and Ditto redeems it at the
 * app's auth webhook URL on the hub for the session's identity.
 */
export class DittoIdentityService {
  readonly #db: Kysely<DittoTables>;

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly tokens: TokenService,
    private readonly now: () => number,
  ) {
    this.#db = store.db as unknown as Kysely<DittoTables>;
  }

  async setting(appId: string): Promise<DittoIdentityServiceSetting> {
    const row = await this.#row(appId);
    return { enabled: row !== undefined, signed: row?.secret_sealed != null };
  }

  #row(appId: string) {
    return this.#db
      .selectFrom("ditto_identity_services")
      .selectAll()
      .where("app_id", "=", appId)
      .executeTakeFirst();
  }

  /** Turns the service on for an app; `webhookSecret` is the secret Ditto's portal shows (base64), or null. */
  async configure(appId: string, webhookSecret: unknown): Promise<DittoIdentityServiceSetting> {
    let sealed: string | null = null;
    if (webhookSecret !== undefined && webhookSecret !== null) {
      if (
        typeof webhookSecret !== "string" ||
        webhookSecret.length > MAX_SECRET_LENGTH ||
        dittoSignatureKeyBytes(webhookSecret, "base64") === null
      )
        throw new MeshauthError(
          "invalid_request",
          `webhookSecret: expected the base64 secret from Ditto's portal (at most ${MAX_SECRET_LENGTH} characters), or null`,
          { field: "webhookSecret" },
        );
      sealed = this.box.seal(Buffer.from(webhookSecret, "utf8"), `ditto-webhook:${appId}`);
    }
    const now = this.now();
    await this.#db
      .insertInto("ditto_identity_services")
      .values({ app_id: appId, secret_sealed: sealed, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column("app_id").doUpdateSet({ secret_sealed: sealed, updated_at: now }))
      .execute();
    return { enabled: true, signed: sealed !== null };
  }

  /** Turns the service off; outstanding tickets stop working. */
  async disable(appId: string): Promise<boolean> {
    await this.#db.deleteFrom("ditto_tickets").where("app_id", "=", appId).execute();
    const r = await this.#db
      .deleteFrom("ditto_identity_services")
      .where("app_id", "=", appId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** A one-time ticket for the session; only its hash is stored. */
  async issueTicket(
    app: App,
    sessionId: string | undefined,
  ): Promise<{ ticket: string; expires_in: number }> {
    if (!sessionId)
      throw new MeshauthError(
        "invalid_request",
        "a Ditto ticket needs a user's session; this token has none",
      );
    if (!(await this.#row(app.id)))
      throw new MeshauthError(
        "provider_disabled",
        `the Ditto identity service is not enabled for app ${app.name}`,
      );
    const now = this.now();
    const ticket = randomToken(32, "mdt_");
    // Expired tickets go as new ones come, so the table holds about a minute's worth.
    await this.#db.deleteFrom("ditto_tickets").where("expires_at", "<=", now).execute();
    await this.#db
      .insertInto("ditto_tickets")
      .values({
        hash: hashSecret(ticket),
        app_id: app.id,
        session_id: sessionId,
        created_at: now,
        expires_at: now + DITTO_TICKET_TTL_SECONDS,
        used_at: null,
      })
      .execute();
    return { ticket, expires_in: DITTO_TICKET_TTL_SECONDS };
  }

  /**
   * Checks the request's signature when the app has a secret. Null when it passes;
   * otherwise the refusal (which names the problem, never the secret).
   */
  async checkSignature(
    appId: string,
    header: string | undefined,
    rawBody: string,
  ): Promise<DittoAnswer | null> {
    const row = await this.#row(appId);
    if (!row) return refused("the Ditto identity service is not enabled for this app");
    if (row.secret_sealed === null) return null;
    const secret = this.box.open(row.secret_sealed, `ditto-webhook:${appId}`).toString("utf8");
    const verdict = verifyDittoSignature(header, rawBody, secret, "base64", this.now());
    return verdict.ok ? null : refused(verdict.reason);
  }

  /** Redeems a ticket once (a compare-and-set on `used_at`) for the identity of its session. */
  async redeem(app: App, ticket: string): Promise<DittoAnswer> {
    const now = this.now();
    const hash = hashSecret(ticket);
    const taken = await this.#db
      .updateTable("ditto_tickets")
      .set({ used_at: now })
      .where("hash", "=", hash)
      .where("app_id", "=", app.id)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returning(["session_id"])
      .executeTakeFirst();
    if (!taken) {
      const row = await this.#db
        .selectFrom("ditto_tickets")
        .select(["used_at", "expires_at"])
        .where("hash", "=", hash)
        .where("app_id", "=", app.id)
        .executeTakeFirst();
      if (!row) return refused("unknown ticket");
      return refused(row.used_at !== null ? "ticket already used" : "ticket expired");
    }
    const session = await this.store.sessions.findSession(taken.session_id);
    if (!session || !(await this.tokens.sessionIsLive(app.id, session.id, session.userId)))
      return refused("the session behind this ticket has ended");
    const expirationSeconds = session.expiresAt - now;
    if (expirationSeconds <= 0) return refused("the session behind this ticket has ended");
    return {
      authenticated: true,
      authenticate: true,
      userID: session.userId,
      expirationSeconds,
      // As a refresh would give them: email users follow the app's current defaults.
      permissions: session.provider === "otp" ? app.defaultPermissions : session.permissions,
      clientInfo: session.userInfo,
      identityServiceMetadata: session.identityMetadata ?? {},
    };
  }
}
