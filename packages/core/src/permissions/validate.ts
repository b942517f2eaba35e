import type { QueryNode } from "./ast.js";
import { canonicalPermissionsJson, utf8Length } from "./canonical.js";
import { checkQuery } from "./check.js";
import { PermissionQueryError, PermissionsError, type PermissionsErrorLocation } from "./errors.js";
import { type LimitOptions, limitsKey, type PermissionLimits, resolveLimits } from "./limits.js";
import { parse } from "./parser.js";
import { DIRECTIONS, type Direction, type PermissionRules, type Permissions } from "./types.js";

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `read.queriesByCollection.cars[1]`, with brackets for names that are not identifiers. */
export function rulePath(direction: Direction, collection?: string, index?: number): string {
  let path = `${direction}.queriesByCollection`;
  if (collection === undefined) return path;
  path += IDENTIFIER.test(collection) ? `.${collection}` : `[${JSON.stringify(collection)}]`;
  return index === undefined ? path : `${path}[${index}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** Defines an own, enumerable member: plain assignment of `__proto__` would set the prototype instead. */
function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: false, configurable: false });
}

function fail(location: PermissionsErrorLocation, problem: string): never {
  throw new PermissionsError(location, problem);
}

function checkRules(input: unknown, direction: Direction, limits: PermissionLimits): PermissionRules {
  if (!isRecord(input)) {
    fail(
      { path: direction, direction },
      `expected an object {everything, queriesByCollection}, found ${describe(input)}`,
    );
  }
  for (const key of Object.keys(input)) {
    if (key !== "everything" && key !== "queriesByCollection") {
      fail(
        { path: `${direction}.${key}`, direction },
        `unknown member ${JSON.stringify(key)}; rules have only everything and queriesByCollection`,
      );
    }
  }
  const everything = Object.hasOwn(input, "everything") ? input["everything"] : false;
  if (typeof everything !== "boolean") {
    fail(
      { path: `${direction}.everything`, direction },
      `expected true or false, found ${describe(everything)}`,
    );
  }
  const byCollection = Object.hasOwn(input, "queriesByCollection") ? input["queriesByCollection"] : {};
  if (!isRecord(byCollection)) {
    fail(
      { path: rulePath(direction), direction },
      `expected an object mapping collection names to lists of queries, found ${describe(byCollection)}`,
    );
  }
  const names = Object.keys(byCollection);
  if (names.length > limits.maxCollections) {
    fail(
      { path: rulePath(direction), direction },
      `lists ${names.length} collections; the limit is ${limits.maxCollections}`,
    );
  }
  const queriesByCollection: Record<string, string[]> = {};
  for (const collection of names) {
    const location = { path: rulePath(direction, collection), direction, collection };
    if (collection.length === 0) fail(location, "a collection name cannot be empty");
    if (collection.length > limits.maxCollectionNameLength) {
      fail(
        { ...location, path: `${rulePath(direction)}[${JSON.stringify(collection.slice(0, 40))}…]` },
        `collection name is ${collection.length} characters long; the limit is ${limits.maxCollectionNameLength}`,
      );
    }
    const queries = byCollection[collection];
    if (!Array.isArray(queries)) {
      const hint = typeof queries === "string" ? ` (write [${JSON.stringify(queries)}])` : "";
      fail(location, `expected a list of query strings, found ${describe(queries)}${hint}`);
    }
    if (queries.length > limits.maxQueriesPerCollection) {
      fail(location, `lists ${queries.length} queries; the limit is ${limits.maxQueriesPerCollection}`);
    }
    const copy: string[] = [];
    for (let index = 0; index < queries.length; index++) {
      const query: unknown = queries[index];
      if (typeof query !== "string") {
        const hint = typeof query === "boolean" ? ` (queries are strings: write "${query}")` : "";
        fail(
          { ...location, path: rulePath(direction, collection, index), index },
          `expected a query string, found ${describe(query)}${hint}`,
        );
      }
      copy.push(query);
    }
    define(queriesByCollection, collection, Object.freeze(copy) as string[]);
  }
  return Object.freeze({ everything, queriesByCollection: Object.freeze(queriesByCollection) });
}

/** A shape-checked permission set: a frozen copy, its canonical JSON, not yet parsed. */
export interface ShapedPermissions {
  readonly permissions: Permissions;
  readonly canonical: string;
}

/**
 * Checks the shape and the size of a permission set without parsing its queries, and
 * returns a frozen, normalized copy (`everything` defaults to false, `queriesByCollection`
 * to `{}`) with its canonical JSON.
 */
export function shapePermissions(input: unknown, limits: PermissionLimits): ShapedPermissions {
  if (!isRecord(input))
    fail({ path: "" }, `permissions must be an object {read, write}, found ${describe(input)}`);
  for (const key of Object.keys(input)) {
    if (key !== "read" && key !== "write" && key !== "remoteQuery") {
      fail(
        { path: key },
        `unknown member ${JSON.stringify(key)}; a permission set has only read, write and remoteQuery`,
      );
    }
  }
  const remoteQuery = input["remoteQuery"];
  if (remoteQuery !== undefined && typeof remoteQuery !== "boolean")
    fail({ path: "remoteQuery" }, `expected true or false, found ${describe(remoteQuery)}`);
  for (const direction of DIRECTIONS) {
    if (!Object.hasOwn(input, direction)) {
      const problem = `${direction} is missing; a permission set needs both read and write`;
      throw new PermissionsError({ path: direction, direction }, problem, problem);
    }
  }
  const permissions: Permissions = Object.freeze({
    read: checkRules(input["read"], "read", limits),
    write: checkRules(input["write"], "write", limits),
    ...(remoteQuery !== undefined ? { remoteQuery } : {}),
  });
  const canonical = canonicalPermissionsJson(permissions);
  const bytes = utf8Length(canonical);
  if (bytes > limits.maxPermissionsBytes) {
    fail(
      { path: "" },
      `permission set is ${bytes} bytes of JSON; the limit is ${limits.maxPermissionsBytes}`,
    );
  }
  return { permissions, canonical };
}

/** Every query of one direction, parsed, by collection, in the order written. */
export type ParsedRules = ReadonlyMap<string, readonly QueryNode[]>;

/** Parses and checks every query of a shape-checked set, naming the faulty one on error. */
export function parsePermissionQueries(
  permissions: Permissions,
  limits: PermissionLimits,
): Record<Direction, ParsedRules> {
  const parsed = { read: new Map(), write: new Map() } as Record<Direction, Map<string, QueryNode[]>>;
  for (const direction of DIRECTIONS) {
    const byCollection = permissions[direction].queriesByCollection;
    for (const collection of Object.keys(byCollection)) {
      const nodes = (byCollection[collection] ?? []).map((query, index) => {
        try {
          return checkQuery(parse(query, limits), query);
        } catch (error) {
          if (error instanceof PermissionQueryError) {
            throw error.at({ path: rulePath(direction, collection, index), direction, collection, index });
          }
          throw error;
        }
      });
      parsed[direction].set(collection, nodes);
    }
  }
  return parsed;
}

/**
 * Checks that `input` is a permission set the hub may issue: the shape Ditto's webhooks
 * send (`{read, write}`, each `{everything, queriesByCollection}`), every query valid, every
 * limit respected. Returns a frozen, normalized copy, which `compilePermissions` caches by
 * identity. Throws {@link PermissionsError} (code `invalid_permissions`); faults inside a
 * query are {@link PermissionQueryError}s naming e.g. `read.queriesByCollection.cars[1]`.
 */
export function validatePermissions(input: unknown, options?: LimitOptions): Permissions {
  const limits = resolveLimits(options?.limits);
  const { permissions } = shapePermissions(input, limits);
  const parsed = parsePermissionQueries(permissions, limits);
  validated.set(permissions, { limits: limitsKey(limits), parsed });
  return permissions;
}

/**
 * The parsed queries of sets returned by {@link validatePermissions}, so compiling one
 * right after validating it (what the hub does) does not parse every query twice.
 */
const validated = new WeakMap<Permissions, { limits: string; parsed: Record<Direction, ParsedRules> }>();

/** Parsed queries remembered for a set {@link validatePermissions} returned under the same limits. */
export function parsedByValidation(
  permissions: Permissions,
  limits: PermissionLimits,
): Record<Direction, ParsedRules> | undefined {
  const entry = validated.get(permissions);
  return entry !== undefined && entry.limits === limitsKey(limits) ? entry.parsed : undefined;
}
