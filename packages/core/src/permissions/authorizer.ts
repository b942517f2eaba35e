import type { QueryNode } from "./ast.js";
import { compileAnyOf, compileQueryNode, type DocPredicate } from "./compile.js";
import type { Direction, MeshDocument, Permissions } from "./types.js";
import { type ParsedRules, rulePath } from "./validate.js";

/** Why a decision was made. */
export type DecisionReason = "everything" | "query" | "no-rule" | "no-collection";

interface DecisionBase {
  readonly direction: Direction;
  readonly collection: string;
}

/** Allowed because the direction grants `everything`. */
export interface EverythingDecision extends DecisionBase {
  readonly allowed: true;
  readonly reason: "everything";
}

/** Allowed by a query: the first one, in the order written, that matches. */
export interface QueryDecision extends DecisionBase {
  readonly allowed: true;
  readonly reason: "query";
  /** Position of the query in `queriesByCollection[collection]`. */
  readonly index: number;
  /** The query as written. */
  readonly query: string;
}

/** Denied: the collection has queries but none matches (`no-rule`), or it is not listed (`no-collection`). */
export interface DenialDecision extends DecisionBase {
  readonly allowed: false;
  readonly reason: "no-rule" | "no-collection";
}

/** The answer of {@link Authorizer.explain}; narrow on `allowed` or `reason`. */
export type Decision = EverythingDecision | QueryDecision | DenialDecision;

/** How much of a collection a direction grants, before looking at any document. */
export type CollectionScope = "all" | "some" | "none";

/**
 * A compiled permission set. Every method is total: a document that is not an object,
 * has no `_id`, or has an `_id` of an unexpected shape is simply not matched by queries.
 */
export interface Authorizer {
  /** The validated, frozen permission set this was compiled from. */
  readonly permissions: Permissions;
  /** May the identity receive this document of this collection? */
  canRead(collection: string, doc: MeshDocument): boolean;
  /** May the identity create, change or delete this document of this collection? */
  canWrite(collection: string, doc: MeshDocument): boolean;
  can(direction: Direction, collection: string, doc: MeshDocument): boolean;
  /** The decision with its reason: which rule allowed it, or why nothing did. */
  explain(direction: Direction, collection: string, doc: MeshDocument): Decision;
  /** The readable documents, in order. */
  filterReadable<D extends MeshDocument>(collection: string, docs: Iterable<D>): D[];
  /** The writable documents, in order. */
  filterWritable<D extends MeshDocument>(collection: string, docs: Iterable<D>): D[];
  /**
   * `all` when every document of the collection is granted (`everything`, or a query that
   * is always true such as `"true"`), `none` when none can be, `some` when it depends on `_id`.
   * Lets sync subscribe to a whole collection without testing each document.
   */
  scope(direction: Direction, collection: string): CollectionScope;
}

interface CompiledRule {
  readonly index: number;
  readonly query: string;
  readonly test: DocPredicate;
}

interface CompiledCollection {
  /** Every document matches: skip reading `_id`. */
  readonly all: boolean;
  /** No document can match (no queries, or only ones that are always false). */
  readonly none: boolean;
  /** Any rule matches (merged and folded; see compile.ts). */
  readonly test: DocPredicate;
  /** The parsed queries and their texts, in order, for `explain`. */
  readonly nodes: readonly QueryNode[];
  readonly queries: readonly string[];
  /** One predicate per rule, compiled on the first `explain` only: decisions never need them. */
  rules: readonly CompiledRule[] | undefined;
}

function rulesOf(c: CompiledCollection): readonly CompiledRule[] {
  c.rules ??= c.nodes.map((node, index) => ({
    index,
    query: c.queries[index] ?? "",
    test: compileQueryNode(node).test,
  }));
  return c.rules;
}

interface CompiledDirection {
  readonly everything: boolean;
  readonly collections: ReadonlyMap<string, CompiledCollection>;
  /** The same, as parallel arrays, when there are few: a scan of `===` beats hashing then. */
  readonly names: readonly string[] | undefined;
  readonly compiled: readonly CompiledCollection[];
}

function compileDirection(
  permissions: Permissions,
  direction: Direction,
  parsed: ParsedRules,
): CompiledDirection {
  const rules = permissions[direction];
  const collections = new Map<string, CompiledCollection>();
  // With `everything`, no query is ever consulted (they were validated all the same).
  if (rules.everything !== true) {
    for (const [collection, nodes] of parsed) {
      const any = compileAnyOf(nodes);
      collections.set(collection, {
        all: any.constant === true,
        none: any.constant === false,
        test: any.test,
        nodes,
        queries: rules.queriesByCollection[collection] ?? [],
        rules: undefined,
      });
    }
  }
  const few = collections.size <= LINEAR_LOOKUP_LIMIT;
  return {
    everything: rules.everything === true,
    collections,
    names: few ? [...collections.keys()] : undefined,
    compiled: few ? [...collections.values()] : [],
  };
}

/** Up to this many collections, lookups scan an array (see CompiledDirection.names). */
const LINEAR_LOOKUP_LIMIT = 8;

function lookup(compiled: CompiledDirection, collection: string): CompiledCollection | undefined {
  const names = compiled.names;
  if (names === undefined) return compiled.collections.get(collection);
  for (let i = 0; i < names.length; i++) if (names[i] === collection) return compiled.compiled[i];
  return undefined;
}

function decide(compiled: CompiledDirection, collection: string, doc: unknown): boolean {
  if (compiled.everything) return true;
  const c = lookup(compiled, collection);
  if (c === undefined) return false;
  if (c.all) return true;
  try {
    return c.test(doc);
  } catch {
    return false; // only exotic objects (throwing getters, proxies) get here: deny
  }
}

function safely(test: DocPredicate, doc: unknown): boolean {
  try {
    return test(doc);
  } catch {
    return false;
  }
}

class CompiledAuthorizer implements Authorizer {
  readonly permissions: Permissions;
  private readonly read: CompiledDirection;
  private readonly write: CompiledDirection;

  constructor(permissions: Permissions, parsed: Record<Direction, ParsedRules>) {
    this.permissions = permissions;
    this.read = compileDirection(permissions, "read", parsed.read);
    this.write = compileDirection(permissions, "write", parsed.write);
  }

  canRead(collection: string, doc: MeshDocument): boolean {
    return decide(this.read, collection, doc);
  }

  canWrite(collection: string, doc: MeshDocument): boolean {
    return decide(this.write, collection, doc);
  }

  can(direction: Direction, collection: string, doc: MeshDocument): boolean {
    return decide(this.direction(direction), collection, doc);
  }

  explain(direction: Direction, collection: string, doc: MeshDocument): Decision {
    const compiled = this.direction(direction);
    if (compiled.everything) return { allowed: true, reason: "everything", direction, collection };
    const c = lookup(compiled, collection);
    if (c === undefined) return { allowed: false, reason: "no-collection", direction, collection };
    for (const rule of rulesOf(c)) {
      if (safely(rule.test, doc)) {
        return {
          allowed: true,
          reason: "query",
          direction,
          collection,
          index: rule.index,
          query: rule.query,
        };
      }
    }
    return { allowed: false, reason: "no-rule", direction, collection };
  }

  filterReadable<D extends MeshDocument>(collection: string, docs: Iterable<D>): D[] {
    return this.filter(this.read, collection, docs);
  }

  filterWritable<D extends MeshDocument>(collection: string, docs: Iterable<D>): D[] {
    return this.filter(this.write, collection, docs);
  }

  scope(direction: Direction, collection: string): CollectionScope {
    const compiled = this.direction(direction);
    if (compiled.everything) return "all";
    const c = lookup(compiled, collection);
    if (c === undefined) return "none";
    if (c.all) return "all";
    return c.none ? "none" : "some";
  }

  private direction(direction: Direction): CompiledDirection {
    if (direction === "read") return this.read;
    if (direction === "write") return this.write;
    throw new TypeError(`direction must be "read" or "write", got ${String(direction)}`);
  }

  private filter<D extends MeshDocument>(
    compiled: CompiledDirection,
    collection: string,
    docs: Iterable<D>,
  ): D[] {
    const out: D[] = [];
    if (compiled.everything) {
      for (const doc of docs) out.push(doc);
      return out;
    }
    const c = lookup(compiled, collection);
    if (c === undefined) return out;
    for (const doc of docs) if (c.all || safely(c.test, doc)) out.push(doc);
    return out;
  }
}

/** Builds an authorizer from a shape-checked set and its parsed queries (see cache.ts). */
export function createAuthorizer(
  permissions: Permissions,
  parsed: Record<Direction, ParsedRules>,
): Authorizer {
  return new CompiledAuthorizer(permissions, parsed);
}

/** A human sentence for a decision, for logs and debugging tools. */
export function describeDecision(decision: Decision): string {
  const subject = `${decision.direction} of a document in ${JSON.stringify(decision.collection)}`;
  switch (decision.reason) {
    case "everything":
      return `${subject} allowed: ${decision.direction}.everything is true`;
    case "query":
      return `${subject} allowed by ${rulePath(decision.direction, decision.collection, decision.index)}: ${decision.query}`;
    case "no-rule":
      return `${subject} denied: no query of ${rulePath(decision.direction, decision.collection)} matches its _id`;
    case "no-collection":
      return `${subject} denied: ${decision.direction}.everything is false and the collection is not listed`;
  }
}
