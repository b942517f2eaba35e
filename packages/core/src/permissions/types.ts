/** What an identity may do in one direction (read or write). */
export interface PermissionRules {
  /** Grants every collection. */
  everything: boolean;
  /** Per collection, queries on the document's `_id`; a document matches if any query does. */
  queriesByCollection: Record<string, string[]>;
}

/** The permission set of an identity, in the shape Ditto's auth webhooks send. */
export interface Permissions {
  read: PermissionRules;
  write: PermissionRules;
  /**
   * Ditto's `remoteQuery` (its configurable sample webhook sends it): whether the device may
   * run queries on the server. Kept and carried with the identity; meshauth enforces nothing
   * with it, an app's own servers may.
   */
  remoteQuery?: boolean;
}

/** Which half of a permission set applies: receiving a document or sending/accepting changes to it. */
export type Direction = "read" | "write";

export const DIRECTIONS: readonly Direction[] = ["read", "write"];

/**
 * Any document the engine can judge. Only `_id` is looked at: it is immutable, so no
 * peer can gain access to a document by editing it. `_id` is a JSON scalar or a JSON
 * object (possibly nested, possibly with arrays); anything else never matches a comparison.
 */
export interface MeshDocument {
  readonly _id: unknown;
}
