import { MeshauthClientError } from "../errors.js";
import { type HubApi, OTP_GRANT } from "../hub-api.js";
import type { StoredSession } from "../session.js";
import { alertFor, invalidEmail, otpSent, resendLimited } from "./alerts.js";
import type { AskRequest } from "./ask.js";
import type { Alert } from "./types.js";

export interface EmailLoginContext {
  api: HubApi;
  appId: string;
  jkt: string;
  ask(request: AskRequest): Promise<Record<string, string>>;
  signal: AbortSignal;
  email?: string;
}

// Deliberately loose: the hub decides; this only catches typos before a round trip.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The email-code login: ask for the address, have the hub mail a code, ask for the
 * code. Mistakes lead back to the right question with an alert; only errors no answer
 * can fix (a disabled user, a refused origin) end the login.
 */
export async function emailLogin(ctx: EmailLoginContext): Promise<StoredSession> {
  let email = ctx.email;
  let alerts: Alert[] = [];
  /** After a code expired or was guessed wrong too often: the next step is a new code. */
  let again = false;
  for (;;) {
    if (email === undefined || alerts.length > 0) {
      const values = await ctx.ask({
        type: "email",
        title: "Log in",
        alerts,
        fields: {
          email: {
            type: "email",
            label: "Email",
            placeholder: "you@example.com",
            ...(email ? { value: email } : {}),
          },
        },
        submitLabel: again ? "Send a new code" : "Send code",
        cancelLabel: "Cancel",
      });
      email = (values["email"] ?? "").trim();
    }
    if (!EMAIL.test(email)) {
      alerts = [invalidEmail(email)];
      continue;
    }
    let otpId: string;
    try {
      ({ otpId } = await ctx.api.startOtp(email, ctx.signal));
    } catch (e) {
      const alert = alertOrThrow(e);
      const wait = (e as MeshauthClientError).details["retry_after"];
      alerts = [
        alert.messageCode === "RATE_LIMITED" && typeof wait === "number" ? resendLimited(wait) : alert,
      ];
      continue;
    }
    alerts = [];
    again = false;
    let otpAlerts: Alert[] = [otpSent(email)];
    for (;;) {
      const values = await ctx.ask({
        type: "otp",
        email,
        title: "Enter your code",
        alerts: otpAlerts,
        fields: { otp: { type: "otp", label: "Code", placeholder: "12345678" } },
        submitLabel: "Log in",
        cancelLabel: "Cancel",
      });
      try {
        return await ctx.api.token(
          {
            grant_type: OTP_GRANT,
            client_id: ctx.appId,
            otp_id: otpId,
            otp: (values["otp"] ?? "").replace(/\s+/g, ""),
          },
          ctx.jkt,
          ctx.signal,
        );
      } catch (e) {
        const alert = alertOrThrow(e);
        if (alert.messageCode === "OTP_EXPIRED" || alert.messageCode === "TOO_MANY_ATTEMPTS") {
          alerts = [alert];
          again = true;
          break; // back to the address, for a new code
        }
        otpAlerts = [alert];
      }
    }
  }
}

/** Errors a person can fix by answering again become alerts; the rest end the login. */
function alertOrThrow(e: unknown): Alert {
  if (!(e instanceof MeshauthClientError)) throw e;
  const alert = alertFor(e);
  if (["USER_DISABLED", "ORIGIN_NOT_ALLOWED"].includes(alert.messageCode)) throw e;
  if (alert.messageCode === "GENERIC_ERROR" && e.code !== "invalid_request") throw e;
  return alert;
}
