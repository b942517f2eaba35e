import { type Authorizer, createAuthorizer } from "./authorizer.js";
import { type LimitOptions, limitsKey, resolveLimits } from "./limits.js";
import type { Permissions } from "./types.js";
import { parsedByValidation, parsePermissionQueries, shapePermissions } from "./validate.js";

/** How many compiled permission sets the default compiler keeps by content. */
export const PERMISSION_CACHE_SIZE = 256;

export interface CompileOptions extends LimitOptions {
  /** `false` compiles afresh, neither reading nor filling the cache. Default `true`. */
  readonly cache?: boolean;
}

export interface PermissionCompilerOptions {
  /** Most permission sets kept by content (least recently used go first). Default {@link PERMISSION_CACHE_SIZE}. */
  readonly cacheSize?: number;
}

/** Compiles permission sets, each once: see {@link compilePermissions}. */
export interface PermissionCompiler {
  compile(permissions: Permissions, options?: CompileOptions): Authorizer;
  /** Forgets every set cached by content (sets cached by identity go with their objects). */
  clear(): void;
  /** How many sets are cached by content. */
  readonly size: number;
}

/** True when nothing in the set can change any more, so caching it by identity is safe. */
function isDeepFrozen(permissions: Permissions): boolean {
  if (!Object.isFrozen(permissions)) return false;
  for (const rules of [permissions.read, permissions.write]) {
    if (typeof rules !== "object" || rules === null || !Object.isFrozen(rules)) return false;
    if (typeof rules.everything !== "boolean") return false;
    const byCollection = rules.queriesByCollection;
    if (typeof byCollection !== "object" || byCollection === null || !Object.isFrozen(byCollection))
      return false;
    for (const queries of Object.values(byCollection)) if (!Object.isFrozen(queries)) return false;
  }
  return true;
}

/**
 * A compiler with its own caches. Two levels, because identities arrive two ways:
 * - by identity, a WeakMap for objects that cannot change (sets returned by
 *   `validatePermissions`, `FULL_ACCESS`, anything deep-frozen): no work at all on a hit;
 * - by content, an LRU keyed by canonical JSON, for sets parsed afresh from each token or
 *   certificate: a hit costs one shape check and one serialization, no parsing.
 * Mutable objects are never cached by identity: a later edit would go unnoticed.
 */
export function createPermissionCompiler(options: PermissionCompilerOptions = {}): PermissionCompiler {
  const capacity = options.cacheSize ?? PERMISSION_CACHE_SIZE;
  if (!Number.isSafeInteger(capacity) || capacity < 0) {
    throw new RangeError(`cacheSize must be a non-negative integer, got ${capacity}`);
  }
  const byIdentity = new WeakMap<object, { limits: string; authorizer: Authorizer }>();
  const byContent = new Map<string, Authorizer>();

  const remember = (permissions: Permissions, limits: string, authorizer: Authorizer): void => {
    if (isDeepFrozen(permissions)) byIdentity.set(permissions, { limits, authorizer });
  };

  return {
    compile(permissions: Permissions, compileOptions?: CompileOptions): Authorizer {
      const limits = resolveLimits(compileOptions?.limits);
      const key = limitsKey(limits);
      const useCache = compileOptions?.cache !== false;
      if (useCache && typeof permissions === "object" && permissions !== null) {
        const hit = byIdentity.get(permissions);
        if (hit !== undefined && hit.limits === key) return hit.authorizer;
      }
      const shaped = shapePermissions(permissions, limits);
      const contentKey = `${key}\n${shaped.canonical}`;
      if (useCache) {
        const hit = byContent.get(contentKey);
        if (hit !== undefined) {
          byContent.delete(contentKey); // re-insert: Map order is the recency order
          byContent.set(contentKey, hit);
          remember(permissions, key, hit);
          return hit;
        }
      }
      // A deep-frozen input that passed the shape check is already normalized: keep it, so
      // `authorizer.permissions` is the very object that was validated.
      const own = isDeepFrozen(permissions) ? permissions : shaped.permissions;
      const parsed = parsedByValidation(permissions, limits) ?? parsePermissionQueries(own, limits);
      const authorizer = createAuthorizer(own, parsed);
      if (useCache) {
        if (capacity > 0) {
          byContent.set(contentKey, authorizer);
          if (byContent.size > capacity) byContent.delete(byContent.keys().next().value as string);
        }
        remember(permissions, key, authorizer);
        remember(shaped.permissions, key, authorizer);
      }
      return authorizer;
    },
    clear(): void {
      byContent.clear();
    },
    get size(): number {
      return byContent.size;
    },
  };
}

const defaultCompiler = createPermissionCompiler();

/**
 * Validates and compiles a permission set into an {@link Authorizer}. Each distinct set is
 * compiled once and cached (by identity when frozen, else by content), so calling this for
 * every connection or message is cheap. Throws `PermissionsError` / `PermissionQueryError`
 * (code `invalid_permissions`) for a set `validatePermissions` would refuse.
 */
export function compilePermissions(permissions: Permissions, options?: CompileOptions): Authorizer {
  return defaultCompiler.compile(permissions, options);
}
