import type { SendLoginCode } from "./otp-service.js";

/** Without SMTP the code goes to the log, clearly marked (the zero-configuration start). */
export function logLoginCodes(log: (obj: Record<string, unknown>, msg: string) => void): SendLoginCode {
  return async ({ app, email, code, expiresInSeconds }) => {
    log(
      { dev_mailbox: true, app: app.name, to: email, code, expires_in: expiresInSeconds },
      `DEV MAILBOX (no SMTP configured): login code for ${email}: ${code}`,
    );
  };
}
