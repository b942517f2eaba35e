import type { MeshauthClientError } from "../errors.js";
import type { Alert, MessageCode } from "./types.js";

function alert(
  type: Alert["type"],
  messageCode: MessageCode,
  message: string,
  messageParams: Record<string, string> = {},
): Alert {
  return { type, messageCode, message, messageParams };
}

export const otpSent = (email: string): Alert =>
  alert("info", "OTP_SENT", "We sent a code to {email}. Enter it below.", { email });

export const invalidEmail = (email: string): Alert =>
  alert("error", "INVALID_EMAIL", "{email} is not an email address.", { email });

export const unsyncedChanges = (count: number): Alert =>
  alert(
    "warning",
    "UNSYNCED_CHANGES",
    "{count} change(s) on this device have not been synced yet and may be lost if you log out.",
    { count: String(count) },
  );

/** The alert a person sees for an error, with a stable code for translations. */
export function alertFor(error: MeshauthClientError): Alert {
  switch (error.code) {
    case "invalid_otp":
      return alert("error", "INVALID_OTP", "That code is not right. Check the email and try again.");
    case "otp_expired":
      return alert("error", "OTP_EXPIRED", "That code has expired. Ask for a new one.");
    case "too_many_attempts":
      return alert("error", "TOO_MANY_ATTEMPTS", "Too many wrong codes. Ask for a new one.");
    case "rate_limited": {
      const seconds = String(error.details["retry_after"] ?? 60);
      return alert("error", "RATE_LIMITED", "Too many attempts. Try again in {seconds} seconds.", {
        seconds,
      });
    }
    case "user_disabled":
      return alert("error", "USER_DISABLED", "This account has been disabled.");
    case "provider_rejected":
      return alert("error", "PROVIDER_REJECTED", "Login was refused: {reason}", { reason: error.message });
    case "provider_unavailable":
      return alert("error", "PROVIDER_UNAVAILABLE", "The login service is not answering. Try again later.");
    case "unauthorized_client":
      return alert("error", "ORIGIN_NOT_ALLOWED", "This app may not log in from here: {reason}", {
        reason: error.message,
      });
    case "network_error":
    case "unavailable":
      return alert("error", "NETWORK_ERROR", "Cannot reach the server. Check your connection and try again.");
    case "session_revoked":
    case "invalid_grant":
      return alert("warning", "SESSION_ENDED", "Your session has ended. Please log in again.");
    case "invalid_request":
      if (/email/i.test(error.message)) {
        return alert("error", "INVALID_EMAIL", "{reason}", { reason: error.message });
      }
      return alert("error", "GENERIC_ERROR", "{reason}", { reason: error.message });
    default:
      return alert("error", "GENERIC_ERROR", "{reason}", { reason: error.message });
  }
}
