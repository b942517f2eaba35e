/** What a refused request is told (RFC 6750 §3.1, RFC 9449 §7.1, §9). */
export type VerifyErrorCode =
  /** No credentials at all: 401 with a bare `DPoP` challenge. */
  | "missing_token"
  | "invalid_token"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "invalid_request"
  /** The hub (discovery, JWKS or revocation list) could not be reached: 503. */
  | "temporarily_unavailable";

/**
 * A refused request, ready to send: `status`, `headers` (with `WWW-Authenticate`,
 * `DPoP-Nonce` when asked for, and `Access-Control-Expose-Headers` so a browser on
 * another origin can read them) and a JSON `body` `{error, error_description}`.
 * `reason` says which check failed, for logs; the client sees only the code.
 */
export class VerifyError extends Error {
  override name = "VerifyError";
  readonly code: VerifyErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly reason: string;

  constructor(
    code: VerifyErrorCode,
    description: string,
    options: { reason?: string; headers?: Record<string, string>; status?: number } = {},
  ) {
    super(description);
    this.code = code;
    this.reason = options.reason ?? code;
    this.status =
      options.status ?? (code === "invalid_request" ? 400 : code === "temporarily_unavailable" ? 503 : 401);
    this.headers = options.headers ?? {};
  }

  /** The JSON body to send (nothing a client could learn more from than the code). */
  get body(): { error: string; error_description: string } | Record<string, never> {
    if (this.code === "missing_token") return {};
    return { error: this.code, error_description: this.message };
  }

  /** The error as a fetch `Response`. */
  toResponse(): Response {
    return new Response(JSON.stringify(this.body), {
      status: this.status,
      headers: { "content-type": "application/json", "cache-control": "no-store", ...this.headers },
    });
  }
}

/** `Access-Control-Expose-Headers` value: what `client.fetch` must read on a cross-origin 401. */
export const EXPOSED_HEADERS = "WWW-Authenticate, DPoP-Nonce";

/**
 * The `WWW-Authenticate` challenge. Descriptions are fixed strings chosen here, so
 * quoting never needs escaping (RFC 6750 §3: no `"` or `\`).
 */
export function challenge(code: VerifyErrorCode, description: string, algs: readonly string[]): string {
  const parts: string[] = [];
  if (code !== "missing_token" && code !== "temporarily_unavailable") {
    parts.push(`error="${code}"`, `error_description="${description.replace(/["\\]/g, "'")}"`);
  }
  parts.push(`algs="${algs.join(" ")}"`);
  return `DPoP ${parts.join(", ")}`;
}
