import { generateDpopKeyPair } from "@meshauth/core";
import { MeshauthClientError } from "../errors.js";
import { isStoredSession, type StoredSession } from "../session.js";
import { serialLock } from "./serial-lock.js";
import type { ClientStore, StoredCertificate } from "./types.js";

const DB_VERSION = 1;
const ENTRIES = "entries";

export interface IndexedDbStoreOptions {
  /** Separates apps and hubs sharing an origin; createClient passes `<hub>|<appId>`. */
  scope: string;
  /** The IndexedDB database name. Default "meshauth". */
  database?: string;
}

/**
 * The browser store: one IndexedDB database per origin, entries keyed by scope. The
 * device key is kept as CryptoKey objects (structured clone), made non-extractable,
 * so no script, not even an injected one, can read the private key out. Tabs
 * coordinate with Web Locks and tell each other about new sessions on a
 * BroadcastChannel. A connection closes itself when another tab upgrades or deletes
 * the database, and the next call opens it again.
 */
export function indexedDbStore(options: IndexedDbStoreOptions): ClientStore {
  const { scope } = options;
  const dbName = options.database ?? "meshauth";
  let db: Promise<IDBDatabase> | undefined;
  let closed = false;
  const open = (): Promise<IDBDatabase> => {
    if (db) return db;
    const opening: Promise<IDBDatabase> = new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName, DB_VERSION);
      request.onupgradeneeded = () => {
        // From nothing, or (in a later version) from an older layout: add only what is missing.
        const upgrading = request.result;
        if (!upgrading.objectStoreNames.contains(ENTRIES)) upgrading.createObjectStore(ENTRIES);
      };
      request.onsuccess = () => {
        const connection = request.result;
        const forget = () => {
          if (db === opening) db = undefined;
        };
        // Another tab upgrades or deletes the database: step aside instead of blocking it;
        // the next call opens the database again.
        connection.onversionchange = () => {
          connection.close();
          forget();
        };
        // Closed by the browser (site data cleared, say).
        connection.onclose = forget;
        resolve(connection);
      };
      request.onerror = () => reject(request.error);
      // No `onblocked`: blocked means connections of other tabs have not closed yet for this
      // upgrade. This store's connections close on `versionchange`, so the request waits and
      // succeeds once they have (rejecting would leave it to open a connection nobody closes).
    }).catch((e: unknown) => {
      if (db === opening) db = undefined;
      throw e;
    });
    db = opening;
    return opening;
  };
  const transaction = async (mode: IDBTransactionMode): Promise<IDBTransaction> => {
    const opening = open();
    const connection = await opening;
    try {
      return connection.transaction(ENTRIES, mode);
    } catch (e) {
      // Closed since it was opened (close(), another tab's upgrade): open it again, once.
      if (!(e instanceof DOMException && e.name === "InvalidStateError")) throw e;
      if (db === opening) db = undefined;
      return (await open()).transaction(ENTRIES, mode);
    }
  };
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const tx = await transaction(mode);
    const request = fn(tx.objectStore(ENTRIES));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? request.error);
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  };
  const key = (name: string) => `${scope}/${name}`;
  const get = (name: string) => run<unknown>("readonly", (s) => s.get(key(name)));
  const put = (name: string, value: unknown) => run("readwrite", (s) => s.put(value, key(name)));
  const del = (name: string) => run("readwrite", (s) => s.delete(key(name)));

  const channel =
    typeof BroadcastChannel === "function" ? new BroadcastChannel(`meshauth:${scope}`) : undefined;
  // After close() the channel is gone: changes are no longer announced.
  const announce = () => {
    if (!closed) channel?.postMessage("session");
  };
  const fallbackLock = serialLock();

  /** Reads an entry that must have a shape; a wrong one is reported and kept aside on save. */
  async function load<T>(name: string, valid: (v: unknown) => v is T): Promise<T | undefined> {
    const value = await get(name);
    if (value === undefined) return undefined;
    if (!valid(value)) {
      throw new MeshauthClientError(
        "store_corrupted",
        `IndexedDB ${dbName} entry ${key(name)} is not readable; log in again to replace it`,
        { details: { path: `indexeddb:${dbName}/${key(name)}` } },
      );
    }
    return value;
  }
  /** Saves, first keeping an unreadable old value aside, so nothing is lost. */
  async function save(name: string, value: unknown, valid: (v: unknown) => boolean): Promise<void> {
    const old = await get(name);
    if (old !== undefined && !valid(old)) await put(`${name}.corrupt-${Date.now()}`, old);
    await put(name, value);
  }

  return {
    loadKey: () => load("device-key", isKeyPair),
    async createKey() {
      const keys = await generateDpopKeyPair("ES256", { extractable: false });
      await save("device-key", { privateKey: keys.privateKey, publicKey: keys.publicKey }, isKeyPair);
      return keys;
    },
    deleteKey: () => del("device-key"),

    loadSession: () => load("session", isStoredSession),
    async saveSession(session: StoredSession) {
      await save("session", session, isStoredSession);
      announce();
    },
    async deleteSession() {
      await del("session");
      announce();
    },

    loadCertificate: () => load("certificate", isStoredCertificate),
    saveCertificate: (c: StoredCertificate) => save("certificate", c, isStoredCertificate),
    deleteCertificate: () => del("certificate"),

    async loadPendingRevocations() {
      return (await load("pending-revocations", isStringArray)) ?? [];
    },
    savePendingRevocations: (tokens: string[]) => save("pending-revocations", tokens, isStringArray),

    exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
      if (!locks) return fallbackLock(name, fn);
      return locks.request(`meshauth:${scope}:${name}`, fn) as Promise<T>;
    },

    watch(onChange) {
      if (!channel || closed) return () => {};
      const listener = () => onChange();
      channel.addEventListener("message", listener);
      return () => channel.removeEventListener("message", listener);
    },

    // The store still works after close(): a later call opens the database again (and a
    // later close() closes it), but changes are no longer announced to other tabs or
    // watched for.
    async close() {
      closed = true;
      channel?.close();
      const connection = db;
      db = undefined;
      if (connection) (await connection.catch(() => undefined))?.close();
    },
  };
}

function isKeyPair(v: unknown): v is CryptoKeyPair {
  if (typeof v !== "object" || v === null) return false;
  const { privateKey, publicKey } = v as Partial<CryptoKeyPair>;
  return (
    typeof CryptoKey === "function" &&
    privateKey instanceof CryptoKey &&
    publicKey instanceof CryptoKey &&
    privateKey.type === "private" &&
    publicKey.type === "public"
  );
}

function isStoredCertificate(v: unknown): v is StoredCertificate {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c["certificate"] === "string" &&
    Array.isArray(c["caCertificates"]) &&
    typeof c["expiresAt"] === "number"
  );
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}
