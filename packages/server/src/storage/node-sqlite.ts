/**
 * Node's built-in SQLite (`node:sqlite`, DatabaseSync) shaped as the better-sqlite3
 * database that Kysely's own SqliteDialect drives. Kysely's dialect stays in charge of
 * the query compiler, the single connection and transactions; this only adapts calls.
 */
import type { SqliteDatabase, SqliteStatement } from "kysely";

// The parts of node:sqlite used here (the project's @types/node is the Node 20 line, which
// has no node:sqlite declarations).
type Value = null | number | bigint | string | Uint8Array;
export interface StatementSync {
  all(...parameters: Value[]): unknown[];
  run(...parameters: Value[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: Value[]): IterableIterator<unknown>;
  /** Node 22.16 and later. */
  columns?(): unknown[];
}
export interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  close(): void;
}
export interface NodeSqliteModule {
  DatabaseSync: new (path: string) => DatabaseSync;
}

/** How many prepared statements are kept; the hub runs a few dozen distinct queries. */
const STATEMENT_CACHE = 256;

// Statements that return rows; used only where StatementSync.columns() is missing (< 22.16).
const READER = /^\s*(select|pragma|with|values|explain)\b|\breturning\b/i;

interface Prepared {
  statement: StatementSync;
  reader: boolean;
}

function plain(row: unknown): unknown {
  // node:sqlite rows have a null prototype; the store and its callers expect plain objects.
  return { ...(row as object) };
}

export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, Prepared>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Runs SQL with no parameters and no result (pragmas, schema). */
  exec(sql: string): void {
    this.#db.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    let prepared = this.#cache.get(sql);
    if (prepared) {
      // Map order is insertion order: move it to the young end.
      this.#cache.delete(sql);
    } else {
      const statement = this.#db.prepare(sql);
      const reader =
        typeof statement.columns === "function" ? statement.columns().length > 0 : READER.test(sql);
      prepared = { statement, reader };
      if (this.#cache.size >= STATEMENT_CACHE) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
    }
    this.#cache.set(sql, prepared);
    const { statement, reader } = prepared;
    return {
      reader,
      all: (parameters) => statement.all(...(parameters as Value[])).map(plain),
      run: (parameters) => {
        const r = statement.run(...(parameters as Value[]));
        return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
      },
      iterate: (parameters) => {
        const rows = statement.iterate(...(parameters as Value[]));
        return (function* () {
          for (const row of rows) yield plain(row);
        })();
      },
    };
  }

  close(): void {
    this.#cache.clear();
    this.#db.close();
  }
}
