/**
 * What the SDK asks of the person in front of the device. `userInteraction` emits one
 * of these (or `undefined` when nothing is asked); a dialog renders it and calls
 * `onSubmit` or `onCancel`. The default dialog and any custom one see the same data.
 */

/** A stable code for every message the SDK shows; use it as a translation key. */
export type MessageCode =
  | "OTP_SENT"
  | "INVALID_EMAIL"
  | "INVALID_OTP"
  | "OTP_EXPIRED"
  | "TOO_MANY_ATTEMPTS"
  | "RATE_LIMITED"
  | "USER_DISABLED"
  | "PROVIDER_REJECTED"
  | "PROVIDER_UNAVAILABLE"
  | "ORIGIN_NOT_ALLOWED"
  | "NETWORK_ERROR"
  | "SESSION_ENDED"
  | "UNSYNCED_CHANGES"
  | "LOGGED_OUT_OFFLINE"
  | "GENERIC_ERROR";

export interface Alert {
  type: "error" | "warning" | "info";
  messageCode: MessageCode;
  /** English text with `{name}` placeholders, filled from `messageParams`. */
  message: string;
  messageParams: Readonly<Record<string, string>>;
}

export type FieldType = "text" | "email" | "otp" | "password";

export interface Field {
  type: FieldType;
  label: string;
  placeholder?: string;
  /** Value to show initially (for example the email address when asking again). */
  value?: string;
}

/** One choice of a provider picker. */
export interface LoginOption {
  /** Passed back as `values.method` when chosen. */
  value: string;
  displayName: string;
  iconUrl?: string;
}

interface InteractionBase {
  title: string;
  alerts: readonly Alert[];
  fields: Readonly<Record<string, Field>>;
  submitLabel: string;
  /** Absent when the interaction cannot be cancelled (a plain message). */
  cancelLabel?: string;
  /** Hands the entered values back to the SDK. */
  onSubmit(values: Record<string, string>): void;
  /** Cancels; `login()` then rejects with an `AbortError` and nothing is kept. */
  onCancel(): void;
}

/** Asks for an email address (`values.email`). */
export interface EmailInteraction extends InteractionBase {
  type: "email";
}

/** Asks for the code that was emailed (`values.otp`). */
export interface OtpInteraction extends InteractionBase {
  type: "otp";
  email: string;
}

/** Shows alerts only; submit acknowledges. */
export interface MessageAlertInteraction extends InteractionBase {
  type: "message-alert";
}

/** Asks whether to log out although some local changes have not been synced. */
export interface LogoutConfirmationInteraction extends InteractionBase {
  type: "logout-confirmation";
  unsyncedChanges: number;
}

/** Lets the person pick how to log in (`values.method` is the chosen option's value). */
export interface ProviderInteraction extends InteractionBase {
  type: "provider";
  options: readonly LoginOption[];
}

/** Free-form fields for an app's own multi-step login (see `fetchTokens`). */
export interface GenericInteraction extends InteractionBase {
  type: "generic";
}

export type UserInteraction =
  | EmailInteraction
  | OtpInteraction
  | MessageAlertInteraction
  | LogoutConfirmationInteraction
  | ProviderInteraction
  | GenericInteraction;

export type UserInteractionType = UserInteraction["type"];

/** Fills `{name}` placeholders of an alert's message from its parameters. */
export function resolveText(alert: Pick<Alert, "message" | "messageParams">): string {
  return alert.message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(alert.messageParams, name) ? (alert.messageParams[name] ?? "") : whole,
  );
}
