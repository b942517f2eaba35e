import type { ErrorCode } from "@meshauth/core";

/** Codes the SDK adds to the hub's own. */
export type ClientErrorCode =
  | ErrorCode
  /** The person cancelled a dialog, or the caller's AbortSignal fired. */
  | "aborted"
  /** The hub could not be reached (offline, DNS, connection refused, CORS). */
  | "network_error"
  /** The hub answered something that is not a meshauth answer. */
  | "invalid_response"
  /** The key or session store holds data that cannot be read; see `details.path`. */
  | "store_corrupted"
  /**
   * A file store refused a key or session file that its group or other users may access,
   * or that another user owns; the message names the file and the fix (`chmod 600 <path>`).
   */
  | "store_insecure"
  /** The call needs a logged-in session. */
  | "not_logged_in"
  /** Interactive login was asked for where no dialog can be shown. */
  | "no_dialog";

/**
 * Every error the SDK raises. `code` is stable (switch on it); `status` is the HTTP
 * status when the hub answered. Cancelled logins have `name === "AbortError"`, like a
 * cancelled `fetch`, so generic abort handling catches them.
 */
export class MeshauthClientError extends Error {
  override name: string;
  readonly code: ClientErrorCode;
  readonly status: number | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ClientErrorCode,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = code === "aborted" ? "AbortError" : "MeshauthClientError";
    this.code = code;
    this.status = options.status;
    this.details = options.details ?? {};
  }
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}

export function abortError(message = "login was cancelled"): MeshauthClientError {
  return new MeshauthClientError("aborted", message);
}

/** AbortSignal.any, for runtimes that lack it (Safari before 17.4). */
export function anySignal(...signals: AbortSignal[]): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any(signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}
