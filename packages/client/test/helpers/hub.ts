// A real hub (SQLite, free port) with a real SMTP server for the SDK's tests, in Node
// and behind the browser tests alike.
import type { HubConfig } from "../../../server/src/config/config.js";
import type { Hub } from "../../../server/src/hub.js";
import { engines } from "../../../server/test/helpers/engines.js";
import { admin, createApp, startTestHub } from "../../../server/test/helpers/hub.js";
import { startSmtpServer, type TestSmtpServer } from "../../../server/test/helpers/smtp.js";
import type { TokenResponse } from "../../src/index.js";

export interface SdkTestHub {
  hub: Hub & { url: string };
  smtp: TestSmtpServer;
  app: { id: string; playgroundToken?: string; clientSecret: string };
  /** Reads the newest login code mailed to `email` (waits for it). */
  codeFor(email: string): Promise<string>;
  /** Calls the admin API; returns status and JSON. */
  admin(
    method: string,
    path: string,
    payload?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /**
   * What an app's backend does to log a user in: the custom-auth grant with its client
   * secret, naming the user and the device key (`dpop_jkt`). Answers the hub's JSON.
   */
  customAuth(claims: Record<string, string>): Promise<TokenResponse>;
  /** Whether the hub still considers a refresh token's session live (RFC 7662, with the app secret). */
  isActive(token: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function startSdkHub(
  options: { app?: Record<string, unknown>; hub?: Partial<HubConfig> } = {},
): Promise<SdkTestHub> {
  const smtp = await startSmtpServer();
  const engine = engines()[0]!;
  const hub = await startTestHub(engine, { smtpUrl: smtp.url, demoApp: false, ...options.hub });
  const app = await createApp(hub, {
    name: "notes",
    providers: ["otp", "playground", "client", "webhook", "oidc"],
    defaultPermissions: {
      read: { everything: false, queriesByCollection: { notes: ["_id.owner == 'me'"] } },
      write: { everything: false, queriesByCollection: {} },
    },
    ...options.app,
  });
  const seen = new Set<unknown>();
  return {
    hub,
    smtp,
    app,
    async codeFor(email: string) {
      const message = await smtp.waitForMessage((m) => m.to.includes(email) && !seen.has(m), 10_000);
      seen.add(message);
      const code = /\b(\d{8})\b/.exec(message.text ?? "")?.[1];
      if (!code) throw new Error(`no code in the email to ${email}: ${message.text}`);
      return code;
    },
    async admin(method, path, payload) {
      const res = await hub.http.inject({
        method: method as "GET",
        url: `/admin${path}`,
        headers: admin(hub),
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      return { status: res.statusCode, body: res.body ? (res.json() as Record<string, unknown>) : {} };
    },
    async customAuth(claims) {
      const res = await fetch(`${hub.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: app.id,
          client_secret: app.clientSecret,
          ...claims,
        }),
      });
      return (await res.json()) as TokenResponse;
    },
    async isActive(token: string) {
      const res = await fetch(`${hub.url}/introspect`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${btoa(`${app.id}:${app.clientSecret}`)}`,
        },
        body: new URLSearchParams({ token, token_type_hint: "refresh_token" }),
      });
      const body = (await res.json()) as { active?: boolean };
      return body.active === true;
    },
    async close() {
      await hub.close();
      await smtp.close();
    },
  };
}
