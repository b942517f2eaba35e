import { MeshauthError } from "../errors.js";

/**
 * Why a certificate, a CSR or a key was refused. Stable strings: clients and logs match on
 * them, so add new ones rather than renaming.
 */
export type CertificateErrorReason =
  // verifying a peer's certificate
  | "malformed"
  | "expired"
  | "not_yet_valid"
  | "wrong_app"
  | "untrusted_issuer"
  | "revoked"
  | "bad_identity"
  | "not_a_device_certificate"
  // issuing: CSRs, keys and identities handed to the CA
  | "bad_csr_signature"
  | "unsupported_key"
  | "invalid_identity"
  | "identity_too_large"
  // configuration: CA material, shared keys, trust anchors
  | "invalid_ca"
  | "invalid_shared_key"
  | "invalid_trust_anchor"
  | "invalid_revocation_list";

/** Reasons that mean "the peer's certificate was checked and refused". */
const REJECTIONS: ReadonlySet<CertificateErrorReason> = new Set<CertificateErrorReason>([
  "expired",
  "not_yet_valid",
  "wrong_app",
  "untrusted_issuer",
  "revoked",
  "bad_identity",
  "not_a_device_certificate",
]);

/**
 * A certificate, CSR or key was unusable (`invalid_certificate`) or a peer certificate was
 * refused (`certificate_rejected`). `reason` says which check failed.
 */
export class CertificateError extends MeshauthError {
  override name = "CertificateError";
  readonly reason: CertificateErrorReason;

  constructor(reason: CertificateErrorReason, message: string, details: Record<string, unknown> = {}) {
    super(REJECTIONS.has(reason) ? "certificate_rejected" : "invalid_certificate", message, {
      reason,
      ...details,
    });
    this.reason = reason;
  }
}
