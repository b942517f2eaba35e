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

/**
 * A new code was asked for too soon after the last one (the hub sends at most one per
 * 30 s to an address): said as a wait for the next code, not as another failure.
 */
export const resendLimited = (seconds: number): Alert =>
  alert("warning", "RATE_LIMITED", "You can ask for a new code in {seconds} seconds.", {
    seconds: String(seconds),
  });

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
    case "invalid_otp": {
      // The hub says how many guesses this code has left; without that, the plain message.
      const left = error.details["attempts_left"];
      if (typeof left !== "number") {
        return alert("error", "INVALID_OTP", "That code is not right. Check the email and try again.");
      }
      const message =
        left === 1
          ? "That code is not right. Check the email and try again: 1 attempt left."
          : "That code is not right. Check the email and try again: {attempts_left} attempts left.";
      return alert("error", "INVALID_OTP", message, { attempts_left: String(left) });
    }
    case "otp_expired":
      return alert("error", "OTP_EXPIRED", "That code has expired. Send yourself a new one.");
    case "too_many_attempts":
      return alert("error", "TOO_MANY_ATTEMPTS", "Too many wrong codes. Send yourself a new one.");
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
