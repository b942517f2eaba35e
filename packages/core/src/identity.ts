import type { Permissions } from "./permissions/types.js";

/** How a peer logged in. */
export type ProviderId =
  | "otp"
  | "playground"
  | "client"
  | "shared-key"
  | `webhook:${string}`
  | `oidc:${string}`;

/**
 * What a peer is, once authenticated. It travels as the claims of a DPoP-bound access
 * token and as an extension of the device's X.509 certificate.
 */
export interface Identity {
  appId: string;
  userId: string;
  /** RFC 7638 thumbprint of the device's public key (the DPoP key). */
  peerKey: string;
  provider: ProviderId;
  permissions: Permissions;
  /** Free JSON the provider returned (size-limited by the hub). */
  userInfo?: Record<string, unknown>;
  /**
   * Ditto's `identityServiceMetadata`: what the identity service signs into the identity
   * for peers to read (e.g. a P2P connection handler). A JSON object, at most 4096 characters.
   */
  metadata?: Record<string, unknown>;
  /** When it ends, in seconds since the epoch. */
  exp: number;
}

/** Full read and write access, as granted to playground and shared-key peers. */
export const FULL_ACCESS: Permissions = Object.freeze({
  read: Object.freeze({ everything: true, queriesByCollection: Object.freeze({}) }),
  write: Object.freeze({ everything: true, queriesByCollection: Object.freeze({}) }),
}) as Permissions;

/** No access at all. */
export const NO_ACCESS: Permissions = Object.freeze({
  read: Object.freeze({ everything: false, queriesByCollection: Object.freeze({}) }),
  write: Object.freeze({ everything: false, queriesByCollection: Object.freeze({}) }),
}) as Permissions;
