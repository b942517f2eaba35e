import type { Generated } from "kysely";

// Times are integer seconds since the epoch; JSON values are stored as text so both
// engines read them the same way.

export interface AppsTable {
  id: string;
  name: string;
  providers: string; // JSON string[]
  access_token_ttl: number;
  session_absolute_ttl: number;
  session_idle_ttl: number;
  playground_token_hash: string | null;
  cors_origins: string; // JSON string[]
  email: string; // JSON EmailSettings
  default_permissions: string; // JSON Permissions for email-login users
  /** Longest device certificate, seconds (migration 005). */
  certificate_ttl: Generated<number>;
  /** 1: a webhook's clientInfo also goes into tokens and certificates (migration 005). */
  share_client_info: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface AppSecretsTable {
  id: string;
  app_id: string;
  label: string;
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export interface AppWebhooksTable {
  app_id: string;
  name: string;
  url: string;
  secret_sealed: string;
  ditto_signature: number; // 0 | 1
  /** "base64" | "utf8": the ditto-signature HMAC key (migration 005). */
  ditto_signature_key: Generated<string>;
  timeout_ms: number;
  created_at: number;
}

export interface AppOidcProvidersTable {
  app_id: string;
  name: string;
  issuer: string;
  audience: string;
  jwks_uri: string;
  mapping: string; // JSON OidcClaimMapping
  created_at: number;
}

export interface AppAuthoritiesTable {
  app_id: string;
  certificate_pem: string;
  private_key_sealed: string;
  created_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string; // JSON
  private_key_sealed: string | null; // null once retired
  created_at: number;
  /** When it stopped signing (null while active). */
  retired_at: number | null;
  /** Until when it stays in the JWKS so tokens it signed still verify. */
  publish_until: number | null;
}

export interface HubSettingsTable {
  key: string;
  value: string;
  updated_at: Generated<number>;
}

export interface UsersTable {
  app_id: string;
  user_id: string;
  email: string | null;
  name: string | null;
  disabled_at: number | null;
  created_at: number;
  last_login_at: number;
}

export interface SessionsTable {
  id: string;
  app_id: string;
  user_id: string;
  /** Thumbprint of the device key every refresh must prove. */
  jkt: string;
  provider: string;
  permissions: string; // JSON Permissions
  user_info: string; // JSON object
  created_at: number;
  last_used_at: number;
  /** Absolute end. */
  expires_at: number;
  idle_ttl: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** End of the latest certificate issued under the session (migration 005). */
  certificate_expires_at: number | null;
  /** JSON: a webhook's identityServiceMetadata, shared with peers (migration 005). */
  identity_metadata: string | null;
}

export interface RefreshTokensTable {
  hash: string;
  session_id: string;
  generation: number;
  created_at: number;
  /** Set when rotated or superseded; presenting it again is reuse (bar the lost-response grace). */
  used_at: number | null;
  /**
   * Set (with `used_at`) when the token was never redeemed but replaced because the device
   * retried the previous token after losing the answer that carried this one.
   */
  superseded_at: number | null;
}

export interface OtpsTable {
  id: string;
  app_id: string;
  email: string;
  code_hash: string;
  attempts: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface DpopJtisTable {
  id: string;
  expires_at: number;
}

export interface RateCountersTable {
  key: string;
  window_start: number;
  count: number;
}

export interface SecurityEventsTable {
  id: string;
  app_id: string;
  kind: string;
  user_id: string | null;
  session_id: string | null;
  detail: string; // JSON
  created_at: number;
}

export interface RevocationsTable {
  app_id: string;
  kind: string; // user | device | session | serial
  value: string;
  created_at: number;
}

export interface RevocationVersionsTable {
  app_id: string;
  version: number;
  updated_at: number;
}

export interface Database {
  revocations: RevocationsTable;
  revocation_versions: RevocationVersionsTable;
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  otps: OtpsTable;
  dpop_jtis: DpopJtisTable;
  rate_counters: RateCountersTable;
  security_events: SecurityEventsTable;
  apps: AppsTable;
  app_secrets: AppSecretsTable;
  app_webhooks: AppWebhooksTable;
  app_oidc_providers: AppOidcProvidersTable;
  app_authorities: AppAuthoritiesTable;
  signing_keys: SigningKeysTable;
  hub_settings: HubSettingsTable;
}
