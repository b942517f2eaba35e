/**
 * Stable error codes shared by the hub and every client. Clients map `code` to a UI
 * alert; the hub sends it as the `error` member of a JSON error body.
 */
export type ErrorCode =
  // RFC 6749 §5.2 and RFC 7009 / RFC 8693
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_token_type"
  | "invalid_token"
  // RFC 9449
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  // meshauth
  | "clock_skew"
  | "invalid_otp"
  | "otp_expired"
  | "too_many_attempts"
  | "rate_limited"
  | "session_revoked"
  | "user_disabled"
  | "provider_rejected"
  | "provider_unavailable"
  | "provider_disabled"
  | "invalid_permissions"
  | "invalid_certificate"
  | "certificate_rejected"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "payload_too_large"
  | "unsupported_media_type"
  // sync (see @meshauth/sync wire.ts)
  | "unknown_collection"
  | "invalid_checkpoint"
  | "invalid_document"
  | "id_changed"
  | "document_too_large"
  | "batch_too_large"
  | "rules_changed"
  | "unavailable"
  | "internal_error";

/** Base class of every error meshauth raises on purpose. */
export class MeshauthError extends Error {
  override name = "MeshauthError";
  readonly code: ErrorCode;
  /** Extra machine-readable members for the error body (for example `server_time`). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
