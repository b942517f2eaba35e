import type { Permissions } from "@meshauth/core";

export const DITTO_SIGNATURE_KEYS = ["base64", "utf8"] as const;
export type DittoSignatureKey = (typeof DITTO_SIGNATURE_KEYS)[number];

/** Login methods an app can enable. */
export const PROVIDER_KINDS = ["otp", "playground", "client", "webhook", "oidc"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** How the app's login emails look; every member optional (the hub has defaults). */
export interface EmailSettings {
  /** Sender, e.g. `"My App" <login@example.com>`. */
  from?: string;
  /** Subject template; `{code}` and `{app}` are filled in. */
  subject?: string;
  /** Plain-text body template. */
  text?: string;
  /** HTML body template (values are HTML-escaped when filled in). */
  html?: string;
  /** When set, the email also carries a link `magicLinkUrl?otp_id=...&otp=...`. */
  magicLinkUrl?: string;
}

/** Maps an OIDC ID token's claims to a meshauth identity. */
export interface OidcClaimMapping {
  /** Claim that holds the user ID; default `sub`. */
  userIdClaim: string;
  /** Claims copied into the identity's userInfo. */
  userInfoClaims: string[];
  /** Static rules: a claim whose value selects a permission set (e.g. `role` → {admin: ...}). */
  permissionsClaim?: string;
  permissionsByClaimValue?: Record<string, Permissions>;
  /** Used when no rule matches. */
  defaultPermissions: Permissions;
  /** Ask this webhook provider for permissions instead of static rules. */
  permissionsWebhook?: string;
}

export interface AppSecretInfo {
  id: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface WebhookProvider {
  name: string;
  url: string;
  /** Also sign with Ditto's `ditto-signature` header so existing Ditto webhooks verify. */
  dittoSignature: boolean;
  /**
   * The `ditto-signature` HMAC key: `base64`, the secret base64-decoded (as Ditto documents;
   * a `whsec_` secret's key bytes), or `utf8`, the secret's text (registrations made before
   * this setting existed, whose webhooks were written to match).
   */
  dittoSignatureKey: DittoSignatureKey;
  timeoutMs: number;
  createdAt: number;
}

export interface OidcProvider {
  name: string;
  issuer: string;
  audience: string;
  jwksUri: string;
  mapping: OidcClaimMapping;
  createdAt: number;
}

/** An app (an OAuth client and a tenant): what the admin API returns. */
export interface App {
  id: string;
  name: string;
  providers: ProviderKind[];
  /** Seconds. */
  accessTokenTtl: number;
  sessionAbsoluteTtl: number;
  sessionIdleTtl: number;
  /**
   * Longest device certificate (seconds); a certificate also ends with its session. The
   * SDK renews while it reaches the hub, so this is how long a device works offline.
   */
  certificateTtl: number;
  /** Whether a webhook's `clientInfo` also goes into tokens and certificates (default: only the device gets it). */
  shareClientInfo: boolean;
  /** The token itself is stored hashed and only shown when made. */
  hasPlaygroundToken: boolean;
  corsOrigins: string[];
  email: EmailSettings;
  /** Permissions of users who log in by email code. */
  defaultPermissions: Permissions;
  createdAt: number;
  updatedAt: number;
}

export interface AppDetails extends App {
  secrets: AppSecretInfo[];
  webhooks: WebhookProvider[];
  oidcProviders: OidcProvider[];
}
