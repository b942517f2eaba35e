import type { QueryNode } from "./ast.js";
import { checkQuery } from "./check.js";
import { compileQueryNode } from "./compile.js";
import { type LimitOptions, resolveLimits } from "./limits.js";
import { parse } from "./parser.js";
import type { MeshDocument } from "./types.js";

/**
 * Parses and checks one query: grammar, the `_id`-only rule, typing rules, length and
 * nesting limits. Throws {@link PermissionQueryError} with the position of the fault.
 */
export function parseQuery(query: string, options?: LimitOptions): QueryNode {
  if (typeof query !== "string") throw new TypeError("a permission query must be a string");
  return checkQuery(parse(query, resolveLimits(options?.limits)), query);
}

/** A single compiled query, applied to a whole document (only its own `_id` is read). */
export type DocumentPredicate = (doc: MeshDocument) => boolean;

/**
 * Compiles one query (text or a tree from {@link parseQuery}) into a document predicate.
 * For whole permission sets use `compilePermissions`, which also caches.
 */
export function compileQuery(query: string | QueryNode, options?: LimitOptions): DocumentPredicate {
  const node = typeof query === "string" ? parseQuery(query, options) : query;
  const { test } = compileQueryNode(node);
  return (doc) => {
    try {
      return test(doc);
    } catch {
      return false; // only exotic objects (throwing getters, proxies) get here: deny
    }
  };
}
