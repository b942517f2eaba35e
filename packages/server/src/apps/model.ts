import type { Permissions } from "@meshauth/core";

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
