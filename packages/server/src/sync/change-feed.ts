import pg from "pg";
import { SYNC_CHANNEL } from "./document-store.js";

/** Called when a collection may have changed (`seq` is its head), or with `undefined` after missed events. */
export type ChangeListener = (seq: number | undefined) => void;

/**
 * Tells this hub's streams that a collection changed. On SQLite every write goes through
 * this process, so pushes announce themselves; on PostgreSQL the feed LISTENs on
 * SYNC_CHANNEL, which every hub's pushes notify at commit, so a write through any hub
 * reaches streams on all of them. Listeners then pull with their own rules: a change
 * notification carries no document and nothing a reader may not see.
 */
export interface ChangeFeed {
  subscribe(appId: string, collection: string, listener: ChangeListener): () => void;
  /** After a commit in this process (a no-op where the database announces commits itself). */
  committed(appId: string, collection: string, seq: number): void;
  /** Resolves once events are being received (PostgreSQL: LISTEN is in place). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

class Listeners {
  readonly #byCollection = new Map<string, Set<ChangeListener>>();

  add(appId: string, collection: string, listener: ChangeListener): () => void {
    const key = `${appId}\n${collection}`;
    let set = this.#byCollection.get(key);
    if (set === undefined) {
      set = new Set();
      this.#byCollection.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#byCollection.delete(key);
    };
  }

  emit(appId: string, collection: string, seq: number | undefined): void {
    for (const l of this.#byCollection.get(`${appId}\n${collection}`) ?? []) l(seq);
  }

  emitAll(): void {
    for (const set of this.#byCollection.values()) for (const l of set) l(undefined);
  }
}

/** SQLite: one process writes, so the push itself is the event. */
export function localChangeFeed(): ChangeFeed {
  const listeners = new Listeners();
  return {
    subscribe: (a, c, l) => listeners.add(a, c, l),
    committed: (a, c, seq) => listeners.emit(a, c, seq),
    ready: async () => {},
    close: async () => {},
  };
}

/**
 * PostgreSQL: one dedicated connection per hub LISTENs. When it drops, it reconnects with
 * backoff and tells every listener it may have missed events (they pull again).
 */
export function postgresChangeFeed(url: string, log: (msg: string, err?: unknown) => void): ChangeFeed {
  const listeners = new Listeners();
  let client: pg.Client | undefined;
  let closed = false;
  let delay = 100;
  let timer: NodeJS.Timeout | undefined;
  let ready: Promise<void> | undefined;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    c.on("notification", (n) => {
      if (n.channel !== SYNC_CHANNEL || n.payload === undefined) return;
      try {
        const [appId, collection, seq] = JSON.parse(n.payload) as [string, string, number];
        listeners.emit(appId, collection, seq);
      } catch {
        // Not ours: ignore.
      }
    });
    c.on("error", (err) => {
      log("sync change feed connection failed", err);
      c.end().catch(() => {});
      if (client === c) client = undefined;
      retry();
    });
    await c.connect();
    await c.query(`LISTEN ${SYNC_CHANNEL}`);
    if (closed) {
      await c.end();
      return;
    }
    client = c;
    delay = 100;
  };

  const retry = (): void => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect()
        .then(() => listeners.emitAll()) // events may have been missed while away
        .catch((err: unknown) => {
          log("sync change feed cannot reconnect", err);
          delay = Math.min(delay * 2, 5000);
          retry();
        });
    }, delay);
    timer.unref();
  };

  const start = (): Promise<void> => {
    ready ??= connect().catch((err: unknown) => {
      log("sync change feed cannot connect", err);
      retry();
    });
    return ready;
  };

  void start();
  return {
    subscribe: (a, c, l) => listeners.add(a, c, l),
    committed: () => {},
    ready: start,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await ready;
      await client?.end().catch(() => {});
      client = undefined;
    },
  };
}
