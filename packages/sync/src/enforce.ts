import {
  type Authorizer,
  type CollectionScope,
  compilePermissions,
  MeshauthError,
  type Permissions,
  parseQuery,
  type QueryNode,
} from "@meshauth/core";
import { isStorableKey, type KeyFilter, keyFilterOf } from "./key-filter.js";
import {
  COLLECTION_NAME,
  type CollectionSpec,
  type DocumentId,
  ID_FIELD_NAME,
  type Refusal,
  SYNC_LIMITS,
  type SyncDocument,
  type SyncErrorCode,
} from "./wire.js";

/*
 * The one place that decides what an identity may read and write in a collection. The hub's
 * routes call it for every document they send or store, and peer links call the same code.
 * Only `_id` (built from the collection's ID fields) is ever looked at: it cannot change,
 * so no one gains access to a document by editing it.
 */

/** A request that a correct replica never sends: refused as a whole, nothing is stored. */
export class SyncInputError extends MeshauthError {
  override name = "SyncInputError";
  constructor(
    override readonly code: SyncErrorCode,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, details);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** RxDB's replica-local members: dropped from what is stored and compared. */
const LOCAL_MEMBERS = new Set(["_meta", "_rev", "_attachments"]);

/** UTF-8 length without allocating (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Checks a declared collection; throws `invalid_request` naming the fault. */
export function checkCollectionSpec(spec: unknown): CollectionSpec {
  if (!isRecord(spec)) throw new MeshauthError("invalid_request", "a collection is {name, idFields}");
  const { name, idFields } = spec;
  if (typeof name !== "string" || !COLLECTION_NAME.test(name))
    throw new MeshauthError(
      "invalid_request",
      "collection name: lowercase letters, digits and _, starting with a letter, at most 64",
    );
  if (!Array.isArray(idFields) || idFields.length === 0 || idFields.length > SYNC_LIMITS.maxIdFields)
    throw new MeshauthError("invalid_request", `idFields: 1 to ${SYNC_LIMITS.maxIdFields} field names`);
  for (const f of idFields) {
    if (typeof f !== "string" || !ID_FIELD_NAME.test(f))
      throw new MeshauthError(
        "invalid_request",
        `idFields: ${JSON.stringify(f)} is not a field name (a letter, then letters, digits or _)`,
      );
  }
  if (new Set(idFields).size !== idFields.length)
    throw new MeshauthError("invalid_request", "idFields: a field is listed twice");
  return Object.freeze({ name, idFields: Object.freeze([...(idFields as string[])]) });
}

/** A pushed row, checked and normalised. */
export interface CheckedRow {
  readonly id: DocumentId;
  /** The ID values in idFields order (the store's key columns). */
  readonly keys: readonly string[];
  /** One string per `_id`, for maps and primary keys. */
  readonly key: string;
  readonly assumed: SyncDocument | null;
  /** The state to store: the pushed one without replica-local members. */
  readonly doc: SyncDocument;
  /** `doc` as JSON (what is stored, and what was size-checked). */
  readonly json: string;
}

/** What to do with one checked row, given the hub's current state of that document. */
export type PushDecision =
  | { readonly kind: "write"; readonly row: CheckedRow }
  | { readonly kind: "conflict"; readonly master: SyncDocument }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** Enforcement for one identity on one collection. */
export interface CollectionEnforcer {
  readonly spec: CollectionSpec;
  readonly authorizer: Authorizer;
  /** `all`, `none` or `some` (depends on `_id`) for reads. */
  readonly readScope: CollectionScope;
  readonly writeScope: CollectionScope;
  /** The read rules as a condition over ID fields (see key-filter.ts). */
  readonly readFilter: KeyFilter;
  canRead(id: DocumentId): boolean;
  canWrite(id: DocumentId): boolean;
  /** Checks the shape of a push body; throws {@link SyncInputError}, naming the row. */
  checkPush(body: unknown): CheckedRow[];
  /** Decides one row against the hub's current state (`undefined`: never written). */
  decide(row: CheckedRow, master: SyncDocument | undefined): PushDecision;
}

/** The `_id` rules see for these ID values. */
export function idFromKeys(spec: CollectionSpec, keys: readonly string[]): DocumentId {
  if (spec.idFields.length === 1) return keys[0] as string;
  const id: Record<string, string> = {};
  spec.idFields.forEach((f, i) => {
    id[f] = keys[i] as string;
  });
  return id;
}

/** One string per `_id` (JSON of the values, so no separator can collide). */
export function keyOf(keys: readonly string[]): string {
  return keys.length === 1 ? (keys[0] as string) : JSON.stringify(keys);
}

/** The ID values of a document; throws `invalid_document` when one is missing or unusable. */
export function keysOf(spec: CollectionSpec, doc: Record<string, unknown>, where = "document"): string[] {
  return spec.idFields.map((f) => {
    const v = Object.hasOwn(doc, f) ? doc[f] : undefined;
    if (typeof v !== "string")
      throw new SyncInputError("invalid_document", `${where}: ID field ${f} must be a string`, { field: f });
    if (!isStorableKey(v))
      throw new SyncInputError(
        "invalid_document",
        `${where}: ID field ${f} holds a NUL or a lone surrogate`,
        {
          field: f,
        },
      );
    if (utf8Length(v) > SYNC_LIMITS.maxIdValueBytes)
      throw new SyncInputError(
        "invalid_document",
        `${where}: ID field ${f} is longer than ${SYNC_LIMITS.maxIdValueBytes} bytes`,
        { field: f },
      );
    return v;
  });
}

/** A document without replica-local members; throws on other `_` members or a bad `_deleted`. */
function storable(input: unknown, where: string): SyncDocument {
  if (!isRecord(input)) throw new SyncInputError("invalid_document", `${where} must be an object`);
  if (typeof input._deleted !== "boolean")
    throw new SyncInputError("invalid_document", `${where}._deleted must be true or false`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (LOCAL_MEMBERS.has(k)) continue;
    if (k.startsWith("_") && k !== "_deleted")
      throw new SyncInputError("invalid_document", `${where}: member ${k} is reserved`);
    // defineProperty: an own "__proto__" member stays data, never a prototype.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out as SyncDocument;
}

/** Deep equality of JSON values, ignoring member order (how RxDB compares states). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameJson(v, bb[i]));
  }
  const ka = Object.keys(a);
  const rb = b as Record<string, unknown>;
  if (ka.length !== Object.keys(rb).length) return false;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && sameJson(ra[k], rb[k]));
}

function describeId(id: DocumentId): string {
  return typeof id === "string" ? JSON.stringify(id) : JSON.stringify(id);
}

/** Read filters per compiled permission set and collection: parsing once per set, not per request. */
const filters = new WeakMap<Authorizer, Map<string, KeyFilter>>();

class Enforcer implements CollectionEnforcer {
  readonly readScope: CollectionScope;
  readonly writeScope: CollectionScope;
  #readFilter: KeyFilter | undefined;

  constructor(
    readonly spec: CollectionSpec,
    readonly authorizer: Authorizer,
  ) {
    this.readScope = authorizer.scope("read", spec.name);
    this.writeScope = authorizer.scope("write", spec.name);
  }

  get readFilter(): KeyFilter {
    if (this.#readFilter === undefined) {
      if (this.readScope !== "some") {
        this.#readFilter = { where: { kind: "const", value: this.readScope === "all" }, exact: true };
      } else {
        let byCollection = filters.get(this.authorizer);
        if (byCollection === undefined) {
          byCollection = new Map();
          filters.set(this.authorizer, byCollection);
        }
        const cacheKey = `${this.spec.name}\n${this.spec.idFields.join("\n")}`;
        let filter = byCollection.get(cacheKey);
        if (filter === undefined) {
          const queries = this.authorizer.permissions.read.queriesByCollection[this.spec.name] ?? [];
          // Already validated when the authorizer was compiled: parsing cannot fail here.
          const nodes: QueryNode[] = queries.map((q) => parseQuery(q));
          filter = keyFilterOf(nodes, this.spec.idFields);
          byCollection.set(cacheKey, filter);
        }
        this.#readFilter = filter;
      }
    }
    return this.#readFilter;
  }

  canRead(id: DocumentId): boolean {
    if (this.readScope !== "some") return this.readScope === "all";
    return this.authorizer.canRead(this.spec.name, { _id: id });
  }

  canWrite(id: DocumentId): boolean {
    if (this.writeScope !== "some") return this.writeScope === "all";
    return this.authorizer.canWrite(this.spec.name, { _id: id });
  }

  checkPush(body: unknown): CheckedRow[] {
    if (!isRecord(body) || !Array.isArray(body.rows))
      throw new SyncInputError(
        "invalid_document",
        "a push is {rows: [{assumedMasterState, newDocumentState}]}",
      );
    const rows: unknown[] = body.rows;
    if (rows.length > SYNC_LIMITS.maxPushRows)
      throw new SyncInputError(
        "batch_too_large",
        `a push holds at most ${SYNC_LIMITS.maxPushRows} rows, this one ${rows.length}`,
        { limit: SYNC_LIMITS.maxPushRows },
      );
    const seen = new Set<string>();
    return rows.map((raw, index) => {
      const where = `rows[${index}]`;
      if (!isRecord(raw))
        throw new SyncInputError("invalid_document", `${where} must be an object`, { index });
      try {
        const doc = storable(raw.newDocumentState, `${where}.newDocumentState`);
        const json = JSON.stringify(doc);
        if (utf8Length(json) > SYNC_LIMITS.maxDocumentBytes)
          throw new SyncInputError(
            "document_too_large",
            `${where}.newDocumentState is larger than ${SYNC_LIMITS.maxDocumentBytes} bytes of JSON`,
            { limit: SYNC_LIMITS.maxDocumentBytes },
          );
        const keys = keysOf(this.spec, doc, `${where}.newDocumentState`);
        const assumedRaw = raw.assumedMasterState ?? null;
        let assumed: SyncDocument | null = null;
        if (assumedRaw !== null) {
          assumed = storable(assumedRaw, `${where}.assumedMasterState`);
          // The assumed state's own ID fields, read leniently: any difference is an `_id` change.
          const before = this.spec.idFields.map((f) =>
            Object.hasOwn(assumed as object, f) ? assumed?.[f] : undefined,
          );
          const changed = this.spec.idFields.filter((_, i) => before[i] !== keys[i]);
          if (changed.length > 0)
            throw new SyncInputError(
              "id_changed",
              `${where}: newDocumentState changes the ID field${changed.length > 1 ? "s" : ""} ${changed.join(", ")}; _id is immutable`,
              { fields: changed },
            );
        }
        const key = keyOf(keys);
        if (seen.has(key))
          throw new SyncInputError("invalid_document", `${where}: a push holds one row per _id`);
        seen.add(key);
        return { id: idFromKeys(this.spec, keys), keys, key, assumed, doc, json };
      } catch (e) {
        if (e instanceof SyncInputError) {
          throw new SyncInputError(e.code, e.message, { ...e.details, index });
        }
        throw e;
      }
    });
  }

  decide(row: CheckedRow, master: SyncDocument | undefined): PushDecision {
    // Write permission first: a refused row must not learn the master state either.
    if (!this.canWrite(row.id)) {
      return {
        kind: "refused",
        refusal: {
          id: row.id,
          code: "write_denied",
          message: `this identity may not write ${describeId(row.id)} in ${this.spec.name}`,
        },
      };
    }
    // RxDB's rule: any master state (a tombstone too) that is not the assumed one conflicts.
    if (master !== undefined && (row.assumed === null || !sameJson(row.assumed, master))) {
      if (!this.canRead(row.id)) {
        return {
          kind: "refused",
          refusal: {
            id: row.id,
            code: "unreadable_conflict",
            message: `${describeId(row.id)} has changed on the hub in a way this identity may not read`,
          },
        };
      }
      return { kind: "conflict", master };
    }
    return { kind: "write", row };
  }
}

/**
 * Enforcement for an identity's permissions on a collection. Compiling is cached by the
 * permission set's content, so calling this per request is cheap.
 */
export function enforcerFor(permissions: Permissions, spec: CollectionSpec): CollectionEnforcer {
  return new Enforcer(spec, compilePermissions(permissions));
}
