import type { EmailSettings } from "../apps/model.js";
import type { Mailer } from "./mailer.js";
import { renderLoginEmail } from "./render.js";

/** One login code to email; the shape OtpService hands to its sender. */
export interface LoginCodeEmail {
  app: { name: string; email: EmailSettings };
  /** The recipient's address. */
  email: string;
  code: string;
  otpId: string;
  expiresInSeconds: number;
}

/**
 * Binds a mailer and the hub's default sender into the function /otp calls per code:
 * renders the app's templates and sends. Errors are the mailer's (provider_unavailable).
 */
export function loginCodeSender(
  mailer: Mailer,
  defaultFrom: string,
): (message: LoginCodeEmail) => Promise<void> {
  return async ({ app, email, code, otpId, expiresInSeconds }) => {
    const rendered = renderLoginEmail({
      app,
      email: app.email,
      code,
      otpId,
      expiresInSeconds,
      defaultFrom,
      to: email,
    });
    await mailer.send({ ...rendered, to: rendered.to ?? email, code });
  };
}

/** `no-reply@<issuer host>`: the sender for apps that set none (set `email.from` in production). */
export function defaultSenderFor(issuer: string): string {
  const host = new URL(issuer).hostname.replace(/^\[|\]$/g, "");
  // An IP literal is not a valid mail domain; fall back to localhost.
  const domain = /^[\d.]+$/.test(host) || host.includes(":") ? "localhost" : host;
  return `no-reply@${domain}`;
}
