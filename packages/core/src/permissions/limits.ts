/**
 * Bounds on permission sets. A permission set travels inside access tokens and device
 * certificates and is evaluated on every synced document, so every dimension is capped:
 * a hostile or buggy auth webhook must not be able to make the hub or a peer parse,
 * store or evaluate something unbounded.
 */
export interface PermissionLimits {
  /** Longest query text, in UTF-16 code units. */
  readonly maxQueryLength: number;
  /** Deepest nesting of parentheses and `!` in one query (`!(` counts once). */
  readonly maxQueryDepth: number;
  /** Most queries listed for one collection in one direction. */
  readonly maxQueriesPerCollection: number;
  /** Most collections listed in one direction (read or write). */
  readonly maxCollections: number;
  /** Longest collection name, in UTF-16 code units. */
  readonly maxCollectionNameLength: number;
  /** Largest permission set, in bytes of its compact UTF-8 JSON. */
  readonly maxPermissionsBytes: number;
}

export const MAX_QUERY_LENGTH = 1024;
/** Longest `regex(...)` pattern, in characters. */
export const MAX_REGEX_PATTERN_LENGTH = 256;
/** Longest string a `regex(...)` test looks at; a longer value does not match. */
export const MAX_REGEX_INPUT_LENGTH = 1024;
export const MAX_QUERY_DEPTH = 32;
export const MAX_QUERIES_PER_COLLECTION = 64;
export const MAX_COLLECTIONS = 256;
export const MAX_COLLECTION_NAME_LENGTH = 256;
/** 16 KiB: small enough for a JWT in an HTTP header and an X.509 extension. */
export const MAX_PERMISSIONS_BYTES = 16 * 1024;

export const DEFAULT_PERMISSION_LIMITS: PermissionLimits = Object.freeze({
  maxQueryLength: MAX_QUERY_LENGTH,
  maxQueryDepth: MAX_QUERY_DEPTH,
  maxQueriesPerCollection: MAX_QUERIES_PER_COLLECTION,
  maxCollections: MAX_COLLECTIONS,
  maxCollectionNameLength: MAX_COLLECTION_NAME_LENGTH,
  maxPermissionsBytes: MAX_PERMISSIONS_BYTES,
});

/** Options shared by every function that parses or validates queries. */
export interface LimitOptions {
  /** Overrides for some limits; the others keep their defaults. */
  readonly limits?: Partial<PermissionLimits>;
}

/**
 * Merges overrides with the defaults. Each limit must be a positive integer or
 * `Infinity` (to lift it, for example in tools that only print queries).
 */
export function resolveLimits(overrides: Partial<PermissionLimits> | undefined): PermissionLimits {
  if (overrides === undefined) return DEFAULT_PERMISSION_LIMITS;
  const merged: Record<keyof PermissionLimits, number> = { ...DEFAULT_PERMISSION_LIMITS };
  for (const name of Object.keys(DEFAULT_PERMISSION_LIMITS) as (keyof PermissionLimits)[]) {
    const value = overrides[name];
    if (value === undefined) continue;
    if (!(value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value > 0))) {
      throw new RangeError(`permission limit ${name} must be a positive integer or Infinity, got ${value}`);
    }
    merged[name] = value;
  }
  return Object.freeze(merged);
}

/** A stable key for a set of limits, so caches never mix sets compiled under different limits. */
export function limitsKey(limits: PermissionLimits): string {
  if (limits === DEFAULT_PERMISSION_LIMITS) return "";
  return [
    limits.maxQueryLength,
    limits.maxQueryDepth,
    limits.maxQueriesPerCollection,
    limits.maxCollections,
    limits.maxCollectionNameLength,
    limits.maxPermissionsBytes,
  ].join(",");
}
