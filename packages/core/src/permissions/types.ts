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
}
